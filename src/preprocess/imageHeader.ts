/**
 * Format sniffing and header-only dimension reading (PNG IHDR, JPEG SOFn), so that oversized images are
 * refused before any decoder allocates a pixel buffer.
 */
import { ImageError } from './imageError';

export type ImageFormat = 'png' | 'jpeg';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

export interface PixelLimits {
  /** Largest width * height accepted. */
  maxPixels: number;
  /** Largest single edge accepted (guards against 1 x 16M strips). */
  maxEdge: number;
}

export const DEFAULT_PIXEL_LIMITS: Readonly<PixelLimits> = Object.freeze({ maxPixels: 4096 * 4096, maxEdge: 8192 });

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function u16be(b: Uint8Array, i: number): number {
  return ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
}

function u32be(b: Uint8Array, i: number): number {
  return (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0;
}

function corrupt(message: string): ImageError {
  return new ImageError('image_decode_failed', message);
}

// Allowed bit depths per PNG colour type (PNG spec, table 11.1).
const PNG_DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function readPngHeader(b: Uint8Array): { width: number; height: number } {
  if (b.length < 33) throw corrupt('PNG is truncated before the end of IHDR');
  if (u32be(b, 8) !== 13 || String.fromCharCode(b[12] ?? 0, b[13] ?? 0, b[14] ?? 0, b[15] ?? 0) !== 'IHDR') {
    throw corrupt('PNG does not start with an IHDR chunk');
  }
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const depth = b[24] ?? 0;
  const colorType = b[25] ?? 0;
  if (!(PNG_DEPTHS[colorType] ?? []).includes(depth)) {
    throw corrupt(`PNG has an invalid bit depth ${depth} for colour type ${colorType}`);
  }
  return { width, height };
}

// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
function isSofMarker(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function readJpegHeader(b: Uint8Array): { width: number; height: number } {
  let i = 2;
  while (i < b.length) {
    if (b[i] !== 0xff) throw corrupt('JPEG marker expected');
    while (b[i] === 0xff) i++; // fill bytes
    const marker = b[i];
    i++;
    if (marker === undefined) break;
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9 || marker === 0xda) throw corrupt('JPEG has no frame header before its scan');
    if (i + 2 > b.length) break;
    const length = u16be(b, i);
    if (length < 2) throw corrupt('JPEG segment has an invalid length');
    if (isSofMarker(marker)) {
      if (length < 8 || i + 7 > b.length) break;
      return { height: u16be(b, i + 3), width: u16be(b, i + 5) };
    }
    i += length;
  }
  throw corrupt('JPEG is truncated before its frame header');
}

/**
 * True when the JPEG has an end-of-image marker after its first scan. mozjpeg fills a truncated scan with grey
 * and reports success, while PIL refuses it ("image file is truncated"), so we check before decoding.
 * Entropy-coded data stuffs 0xFF as FF 00, so FF D9 after the scan starts can only be a marker.
 */
export function jpegIsComplete(b: Uint8Array): boolean {
  let i = 2;
  let scanStart = -1;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return false;
    while (b[i] === 0xff) i++;
    const marker = b[i] ?? 0;
    i++;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) return false;
    const length = u16be(b, i);
    if (marker === 0xda) {
      scanStart = i + length;
      break;
    }
    i += length;
  }
  if (scanStart < 0) return false;
  for (let j = b.length - 2; j >= scanStart; j--) {
    if (b[j] === 0xff && b[j + 1] === 0xd9) return true;
  }
  return false;
}

/** Identifies the format and reads the dimensions without decoding; throws ImageError. */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (format === null) throw new ImageError('unsupported_media_type', 'Only PNG and JPEG images are supported');
  const { width, height } = format === 'png' ? readPngHeader(bytes) : readJpegHeader(bytes);
  if (width === 0 || height === 0) throw corrupt(`Image header gives an empty size ${width}x${height}`);
  return { format, width, height };
}

/** Throws image_too_large when the header's size is over the limits. */
export function checkPixelLimits(header: ImageHeader, limits: PixelLimits = DEFAULT_PIXEL_LIMITS): void {
  const { width, height } = header;
  if (width > limits.maxEdge || height > limits.maxEdge || width * height > limits.maxPixels) {
    throw new ImageError(
      'image_too_large',
      `Image is ${width}x${height}; the limit is ${limits.maxPixels} pixels and ${limits.maxEdge} per edge`,
    );
  }
}
