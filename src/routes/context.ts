// What every route gets: the bindings, and the per-isolate services that outlive a request.
import type { Context } from 'hono';
import { ApiError } from '../errors';
import type { Dtype } from '../registry/manifest';
import type { LoadedModel, ModelRegistry } from '../registry/registry';
import type { ZeroShotClassifier } from '../tasks/zeroShot';

export interface Services {
  registry: ModelRegistry;
  zeroShot: ZeroShotClassifier;
}

export type AppEnv = { Bindings: Env; Variables: { services: Services } };

const MODEL_ID = /^[a-z0-9][a-z0-9._-]*$/;

/** The requested model, or the deployment's default; a missing default is an outage (503), not a 404. */
export async function resolveModel(c: Context<AppEnv>, id: string | undefined, dtype: Dtype | undefined): Promise<LoadedModel> {
  const { registry } = c.get('services');
  if (id !== undefined && !MODEL_ID.test(id)) throw new ApiError(404, 'model_not_found', `model '${id}' does not exist`);
  const modelId = id ?? c.env.DEFAULT_MODEL;
  try {
    return await registry.get(c.env.MODELS, modelId, dtype);
  } catch (error) {
    if (id === undefined && error instanceof ApiError && error.code === 'model_not_found') {
      throw new ApiError(503, 'model_unavailable', `the default model '${modelId}' is not installed (no ${modelId}/manifest.json in the MODELS bucket)`);
    }
    throw error;
  }
}
