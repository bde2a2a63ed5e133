// src/backend inside workerd: ORT's wasm runtime starts from the imported module, tiny graphs read
// from R2 give the numbers numpy computed (test/fixtures/tiny.expected.json), errors are typed.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  BackendError,
  createEncoderSession,
  initOrtRuntime,
  wasmMemoryBytes,
} from '../src/backend';
import expected from './fixtures/tiny.expected.json';

const { MODELS } = env as unknown as { MODELS: R2Bucket };

async function modelBytes(key: string): Promise<Uint8Array> {
  const object = await MODELS.get(key);
  if (!object) throw new Error(`R2 has no ${key}`);
  return new Uint8Array(await object.arrayBuffer());
}

function expectClose(actual: Float32Array, rows: number[][], tolerance = 1e-6): void {
  const flat = rows.flat();
  expect(actual.length).toBe(flat.length);
  actual.forEach((value, i) => expect(Math.abs(value - flat[i]!)).toBeLessThan(tolerance));
}

describe('backend', () => {
  it('starts ORT from the imported wasm module, once', async () => {
    await initOrtRuntime();
    await initOrtRuntime();
    expect(wasmMemoryBytes()).toBeGreaterThan(0);
  });

  it('runs a float32 graph from R2 on a batch and matches numpy', async () => {
    const session = await createEncoderSession(await modelBytes('fixtures/tiny_f32.onnx'));
    expect(session.inputNames).toEqual([expected.input_name]);
    expect(session.outputNames).toEqual([expected.output_name]);
    const { x, dims, embeddings } = expected.f32;
    const out = await session.run('x', Float32Array.from(x.flat()), dims);
    expect(out.dims).toEqual([dims[0], 3]);
    expectClose(out.data, embeddings);
    // Batch of one gives the same row as inside the batch.
    const one = await session.run('x', Float32Array.from(x[0]!), [1, 4]);
    expectClose(one.data, [embeddings[0]!]);
    await session.dispose();
  });

  it('runs an int64 graph (BigInt64Array input)', async () => {
    const session = await createEncoderSession(await modelBytes('fixtures/tiny_i64.onnx'));
    const { x, dims, embeddings } = expected.i64;
    const out = await session.run('x', BigInt64Array.from(x.flat().map(BigInt)), dims);
    expect(out.dims).toEqual(dims.slice(0, 1).concat(3));
    expectClose(out.data, embeddings);
    await session.dispose();
  });

  it('reports wasm memory growth (the figure the benchmark records as peak memory)', async () => {
    const session = await createEncoderSession(await modelBytes('fixtures/tiny_f32.onnx'));
    const before = wasmMemoryBytes();
    const batch = 1 << 20; // 16 MiB of input, more than the runtime starts with
    const out = await session.run('x', new Float32Array(batch * 4).fill(1), [batch, 4]);
    expect(out.dims).toEqual([batch, 3]);
    expect(wasmMemoryBytes()).toBeGreaterThan(before + 16 * 2 ** 20);
    await session.dispose();
  });

  it('serialises concurrent runs on one session', async () => {
    const session = await createEncoderSession(await modelBytes('fixtures/tiny_f32.onnx'));
    const { x, embeddings } = expected.f32;
    const outs = await Promise.all(
      x.map((row) => session.run('x', Float32Array.from(row), [1, 4])),
    );
    outs.forEach((out, i) => expectClose(out.data, [embeddings[i]!]));
    await session.dispose();
  });

  it('turns a corrupt model into a typed model_invalid error and keeps working', async () => {
    const good = await modelBytes('fixtures/tiny_f32.onnx');
    const corrupt = good.slice(0, good.length >> 1);
    const error = await createEncoderSession(corrupt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('model_invalid');
    const garbage = await createEncoderSession(new TextEncoder().encode('not onnx')).catch((e: unknown) => e);
    expect((garbage as BackendError).code).toBe('model_invalid');
    // The runtime is not poisoned by a bad model.
    const session = await createEncoderSession(good);
    const out = await session.run('x', Float32Array.from(expected.f32.x[0]!), [1, 4]);
    expectClose(out.data, [expected.f32.embeddings[0]!]);
    await session.dispose();
  });

  it('rejects inputs that do not fit the graph with bad_input', async () => {
    const session = await createEncoderSession(await modelBytes('fixtures/tiny_f32.onnx'));
    const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: BackendError) => e.code);
    expect(await codeOf(session.run('x', new Float32Array(3), [1, 4]))).toBe('bad_input');
    expect(await codeOf(session.run('pixels', new Float32Array(4), [1, 4]))).toBe('bad_input');
    expect(await codeOf(session.run('x', new Float32Array(4), [1, 4], 'logits'))).toBe('bad_input');
    // Right size, wrong rank: ORT itself refuses, surfaced as inference_failed.
    expect(await codeOf(session.run('x', new Float32Array(4), [4]))).toBe('inference_failed');
    await session.dispose();
  });
});
