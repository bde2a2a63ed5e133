/**
 * A minimal host for @jsquash/png's wasm (squoosh_png, built by wasm-bindgen). The package's own glue keeps one
 * instance per isolate and cannot be re-initialised, so a trapped decode leaves it poisoned; this host drops the
 * instance after any failure and instantiates a fresh one on the next call.
 */
import pngWasm from '@jsquash/png/codec/pkg/squoosh_png_bg.wasm';

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

interface PngExports {
  memory: WebAssembly.Memory;
  decode(ptr: number, len: number): number;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
}

class PngInstance {
  readonly exports: PngExports;
  // wasm-bindgen's object table: small integer handles for JS values the wasm side holds.
  private readonly objects = new Map<number, unknown>();
  private nextHandle = 1024;

  constructor(module: WebAssembly.Module) {
    const wbg: Record<string, (...args: number[]) => unknown> = {};
    const bytes = (ptr: number, len: number) => new Uint8Array(this.exports.memory.buffer, ptr >>> 0, len >>> 0);
    for (const { module: ns, name } of WebAssembly.Module.imports(module)) {
      if (ns !== 'wbg') continue;
      if (name === '__wbindgen_memory') wbg[name] = () => this.put(this.exports.memory);
      else if (name === '__wbindgen_object_drop_ref') wbg[name] = (h) => void this.objects.delete(h ?? 0);
      else if (name === '__wbindgen_throw') {
        wbg[name] = (ptr, len) => {
          throw new Error(new TextDecoder().decode(bytes(ptr ?? 0, len ?? 0)));
        };
      } else if (name.startsWith('__wbg_buffer_')) {
        wbg[name] = (h) => this.put((this.objects.get(h ?? 0) as WebAssembly.Memory).buffer);
      } else if (name.startsWith('__wbg_newwithbyteoffsetandlength_')) {
        wbg[name] = (h, off, len) => this.put(new Uint16Array(this.objects.get(h ?? 0) as ArrayBuffer, off, len));
      } else if (name.startsWith('__wbg_newwithownedu8clampedarrayandsh_')) {
        wbg[name] = (ptr = 0, len = 0, width = 0, height = 0) => {
          const data = bytes(ptr, len).slice();
          this.exports.__wbindgen_free(ptr, len, 1);
          return this.put({ data, width: width >>> 0, height: height >>> 0 } satisfies RgbaImage);
        };
      } else {
        throw new Error(`squoosh_png wants an unknown import ${name}`);
      }
    }
    const instance = new WebAssembly.Instance(module, { wbg });
    this.exports = instance.exports as unknown as PngExports;
  }

  private put(value: unknown): number {
    const handle = this.nextHandle++;
    this.objects.set(handle, value);
    return handle;
  }

  decode(png: Uint8Array): RgbaImage {
    const ptr = this.exports.__wbindgen_malloc(png.length, 1) >>> 0;
    new Uint8Array(this.exports.memory.buffer).set(png, ptr);
    const handle = this.exports.decode(ptr, png.length);
    const result = this.objects.get(handle) as RgbaImage | undefined;
    this.objects.delete(handle);
    if (!result || result.data.length !== result.width * result.height * 4) throw new Error('PNG decoder returned no image');
    return result;
  }
}

let current: PngInstance | null = null;

/** Decodes a PNG to 8-bit RGBA (grey and palette expanded, 16-bit reduced by the decoder). */
export function decodePngRgba(png: Uint8Array): RgbaImage {
  current ??= new PngInstance(pngWasm);
  try {
    return current.decode(png);
  } catch (e) {
    current = null; // a trap can leave the instance's stack and heap inconsistent
    throw e;
  }
}
