#!/usr/bin/env node
// Latency and memory of the default model inside workerd (`wrangler dev`, local R2 seeded by
// `npm run seed`). Requests are timed from this process over loopback: inside a Worker the clock
// does not advance during computation, so the service cannot time itself.
// Prints p50/p99 of one text and one image embedding (the image path includes decode + resize) for
// each dtype side by side, and ORT's wasm memory after each dtype is loaded and run.
// Usage: npm run bench [-- --runs 200]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const PORT = 8797;
const BASE = `http://127.0.0.1:${PORT}`;
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 200;
const WARMUP = 20;
const DTYPES = ['int8', 'fp32'];

const wranglerToml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
const MODEL = /DEFAULT_MODEL\s*=\s*"([^"]+)"/.exec(wranglerToml)[1];
const golden = JSON.parse(readFileSync(join(ROOT, 'models', MODEL, 'golden.json'), 'utf8'));
const smallImage = golden.images.find((i) => i.media_type === 'image/png') ?? golden.images[0];
const photo = readFileSync(join(ROOT, 'bench', 'photo-640x480.jpg')).toString('base64');

const workloads = [
  { name: 'text', input: (i) => `a small red circle in the top left, number ${i}` },
  { name: `image ${smallImage.name}`, input: () => ({ image: smallImage.data }) },
  { name: 'image photo-640x480.jpg', input: () => ({ image: photo }) },
];

async function post(path, body) {
  const response = await fetch(BASE + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Times one workload for both dtypes, alternating request by request so both see the same machine load. */
async function latencies(workload) {
  const times = { int8: [], fp32: [] };
  for (let i = 0; i < WARMUP; i++) for (const dtype of DTYPES) await post('/v1/embeddings', { dtype, input: [workload.input(i)] });
  for (let i = 0; i < RUNS; i++) {
    for (const dtype of DTYPES) {
      const started = performance.now();
      await post('/v1/embeddings', { dtype, input: [workload.input(i)] });
      times[dtype].push(performance.now() - started);
    }
  }
  return DTYPES.map((dtype) => {
    const sorted = times[dtype].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { dtype, workload: workload.name, p50: at(0.5), p99: at(0.99) };
  });
}

/** p50 of GET /v1/runtime (no model work): what wrangler dev and HTTP add to every row above. */
async function requestFloor() {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await (await fetch(`${BASE}/v1/runtime`)).arrayBuffer();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function wasmMemory(after) {
  const runtime = await (await fetch(`${BASE}/v1/runtime`)).json();
  return { after, models: runtime.models_loaded.join(' '), mib: runtime.wasm_memory_bytes / 2 ** 20 };
}

async function waitForServer(child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('wrangler dev exited early');
    try {
      const r = await fetch(`${BASE}/v1/runtime`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('wrangler dev did not start within 60 s');
}

async function main() {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['dev', '--ip', '127.0.0.1', '--port', String(PORT)], {
    cwd: ROOT,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitForServer(child);
    // Memory first, per dtype: the default (int8) model alone is what one isolate normally holds.
    const memory = [];
    for (const dtype of DTYPES) {
      for (const w of workloads) await post('/v1/embeddings', { dtype, input: [w.input(0)] });
      memory.push(await wasmMemory(`${dtype} loaded and run`));
    }
    const rows = [];
    for (const w of workloads) rows.push(...(await latencies(w)));
    const floor = await requestFloor();
    console.log(`\nedgeclip bench: model ${MODEL}, int8 and fp32 requests alternating, ${RUNS} of each per row after ${WARMUP} warm-up pairs, wrangler dev (workerd), 1 ORT thread\n`);
    console.log('| dtype | workload | p50 ms | p99 ms |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.dtype} | ${r.workload} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
    console.log(`\nrequest floor (GET /v1/runtime, no model work) p50: ${floor.toFixed(2)} ms`);
    console.log('\n| workload | fp32 p50 / int8 p50 |');
    console.log('|---|---|');
    for (const w of workloads) {
      const [i8, f32] = ['int8', 'fp32'].map((d) => rows.find((r) => r.dtype === d && r.workload === w.name));
      console.log(`| ${w.name} | ${(f32.p50 / i8.p50).toFixed(2)}x |`);
    }
    console.log('\n| ORT wasm memory | models in the isolate | MiB |');
    console.log('|---|---|---|');
    for (const m of memory) console.log(`| after ${m.after} | ${m.models} | ${m.mib.toFixed(1)} |`);
    const peakDefault = memory[0].mib;
    console.log(`\npeak ORT wasm memory with the default (int8) model: ${peakDefault.toFixed(1)} MiB (budget 96 MB = 91.6 MiB): ${peakDefault <= 96e6 / 2 ** 20 ? 'within budget' : 'OVER BUDGET'}`);
  } finally {
    child.kill('SIGINT');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
