// GET /v1/models (packages in the MODELS bucket), GET /health (is the default model servable?)
// and GET /v1/runtime (what this isolate has loaded).
import { Hono } from 'hono';
import { wasmMemoryBytes } from '../backend';
import { ApiError } from '../errors';
import { servableDtypes } from '../registry/manifest';
import { PackageStore } from '../registry/packageStore';
import { resolveModel, type AppEnv } from './context';

export const models = new Hono<AppEnv>().get('/', async (c) => {
  const store = new PackageStore(c.env.MODELS);
  const entries = await Promise.all(
    (await store.listIds()).map(async (id) => {
      try {
        const m = await store.manifest(id);
        return { id, object: 'model', version: m.version, embedding_dim: m.embedding_dim, dtypes: servableDtypes(m), default_dtype: m.default_dtype, default: id === c.env.DEFAULT_MODEL };
      } catch (error) {
        // A broken package is listed with its problem rather than hiding the healthy ones.
        return { id, object: 'model', error: error instanceof ApiError ? error.message : String(error) };
      }
    }),
  );
  return c.json({ object: 'list', data: entries });
});

/** Loads the default model (cached after the first call): 200 when it serves, 503 with the reason when not. */
export const health = new Hono<AppEnv>().get('/', async (c) => {
  const model = await resolveModel(c, undefined, undefined);
  return c.json({ status: 'ok', model: model.manifest.id, version: model.manifest.version, dtypes: model.dtypes });
});

/** What this isolate holds: loaded models and ORT's wasm memory, the figure that counts against the 128 MB isolate limit. */
export const runtime = new Hono<AppEnv>().get('/', (c) =>
  c.json({ models_loaded: c.get('services').registry.loadedKeys(), wasm_memory_bytes: wasmMemoryBytes() }),
);
