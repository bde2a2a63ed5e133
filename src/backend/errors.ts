// The one error type the backend throws, so the service can map failures to HTTP without knowing ORT.

export type BackendErrorCode =
  /** ORT's wasm runtime could not start; the isolate is poisoned until workerd recycles it (503). */
  | 'backend_unavailable'
  /** The model bytes are not a graph ORT can load (corrupt file, unsupported op or opset). */
  | 'model_invalid'
  /** The caller passed a tensor that does not match its own dims, or names the graph lacks. */
  | 'bad_input'
  /** ORT failed while running a loaded graph. */
  | 'inference_failed';

/** Suggested HTTP status per code; the service's error layer decides in the end. */
export const backendErrorStatus: Record<BackendErrorCode, number> = {
  backend_unavailable: 503,
  model_invalid: 500,
  bad_input: 400,
  inference_failed: 500,
};

export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return backendErrorStatus[this.code];
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
