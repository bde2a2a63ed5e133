// Worker entry: the Hono app serves fetch; one app (and so one model cache) per isolate.
import { createApp } from './app';

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
