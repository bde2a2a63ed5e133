/**
 * The image path of models/FORMAT.md: PNG/JPEG bytes -> 8-bit RGB -> shortest-edge resize (Pillow's resampler)
 * -> center crop -> rescale/normalise -> float32 NCHW. Driven by the manifest's `preprocess.image` object.
 *
 * Measured (local workerd via vitest-pool-workers, 1024x768 JPEG -> 224x224, median of 21): decodeImage ~15 ms,
 * preprocessImage ~14 ms; a run on a busier machine gave ~30 ms and ~36 ms.
 */
import { ImageError } from './imageError';
import { checkPixelLimits, DEFAULT_PIXEL_LIMITS, jpegIsComplete, readImageHeader, type PixelLimits } from './imageHeader';
import { decodeJpegRgba } from './jpegCodec';
import { decodePngRgba, type RgbaImage } from './pngCodec';
import { resizeRgb, type ResampleFilter } from './resample';

export { ImageError, IMAGE_ERROR_STATUS, type ImageErrorCode } from './imageError';
export { DEFAULT_PIXEL_LIMITS, readImageHeader, sniffFormat, type ImageFormat, type ImageHeader, type PixelLimits } from './imageHeader';
export { resizeRgb, type ResampleFilter } from './resample';

/** Packed 8-bit RGB, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The manifest's `preprocess.image` object (models/FORMAT.md). */
export interface ImagePreprocessConfig {
  resize: { shortest_edge: number; interpolation: ResampleFilter };
  crop: { height: number; width: number };
  rescale: number;
  mean: readonly [number, number, number] | readonly number[];
  std: readonly [number, number, number] | readonly number[];
  channel_order: 'RGB';
  layout: 'NCHW';
}

// Walks the chunk list so that truncated or malformed PNGs are refused without reaching the wasm decoder.
function checkPngChunks(b: Uint8Array): void {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 8;
  let sawIdat = false;
  while (i + 12 <= b.length) {
    const length = view.getUint32(i);
    const type = String.fromCharCode(b[i + 4] ?? 0, b[i + 5] ?? 0, b[i + 6] ?? 0, b[i + 7] ?? 0);
    if (length > 0x7fffffff || i + 12 + length > b.length) break;
    if (type === 'IDAT') sawIdat = true;
    if (type === 'IEND') {
      if (!sawIdat) throw new ImageError('image_decode_failed', 'PNG has no image data');
      return;
    }
    i += 12 + length;
  }
  throw new ImageError('image_decode_failed', 'PNG is truncated or its chunks are malformed');
}

function rgbaToRgb(img: RgbaImage): RgbImage {
  const n = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(n * 3);
  // Alpha is dropped without compositing, as PIL's convert("RGB") does for RGBA/LA/P+transparency.
  for (let p = 0, q = 0; p < n * 4; p += 4, q += 3) {
    out[q] = src[p] ?? 0;
    out[q + 1] = src[p + 1] ?? 0;
    out[q + 2] = src[p + 2] ?? 0;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * Decodes PNG or JPEG bytes to 8-bit RGB, pixel-identical to PIL's `Image.open(...).convert("RGB")` for 8-bit
 * PNGs (RGB, RGBA, grey, palette), 16-bit RGB PNGs and baseline/greyscale JPEGs. Known difference: a 16-bit
 * greyscale PNG keeps the high byte here, while PIL (mode I;16) clips each value to 255.
 * The size is read from the header and checked against `limits` before anything is decoded. Throws ImageError: unsupported_media_type, image_too_large, image_decode_failed.
 */
export async function decodeImage(bytes: Uint8Array, limits: PixelLimits = DEFAULT_PIXEL_LIMITS): Promise<RgbImage> {
  const header = readImageHeader(bytes);
  checkPixelLimits(header, limits);
  let rgba: RgbaImage;
  try {
    if (header.format === 'png') {
      checkPngChunks(bytes);
      rgba = decodePngRgba(bytes);
    } else {
      if (!jpegIsComplete(bytes)) throw new ImageError('image_decode_failed', 'JPEG is truncated');
      rgba = await decodeJpegRgba(bytes);
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError('image_decode_failed', `Could not decode the ${header.format.toUpperCase()} image`, { cause: e });
  }
  if (rgba.width !== header.width || rgba.height !== header.height) {
    throw new ImageError('image_decode_failed', 'Decoded size differs from the header');
  }
  return rgbaToRgb(rgba);
}

/**
 * Python's built-in round() (half to even), which the Python side uses for the resize and crop arithmetic;
 * JS Math.round rounds halves up and would differ on e.g. round(2.5) = 2.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Output size for a shortest-edge resize: short -> edge, long -> round(long * edge / short). */
export function shortestEdgeSize(width: number, height: number, edge: number): { width: number; height: number } {
  if (width <= height) return { width: edge, height: roundHalfEven((height * edge) / width) };
  return { width: roundHalfEven((width * edge) / height), height: edge };
}

/** Resizes so that the shorter edge is `edge`, with Pillow's antialiased resampling. */
export function resizeShortestEdge(img: RgbImage, edge: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  const size = shortestEdgeSize(img.width, img.height, edge);
  return { ...size, data: resizeRgb(img.data, img.width, img.height, size.width, size.height, filter) };
}

/**
 * torchvision's CenterCrop: left = round((w - cw) / 2), top = round((h - ch) / 2) with Python's round; when
 * the image is smaller than the crop it is first zero-padded by ((cw - w) // 2, (ch - h) // 2) on the left/top.
 */
export function centerCrop(img: RgbImage, cropHeight: number, cropWidth: number): RgbImage {
  const offset = (size: number, crop: number) =>
    size >= crop ? roundHalfEven((size - crop) / 2) : -Math.floor((crop - size) / 2);
  const left = offset(img.width, cropWidth);
  const top = offset(img.height, cropHeight);
  const out = new Uint8Array(cropWidth * cropHeight * 3); // zero where the crop reaches past the image
  for (let y = 0; y < cropHeight; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(cropWidth, img.width - left);
    if (x1 <= x0) continue;
    const src = (sy * img.width + left + x0) * 3;
    out.set(img.data.subarray(src, src + (x1 - x0) * 3), (y * cropWidth + x0) * 3);
  }
  return { width: cropWidth, height: cropHeight, data: out };
}

/** x = (pixel * rescale - mean[c]) / std[c], computed in float64 and stored as float32, NCHW (1 x 3 x H x W). */
export function normalizeToNchw(img: RgbImage, rescale: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = mean[c];
    const s = std[c];
    if (m === undefined || s === undefined) throw new RangeError('mean and std need 3 values');
    for (let i = 0; i < plane; i++) out[c * plane + i] = ((img.data[i * 3 + c] ?? 0) * rescale - m) / s;
  }
  return out;
}

/** Resize, crop and normalise decoded RGB per the manifest; also returns the intermediate uint8 images, for tests. */
export function preprocessRgb(
  img: RgbImage,
  cfg: ImagePreprocessConfig,
): { resized: RgbImage; cropped: RgbImage; pixelValues: Float32Array } {
  if (cfg.channel_order !== 'RGB' || cfg.layout !== 'NCHW') {
    throw new RangeError(`Unsupported channel_order/layout ${cfg.channel_order}/${cfg.layout}`);
  }
  const resized = resizeShortestEdge(img, cfg.resize.shortest_edge, cfg.resize.interpolation);
  const cropped = centerCrop(resized, cfg.crop.height, cfg.crop.width);
  return { resized, cropped, pixelValues: normalizeToNchw(cropped, cfg.rescale, cfg.mean, cfg.std) };
}

/** Decoded RGB -> pixel_values (float32, NCHW, batch of one). */
export function preprocessImage(img: RgbImage, cfg: ImagePreprocessConfig): Float32Array {
  return preprocessRgb(img, cfg).pixelValues;
}

