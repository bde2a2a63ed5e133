// Image decoding and preprocessing inside workerd, pinned to PIL's output (fixtures from
// scripts/tools/make_preprocess_fixtures.py).
import { describe, expect, it } from 'vitest';
import fixtures from './fixtures/preprocess/cases.json';
import {
  centerCrop,
  decodeImage,
  ImageError,
  preprocessRgb,
  roundHalfEven,
  shortestEdgeSize,
  type ImageErrorCode,
  type ImagePreprocessConfig,
  type RgbImage,
} from '../src/preprocess/image';

interface CaseResult {
  resized_size: [number, number];
  resized_sha256: string;
  cropped_b64: string;
  pixel_values_b64?: string;
}
interface Case {
  name: string;
  pil_mode: string;
  width: number;
  height: number;
  decoded_sha256: string;
  bytes_b64: string;
  results: Record<string, CaseResult>;
}

const configs = fixtures.configs as unknown as Record<string, ImagePreprocessConfig>;
const cases = fixtures.cases as unknown as Case[];

function fromB64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

function caseBytes(name: string): Uint8Array {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no fixture ${name}`);
  return fromB64(c.bytes_b64);
}

async function expectImageError(p: Promise<unknown>, code: ImageErrorCode): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).code).toBe(code);
}

describe('decodeImage + preprocessRgb match PIL', () => {
  for (const c of cases) {
    describe(`${c.name} (${c.pil_mode})`, () => {
      it('decodes to the pixels of PIL convert("RGB")', async () => {
        const img = await decodeImage(fromB64(c.bytes_b64));
        expect([img.width, img.height]).toEqual([c.width, c.height]);
        expect(img.data.length).toBe(c.width * c.height * 3);
        expect(await sha256(img.data)).toBe(c.decoded_sha256);
      });

      for (const [cfgName, expected] of Object.entries(c.results)) {
        it(`${cfgName}: resize and crop are byte-exact, pixel_values within 1e-6`, async () => {
          const cfg = configs[cfgName];
          if (!cfg) throw new Error(`no config ${cfgName}`);
          const img = await decodeImage(fromB64(c.bytes_b64));
          const size = shortestEdgeSize(img.width, img.height, cfg.resize.shortest_edge);
          expect([size.width, size.height]).toEqual(expected.resized_size);
          const { resized, cropped, pixelValues } = preprocessRgb(img, cfg);
          expect(await sha256(resized.data)).toBe(expected.resized_sha256);
          expect(maxAbsDiff(cropped.data, fromB64(expected.cropped_b64))).toBe(0);
          expect(pixelValues.length).toBe(3 * cfg.crop.height * cfg.crop.width);
          if (expected.pixel_values_b64) {
            const bytes = fromB64(expected.pixel_values_b64);
            const want = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
            expect(maxAbsDiff(pixelValues, want)).toBeLessThanOrEqual(1e-6);
          }
        });
      }
    });
  }
});

describe('rounding follows Python', () => {
  it('round() is half to even', () => {
    expect([0.5, 1.5, 2.5, 3.5, 150.5, 16.49, 16.51].map(roundHalfEven)).toEqual([0, 2, 2, 4, 150, 16, 17]);
  });
  it('center crop larger than the image zero-pads like torchvision ((cw - w) // 2 on the left/top)', () => {
    const img: RgbImage = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i + 1) };
    const out = centerCrop(img, 4, 6); // pad left 1, right 2, top 1, bottom 1
    const px = (x: number, y: number) => Array.from(out.data.subarray((y * 6 + x) * 3, (y * 6 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(1, 1)).toEqual([1, 2, 3]);
    expect(px(3, 2)).toEqual([16, 17, 18]);
    expect(px(4, 2)).toEqual([0, 0, 0]);
    expect(px(1, 3)).toEqual([0, 0, 0]);
    // Odd margins round half to even: 97 - 64 = 33 -> top 16, not 17.
    const tall: RgbImage = { width: 1, height: 97, data: Uint8Array.from({ length: 97 * 3 }, (_, i) => Math.floor(i / 3)) };
    expect(centerCrop(tall, 64, 1).data[0]).toBe(16);
  });
  it('shortest edge: 301x128 -> 150x64 (150.5 rounds to even)', () => {
    expect(shortestEdgeSize(301, 128, 64)).toEqual({ width: 150, height: 64 });
  });
});

function pngHeader(width: number, height: number): Uint8Array {
  const b = new Uint8Array(33 + 12);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 2, 0, 0, 0], 24); // 8-bit RGB; CRC left zero: the size check comes first
  return b;
}

function jpegHeader(width: number, height: number): Uint8Array {
  // SOI, SOF0 (length 17, precision 8, height, width, 3 components), then nothing.
  const b = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 0, 0, 0, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  new DataView(b.buffer).setUint16(7, height);
  new DataView(b.buffer).setUint16(9, width);
  return b;
}

describe('decodeImage refuses bad input with a stable code', () => {
  it('garbage -> unsupported_media_type', async () => {
    await expectImageError(decodeImage(new TextEncoder().encode('GIF89a not an image')), 'unsupported_media_type');
    await expectImageError(decodeImage(new Uint8Array(0)), 'unsupported_media_type');
  });

  it('truncated PNG -> image_decode_failed', async () => {
    const png = caseBytes('rgb_160x120.png');
    for (const n of [20, 40, Math.floor(png.length / 2), png.length - 1]) {
      await expectImageError(decodeImage(png.subarray(0, n)), 'image_decode_failed');
    }
  });

  it('truncated JPEG -> image_decode_failed', async () => {
    const jpeg = caseBytes('photo_1024x768.jpg');
    for (const n of [4, 100, Math.floor(jpeg.length / 2), jpeg.length - 2, jpeg.length - 1]) {
      await expectImageError(decodeImage(jpeg.subarray(0, n)), 'image_decode_failed');
    }
  });

  it('30000x30000 in the header -> image_too_large before decoding', async () => {
    await expectImageError(decodeImage(pngHeader(30000, 30000)), 'image_too_large');
    await expectImageError(decodeImage(jpegHeader(30000, 30000)), 'image_too_large');
    await expectImageError(decodeImage(pngHeader(5000, 5000)), 'image_too_large');
    await expectImageError(decodeImage(pngHeader(100, 100), { maxPixels: 9999, maxEdge: 1000 }), 'image_too_large');
  });

  it('zero size in the header -> image_decode_failed', async () => {
    await expectImageError(decodeImage(pngHeader(0, 10)), 'image_decode_failed');
    await expectImageError(decodeImage(jpegHeader(10, 0)), 'image_decode_failed');
  });
});

// A JPEG whose header passes our checks but which mozjpeg rejects: SOF0 precision set to 7.
function corruptJpeg(good: Uint8Array): Uint8Array {
  const bad = good.slice();
  for (let i = 2; i + 4 < bad.length; i++) {
    if (bad[i] === 0xff && bad[i + 1] === 0xc0) {
      bad[i + 4] = 7;
      return bad;
    }
  }
  throw new Error('no SOF0 in fixture');
}

// A PNG whose chunk structure is intact but whose first IDAT is damaged (CRC and zlib stream).
function corruptPng(good: Uint8Array): Uint8Array {
  const bad = good.slice();
  const v = new DataView(bad.buffer);
  for (let i = 8; i + 8 < bad.length; ) {
    const len = v.getUint32(i);
    if (String.fromCharCode(...bad.subarray(i + 4, i + 8)) === 'IDAT') {
      for (let j = i + 8; j < i + 8 + Math.min(len, 64); j++) bad[j] = (bad[j] ?? 0) ^ 0x5a;
      return bad;
    }
    i += 12 + len;
  }
  throw new Error('no IDAT in fixture');
}

// Called directly, @jsquash/jpeg failed on a good JPEG after 150 of these corrupt ones and @jsquash/png after
// 1000 of the corrupt PNGs below ("memory access out of bounds"); decodeImage must keep working.
describe('failed decodes do not poison the isolate', () => {
  it('150 corrupt JPEGs, then a good one decodes exactly', async () => {
    const ROUNDS = 150;
    const good = caseBytes('grey_301x128.jpg');
    const bad = corruptJpeg(good);
    for (let i = 0; i < ROUNDS; i++) await expectImageError(decodeImage(bad), 'image_decode_failed');
    const img: RgbImage = await decodeImage(good);
    expect(await sha256(img.data)).toBe(cases.find((c) => c.name === 'grey_301x128.jpg')?.decoded_sha256);
  });

  it('1000 corrupt PNGs, then a good one decodes exactly', async () => {
    const ROUNDS = 1000;
    const good = caseBytes('rgb_160x120.png');
    const bad = corruptPng(good);
    for (let i = 0; i < ROUNDS; i++) await expectImageError(decodeImage(bad), 'image_decode_failed');
    const img = await decodeImage(good);
    expect(await sha256(img.data)).toBe(cases.find((c) => c.name === 'rgb_160x120.png')?.decoded_sha256);
  });
});
