// Builds the Hono app: per-isolate services, routes, and the single place errors become responses.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, errorBody } from './errors';
import { ImageError } from './preprocess/image';
import { ModelRegistry } from './registry/registry';
import type { AppEnv, Services } from './routes/context';
import { embeddings } from './routes/embeddings';
import { health, models, runtime } from './routes/models';
import { similarity } from './routes/similarity';
import { zeroShot } from './routes/zeroShot';
import { ZeroShotClassifier } from './tasks/zeroShot';

export function createApp(services: Services = { registry: new ModelRegistry(), zeroShot: new ZeroShotClassifier() }) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('services', services);
    await next();
  });
  app.route('/health', health);
  app.route('/v1/models', models);
  app.route('/v1/runtime', runtime);
  app.route('/v1/embeddings', embeddings);
  app.route('/v1/zero-shot', zeroShot);
  app.route('/v1/similarity', similarity);
  app.notFound(() => {
    throw new ApiError(404, 'not_found', 'no such route');
  });
  app.onError((error, c) => {
    const api = toApiError(error);
    if (api.status >= 500) console.error(api.code, api.message, api.cause ?? error);
    return c.json(errorBody(api), api.status);
  });
  return app;
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ImageError) {
    return new ApiError(error.status, error.code, error.message, { cause: error });
  }
  if (error instanceof HTTPException) {
    return new ApiError(error.status === 405 ? 405 : 400, error.status === 405 ? 'method_not_allowed' : 'invalid_request', error.message);
  }
  return new ApiError(500, 'internal_error', 'internal error', { cause: error });
}
