// Copies the test files served by vitest.config.ts's TEST_FILES binding into R2 (env.MODELS),
// before each test file, so tests read model packages the way the service does.
import { env } from 'cloudflare:workers';

const bindings = env as unknown as { MODELS: R2Bucket; TEST_FILES: Fetcher };

const keys = (await (await bindings.TEST_FILES.fetch('http://test-files/')).json()) as string[];
for (const key of keys) {
  const response = await bindings.TEST_FILES.fetch(`http://test-files/${encodeURIComponent(key)}`);
  if (!response.ok) throw new Error(`TEST_FILES ${key}: ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  await bindings.MODELS.put(key, bytes); // always: a regenerated file may keep its size
}
