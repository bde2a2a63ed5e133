// POST /v1/embeddings: OpenAI-compatible embeddings for texts and images.
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../errors';
import { LIMITS } from '../limits';
import { embedInputs, textTokens } from '../tasks/embed';
import { resolveModel, type AppEnv } from './context';
import { item, modelFields, readJson, toInput } from './inputs';

const body = z.object({
  ...modelFields,
  input: z.union([z.string().min(1, 'must not be empty'), z.array(item).min(1, 'must not be empty')]),
  encoding_format: z.literal('float').optional(),
});

export const embeddings = new Hono<AppEnv>().post('/', async (c) => {
  const request = await readJson(c, body);
  const items = Array.isArray(request.input) ? request.input : [request.input];
  if (items.length > LIMITS.maxInputs) {
    throw new ApiError(413, 'too_many_inputs', `'input' has ${items.length} items; at most ${LIMITS.maxInputs} per request`);
  }
  const inputs = items.map((value, i) => toInput(value, `input.${i}`));
  const model = await resolveModel(c, request.model, request.dtype);
  const vectors = await embedInputs(model, inputs);
  const tokens = textTokens(model, inputs);
  return c.json({
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v) })),
    model: model.manifest.id,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
});
