/** The one error type image decoding throws; the HTTP layer maps `code` to a status via IMAGE_ERROR_STATUS. */

export const IMAGE_ERROR_CODES = ['unsupported_media_type', 'image_decode_failed', 'image_too_large'] as const;
export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[number];

/** Suggested HTTP status for each code: 415 unknown format, 422 corrupt or undecodable, 413 over the pixel cap. */
export const IMAGE_ERROR_STATUS: Readonly<Record<ImageErrorCode, 413 | 415 | 422>> = Object.freeze({
  unsupported_media_type: 415,
  image_decode_failed: 422,
  image_too_large: 413,
});

export class ImageError extends Error {
  override readonly name = 'ImageError';
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get status(): 413 | 415 | 422 {
    return IMAGE_ERROR_STATUS[this.code];
  }
}

