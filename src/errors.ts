// The one error type of the service and its JSON envelope: every failure a client can see
// leaves through `ApiError`, so codes stay stable and handlers never build error bodies.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'too_many_inputs'
  | 'image_too_large'
  | 'unsupported_media_type'
  | 'image_decode_failed'
  | 'model_not_found'
  | 'model_unavailable'
  | 'not_found'
  | 'method_not_allowed'
  | 'internal_error';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string };
}

export function errorBody(error: ApiError): ErrorEnvelope {
  return { error: { code: error.code, message: error.message } };
}
