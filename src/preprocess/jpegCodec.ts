/**
 * @jsquash/jpeg (mozjpeg) with its wasm handed over explicitly, re-initialised after every failed decode:
 * its instance breaks after ~70 failures in one isolate ("table index is out of bounds"), see DESIGN.md.
 */
import decodeJpeg, { init } from '@jsquash/jpeg/decode.js';
import jpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import type { RgbaImage } from './pngCodec';

// The package's .d.ts omits the WebAssembly.Module overload that decode.js accepts.
const initJpeg = init as unknown as (module: WebAssembly.Module) => Promise<void>;

// mozjpeg's glue builds an ImageData, which workerd lacks; it polyfills it only when it detects a
// service-worker-style Cloudflare global, so make sure one exists for module workers too.
const g = globalThis as { ImageData?: unknown };
g.ImageData ??= class ImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
};

let ready: Promise<void> | null = null;

/** Decodes a JPEG to 8-bit RGBA (EXIF orientation is ignored, as PIL's Image.open does). */
export async function decodeJpegRgba(jpeg: Uint8Array): Promise<RgbaImage> {
  ready ??= initJpeg(jpegWasm);
  await ready;
  try {
    const img = await decodeJpeg(jpeg.slice().buffer, { preserveOrientation: false });
    return { width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
  } catch (e) {
    ready = null; // next call builds a fresh instance
    throw e;
  }
}
