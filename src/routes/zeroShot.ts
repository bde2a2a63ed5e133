// POST /v1/zero-shot: classify an image among free-text labels, with prompt templates.
import { Hono } from 'hono';
import { z } from 'zod';
import { LIMITS } from '../limits';
import { resolveModel, type AppEnv } from './context';
import { image, imageBytes, modelFields, readJson, text } from './inputs';

const body = z.object({
  ...modelFields,
  image,
  labels: z.array(text).min(2, 'needs at least 2 labels').max(LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`),
  templates: z
    .array(text.refine((t) => t.includes('{}'), "must contain '{}' where the label goes"))
    .min(1)
    .max(LIMITS.maxTemplates, `at most ${LIMITS.maxTemplates} templates`)
    .optional(),
});

export const zeroShot = new Hono<AppEnv>().post('/', async (c) => {
  const request = await readJson(c, body);
  const bytes = imageBytes(request.image, 'image');
  const model = await resolveModel(c, request.model, request.dtype);
  const labels = await c.get('services').zeroShot.classify(model, bytes, request.labels, request.templates);
  return c.json({ model: model.manifest.id, labels });
});
