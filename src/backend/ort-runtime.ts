// Starts onnxruntime-web's WASM runtime inside workerd, once per isolate.
// workerd refuses to compile wasm from bytes at run time ("Wasm code generation disallowed by
// embedder") and ORT 1.30 has no hook that accepts an already compiled module, hence the tricks below.
import * as ort from 'onnxruntime-web/wasm';
// The bundler's CompiledWasm rule makes this a WebAssembly.Module compiled at deploy/upload time.
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { BackendError, describe } from './errors';
import { IDENTITY_MODEL } from './identity-model';

export { ort };

// Stands in for the wasm bytes. With env.wasm.wasmBinary set, ORT neither fetches the wasm nor needs
// the script URL (workerd has no import.meta.url: "cannot determine the script source URL"), and its
// Emscripten glue passes these bytes to WebAssembly.instantiate, where we swap in the real module.
// An ArrayBuffer (not a Uint8Array): the glue wraps it in a new Uint8Array view over the same buffer,
// so we can recognise it by identity.
const PLACEHOLDER = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]).buffer;

let ready: Promise<void> | undefined;
let wasmMemory: WebAssembly.Memory | undefined;

/**
 * Starts ORT's wasm runtime; idempotent, and concurrent callers share one attempt.
 * ORT remembers a failed start ("previous call to 'initWasm()' failed") and never retries, so a
 * failure is kept too: every later call rejects with the same backend_unavailable error (HTTP 503).
 */
export function initOrtRuntime(): Promise<void> {
  ready ??= start().catch((cause: unknown) => {
    throw new BackendError('backend_unavailable', `ONNX Runtime failed to start: ${describe(cause)}`, { cause });
  });
  return ready;
}

/** Bytes of ORT's wasm linear memory (what counts against the isolate's 128 MB); 0 before init. */
export function wasmMemoryBytes(): number {
  return wasmMemory?.buffer.byteLength ?? 0;
}

async function start(): Promise<void> {
  // Workers have no wasm threads (no cross-origin isolation, no Worker); one thread also keeps ORT
  // from trying to spawn its proxy worker from import.meta.url.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = PLACEHOLDER;
  ort.env.logLevel = 'error';

  // WebAssembly's functions are typed as read-only namespace members; at run time they are plain
  // writable properties.
  type Instantiate = (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;
  const wasm = WebAssembly as unknown as { instantiate: Instantiate };
  const original = wasm.instantiate;
  // Only the call carrying our placeholder is redirected; any other caller in the isolate (image
  // decoders) goes straight to the real function.
  const patched: Instantiate = (source, imports) => {
    if (isPlaceholder(source)) return instantiateImported(imports ?? {});
    return original.call(WebAssembly, source, imports);
  };
  wasm.instantiate = patched;
  try {
    // ORT has no public "init" call: the first session creation starts the runtime. A one-node
    // Identity graph does that without a real model, so a later model error is never mistaken for
    // a runtime failure.
    const session = await ort.InferenceSession.create(IDENTITY_MODEL, { executionProviders: ['wasm'] });
    await session.release();
  } finally {
    wasm.instantiate = original;
  }
  if (!wasmMemory) throw new Error('ORT started without the imported wasm module; its glue has changed');
}

function isPlaceholder(source: unknown): boolean {
  if (source === PLACEHOLDER) return true;
  return ArrayBuffer.isView(source) && source.buffer === PLACEHOLDER;
}

async function instantiateImported(
  imports: WebAssembly.Imports,
): Promise<{ instance: WebAssembly.Instance; module: WebAssembly.Module }> {
  // instantiate(Module) resolves to an Instance, but the glue called instantiate(bytes) and expects
  // { instance, module }.
  const instance = await WebAssembly.instantiate(ortWasmModule, imports);
  wasmMemory = findMemory(imports, instance);
  return { instance, module: ortWasmModule };
}

// The threaded build imports its memory (created by the glue); other builds export it. Look in both.
function findMemory(imports: WebAssembly.Imports, instance: WebAssembly.Instance): WebAssembly.Memory | undefined {
  for (const ns of Object.values(imports)) {
    for (const value of Object.values(ns)) if (value instanceof WebAssembly.Memory) return value;
  }
  for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) return value;
  return undefined;
}
