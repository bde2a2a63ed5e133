// Request limits: generous for real use, small enough that one request cannot exhaust an isolate
// (128 MB, of which ORT's wasm memory takes most).
export const LIMITS = {
  /** Whole request body. Images arrive base64-encoded inside JSON. */
  maxBodyBytes: 8 * 1024 * 1024,
  /** One decoded image file. */
  maxImageBytes: 4 * 1024 * 1024,
  /** Inputs in one /v1/embeddings request, and in each side of /v1/similarity. */
  maxInputs: 64,
  /** Characters in one text (the tokenizer truncates to the context length anyway). */
  maxTextChars: 4096,
  maxLabels: 256,
  maxTemplates: 16,
} as const;
