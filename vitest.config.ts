// Tests run inside workerd through @cloudflare/vitest-pool-workers 0.23 (the `cloudflareTest` plugin
// of the vitest 4 API), with the bindings of wrangler.toml as real miniflare bindings.
//
// Seeding R2 for tests: the pool's miniflare is not wrangler's (different major versions, separate
// storage), so `wrangler r2 object put --local` cannot seed it reliably. Instead a service binding
// implemented here in Node, TEST_FILES, serves the files (GET / lists keys, GET /<key> returns
// bytes), and test/setup-r2.ts copies them into env.MODELS before each test file. Keys: every
// models/<id>/ package (as `npm run seed` does for wrangler dev) plus test/fixtures/tiny* under
// "fixtures/<file>".
// Generated packages too big to commit (.cache/models/<id>/, e.g. `npm run fixtures:openclip`) are served
// by key but left out of the default listing, so setup-r2.ts does not copy hundreds of MB before every test
// file; a test that needs one lists `GET /?prefix=<id>/` and copies it itself (test/openclip.test.ts).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { modelPackageFiles } from './scripts/seed-r2.mjs';

const root = import.meta.dirname;

function seedFiles(): Map<string, string> {
  const fixtures = join(root, 'test', 'fixtures');
  const files = new Map(modelPackageFiles(join(root, 'models')).map(({ key, path }) => [key, path]));
  for (const name of readdirSync(fixtures).filter((n) => n.startsWith('tiny')).sort()) {
    files.set(`fixtures/${name}`, join(fixtures, name));
  }
  return files;
}

function generatedFiles(): Map<string, string> {
  return new Map(modelPackageFiles(join(root, '.cache', 'models')).map(({ key, path }) => [key, path]));
}

async function serveTestFiles(request: Request): Promise<Response> {
  const files = seedFiles(); // re-listed per request so a regenerated package is picked up
  const url = new URL(request.url);
  const key = decodeURIComponent(url.pathname.slice(1));
  const prefix = url.searchParams.get('prefix');
  if (key === '' && prefix) return Response.json([...generatedFiles().keys()].filter((k) => k.startsWith(prefix)));
  if (key === '') return Response.json([...files.keys()]);
  const path = files.get(key) ?? generatedFiles().get(key);
  if (!path) return new Response('not found', { status: 404 });
  return new Response(readFileSync(path));
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        serviceBindings: { TEST_FILES: serveTestFiles },
      },
    }),
  ],
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./test/setup-r2.ts'],
    testTimeout: 30_000,
  },
});
