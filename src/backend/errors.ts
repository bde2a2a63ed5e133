// The one error type the backend throws. The registry turns load failures into 503 model_unavailable;
// a failed run is a bug on our side, so it surfaces as a 500.

export type BackendErrorCode =
  /** ORT's wasm runtime could not start; the isolate is poisoned until workerd recycles it (503). */
  | 'backend_unavailable'
  /** The model bytes are not a graph ORT can load (corrupt file, unsupported op or opset). */
  | 'model_invalid'
  /** The caller passed a tensor that does not match its own dims, or names the graph lacks. */
  | 'bad_input'
  /** ORT failed while running a loaded graph. */
  | 'inference_failed';

export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
