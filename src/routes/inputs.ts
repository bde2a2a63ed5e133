// Request parsing shared by the routes: size-limited JSON, zod validation with readable messages,
// and the text-or-image item that several endpoints accept.
import type { Context } from 'hono';
import { z } from 'zod';
import { ApiError } from '../errors';
import { DTYPES } from '../registry/manifest';
import type { EmbedInput } from '../tasks/embed';
import { LIMITS } from '../limits';

export const text = z.string().min(1, 'must not be empty').max(LIMITS.maxTextChars, `must be at most ${LIMITS.maxTextChars} characters`);
export const image = z.string().min(1, 'must not be empty');
export const item = z.union([text, z.strictObject({ text }), z.strictObject({ image })]);
export const modelFields = { model: z.string().min(1).optional(), dtype: z.enum(DTYPES).optional() };

/** Reads the body as JSON (413 over the limit, 400 if malformed) and validates it (400). */
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > LIMITS.maxBodyBytes) throw tooLarge();
  const raw = await c.req.text();
  if (raw.length > LIMITS.maxBodyBytes) throw tooLarge();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `'${issue.path.join('.')}'` : 'the body';
    throw new ApiError(400, 'invalid_request', `${where}: ${issue.message}`);
  }
  return result.data;
}

function tooLarge(): ApiError {
  return new ApiError(413, 'payload_too_large', `the request body is over ${LIMITS.maxBodyBytes} bytes`);
}

/** Turns a validated item (a string, {text} or {image}) into an embedding input. */
export function toInput(value: z.infer<typeof item>, where: string): EmbedInput {
  if (typeof value === 'string') return { kind: 'text', text: value };
  if ('text' in value) return { kind: 'text', text: value.text };
  return { kind: 'image', bytes: imageBytes(value.image, where) };
}

/** Decodes an image given as base64 or as a data URL (`data:image/png;base64,...`). */
export function imageBytes(value: string, where: string): Uint8Array {
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(value);
  if (dataUrl && !dataUrl[2]) throw new ApiError(400, 'invalid_request', `'${where}': only base64 data URLs are accepted`);
  const base64 = (dataUrl ? value.slice(dataUrl[0].length) : value).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64) || base64.length % 4 === 1) {
    throw new ApiError(400, 'invalid_request', `'${where}': not valid base64 or a data URL`);
  }
  if ((base64.length * 3) / 4 > LIMITS.maxImageBytes + 3) {
    throw new ApiError(413, 'image_too_large', `'${where}': the image is over ${LIMITS.maxImageBytes} bytes`);
  }
  const binary = atob(base64.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  if (bytes.length === 0) throw new ApiError(400, 'invalid_request', `'${where}': the image is empty`);
  return bytes;
}
