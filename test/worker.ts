// What the workerd tests talk to: the worker under test (its default export, in this isolate) and its bindings.
import { env, exports } from 'cloudflare:workers';

/** The worker's own fetch handler, as `wrangler dev` would serve it. */
export const worker = (exports as unknown as { default: Fetcher }).default;
export { env };
export const MODELS: R2Bucket = env.MODELS;
