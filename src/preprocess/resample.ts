/**
 * A port of Pillow's antialiased separable resampler (libImaging/Resample.c, 8 bits per channel) so that
 * `resizeRgb` gives exactly the bytes of PIL's `Image.resize((w, h), BICUBIC | BILINEAR)` on an RGB image.
 */

export type ResampleFilter = 'bicubic' | 'bilinear';

interface Filter {
  fn: (x: number) => number;
  support: number;
}

// Pillow's bicubic uses a = -0.5.
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function bilinear(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

const FILTERS: Readonly<Record<ResampleFilter, Filter>> = {
  bicubic: { fn: bicubic, support: 2 },
  bilinear: { fn: bilinear, support: 1 },
};

// 32 - 8 - 2: 8 bits for the result, 2 for overflow and sign (as in Pillow).
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  ksize: number;
  /** Per output position: first input index, number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, ksize per output position. */
  kk: Int32Array;
}

// precompute_coeffs + normalize_coeffs_8bpc. Doubles in JS are C doubles, and Math.trunc is C's (int) cast.
function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let ww = 0;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? (k[x] ?? 0) / ww : (k[x] ?? 0);
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

// Pillow's clip8: arithmetic shift, then clamp to 0..255. The sums fit in int32 by construction.
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resizes packed RGB (3 bytes per pixel) like Pillow: horizontal pass, 8-bit rounding, vertical pass. */
export function resizeRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  filterName: ResampleFilter = 'bicubic',
): Uint8Array {
  if (src.length !== width * height * 3) throw new RangeError('resizeRgb: src length is not width * height * 3');
  if (!(outWidth >= 1 && outHeight >= 1)) throw new RangeError('resizeRgb: output size must be at least 1x1');
  const filter = FILTERS[filterName];
  if (outWidth === width && outHeight === height) return src.slice();

  const vert = precomputeCoeffs(height, outHeight, filter);
  // Rows of the source the vertical pass reads.
  const yFirst = vert.bounds[0] ?? 0;
  const yLast = (vert.bounds[outHeight * 2 - 2] ?? 0) + (vert.bounds[outHeight * 2 - 1] ?? 0);

  let mid = src;
  let midWidth = width;
  let rowOffset = 0; // first source row held in `mid`
  if (outWidth !== width) {
    const { ksize, bounds, kk } = precomputeCoeffs(width, outWidth, filter);
    const rows = yLast - yFirst;
    mid = new Uint8Array(outWidth * rows * 3);
    for (let yy = 0; yy < rows; yy++) {
      const inRow = (yy + yFirst) * width * 3;
      const outRow = yy * outWidth * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2] ?? 0;
        const xmax = bounds[xx * 2 + 1] ?? 0;
        const kOff = xx * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = inRow + xmin * 3;
        for (let x = 0; x < xmax; x++, p += 3) {
          const w = kk[kOff + x]!;
          s0 = (s0 + Math.imul(src[p]!, w)) | 0;
          s1 = (s1 + Math.imul(src[p + 1]!, w)) | 0;
          s2 = (s2 + Math.imul(src[p + 2]!, w)) | 0;
        }
        const o = outRow + xx * 3;
        mid[o] = clip8(s0);
        mid[o + 1] = clip8(s1);
        mid[o + 2] = clip8(s2);
      }
    }
    midWidth = outWidth;
    rowOffset = yFirst;
  }
  if (outHeight === height) return mid;

  const { ksize, bounds, kk } = vert;
  const out = new Uint8Array(outWidth * outHeight * 3);
  const stride = midWidth * 3;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = (bounds[yy * 2] ?? 0) - rowOffset;
    const ymax = bounds[yy * 2 + 1] ?? 0;
    const kOff = yy * ksize;
    const outRow = yy * stride;
    for (let xx = 0; xx < stride; xx += 3) {
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = ymin * stride + xx;
      for (let y = 0; y < ymax; y++, p += stride) {
        const w = kk[kOff + y]!;
        s0 = (s0 + Math.imul(mid[p]!, w)) | 0;
        s1 = (s1 + Math.imul(mid[p + 1]!, w)) | 0;
        s2 = (s2 + Math.imul(mid[p + 2]!, w)) | 0;
      }
      out[outRow + xx] = clip8(s0);
      out[outRow + xx + 1] = clip8(s1);
      out[outRow + xx + 2] = clip8(s2);
    }
  }
  return out;
}
