// POST /v1/similarity: cosine similarity between two lists of texts and/or images.
import { Hono } from 'hono';
import { z } from 'zod';
import { LIMITS } from '../limits';
import { similarityMatrix } from '../tasks/similarity';
import { resolveModel, type AppEnv } from './context';
import { item, modelFields, readJson, toInput } from './inputs';

const side = z.array(item).min(1, 'must not be empty').max(LIMITS.maxInputs, `at most ${LIMITS.maxInputs} items`);
const body = z.object({ ...modelFields, a: side, b: side });

export const similarity = new Hono<AppEnv>().post('/', async (c) => {
  const request = await readJson(c, body);
  const a = request.a.map((v, i) => toInput(v, `a.${i}`));
  const b = request.b.map((v, i) => toInput(v, `b.${i}`));
  const model = await resolveModel(c, request.model, request.dtype);
  return c.json({ model: model.manifest.id, scores: await similarityMatrix(model, a, b) });
});
