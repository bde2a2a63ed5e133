// The HTTP API inside workerd, on the shipped default model read from R2: response shapes, parity of
// the served embeddings with PyTorch (golden.json), and every error path's status and code.
import { env, MODELS, worker } from './worker';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import golden from '../models/shapes-clip-s/golden.json';
import manifest from '../models/shapes-clip-s/manifest.json';
import { cosine } from '../src/math';

const png = golden.images.find((i) => i.media_type === 'image/png')!;
const jpeg = golden.images.find((i) => i.media_type === 'image/jpeg')!;

async function post(path: string, body: unknown): Promise<Response> {
  return worker.fetch(`http://edgeclip${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function embed(input: unknown, extra: Record<string, unknown> = {}): Promise<number[][]> {
  const response = await post('/v1/embeddings', { input, ...extra });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: { embedding: number[] }[] };
  return body.data.map((d) => d.embedding);
}

async function expectError(response: Response, status: number, code: string): Promise<string> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect({ status: response.status, code: body.error.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error.message;
}

const f32 = (v: number[]) => Float32Array.from(v);

describe('golden parity with PyTorch', () => {
  // fp32 towers must reproduce PyTorch almost exactly, int8 closely (the thresholds).
  for (const [dtype, threshold] of [['fp32', 0.999], ['int8', 0.99]] as const) {
    it(`texts, ${dtype}: cosine to PyTorch >= ${threshold}`, async () => {
      const served = await embed(golden.texts.map((t) => t.text), { dtype });
      golden.texts.forEach((t, i) => expect(cosine(f32(served[i]!), f32(t.embedding))).toBeGreaterThanOrEqual(threshold));
    });

    it(`images through decode + preprocessing, ${dtype}: cosine to PyTorch >= ${threshold}`, async () => {
      const served = await embed(golden.images.map((i) => ({ image: i.data })), { dtype });
      golden.images.forEach((img, i) => expect(cosine(f32(served[i]!), f32(img.embedding))).toBeGreaterThanOrEqual(threshold));
    });
  }
});

describe('POST /v1/embeddings', () => {
  it('answers in the OpenAI list format with unit vectors and token usage', async () => {
    const response = await post('/v1/embeddings', { input: ['a red circle', { text: 'a blue square' }] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      object: string; model: string; data: { object: string; index: number; embedding: number[] }[]; usage: { prompt_tokens: number; total_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.model).toBe(manifest.id);
    expect(body.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, manifest.embedding_dim],
      ['embedding', 1, manifest.embedding_dim],
    ]);
    for (const d of body.data) expect(Math.hypot(...d.embedding)).toBeCloseTo(1, 5);
    expect(body.usage.prompt_tokens).toBeGreaterThan(4);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
  });

  it('accepts a bare string and keeps the order of mixed texts and images', async () => {
    const [single] = await embed('a red circle');
    const [alone] = await embed([{ image: png.data }]);
    const mixed = await embed([{ image: `data:image/png;base64,${png.data}` }, 'a red circle', { image: jpeg.data }]);
    // An embedding depends on its input only, not on what else the request holds (int8 included).
    expect(mixed[0]).toEqual(alone);
    expect(mixed[1]).toEqual(single);
    expect(cosine(f32(mixed[2]!), f32(jpeg.embedding))).toBeGreaterThan(0.99);
  });

  it('refuses bad requests with stable codes', async () => {
    await expectError(await post('/v1/embeddings', '{"input": '), 400, 'invalid_json');
    await expectError(await post('/v1/embeddings', {}), 400, 'invalid_request');
    await expectError(await post('/v1/embeddings', { input: [] }), 400, 'invalid_request');
    await expectError(await post('/v1/embeddings', { input: [42] }), 400, 'invalid_request');
    await expectError(await post('/v1/embeddings', { input: 'x', dtype: 'fp8' }), 400, 'invalid_request');
    await expectError(await post('/v1/embeddings', { input: [{ image: 'not base64!' }] }), 400, 'invalid_request');
    await expectError(await post('/v1/embeddings', { input: Array(65).fill('a') }), 413, 'too_many_inputs');
    await expectError(await post('/v1/embeddings', { input: 'x'.repeat(9 * 1024 * 1024) }), 413, 'payload_too_large');
    await expectError(await post('/v1/embeddings', { input: 'a', model: 'no-such-model' }), 404, 'model_not_found');
    await expectError(await post('/v1/embeddings', { input: 'a', model: '../etc' }), 404, 'model_not_found');
  });

  it('maps undecodable images to 415 and 422, and keeps serving afterwards', async () => {
    const garbage = btoa('this is not an image at all');
    await expectError(await post('/v1/embeddings', { input: [{ image: garbage }] }), 415, 'unsupported_media_type');
    const truncated = png.data.slice(0, 120);
    await expectError(await post('/v1/embeddings', { input: [{ image: truncated }] }), 422, 'image_decode_failed');
    const [after] = await embed([{ image: png.data }], { dtype: 'fp32' });
    expect(cosine(f32(after!), f32(png.embedding))).toBeGreaterThan(0.999);
  });
});

describe('POST /v1/zero-shot', () => {
  const labels = ['red circle', 'blue square', 'green triangle'];

  it('returns every label once, sorted, with scores summing to 1', async () => {
    const response = await post('/v1/zero-shot', { image: png.data, labels });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; labels: { label: string; score: number }[] };
    expect(body.model).toBe(manifest.id);
    expect(body.labels.map((l) => l.label).sort()).toEqual([...labels].sort());
    const scores = body.labels.map((l) => l.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('uses the given templates', async () => {
    const a = (await (await post('/v1/zero-shot', { image: png.data, labels, templates: ['{}'] })).json()) as { labels: { score: number }[] };
    const b = (await (await post('/v1/zero-shot', { image: png.data, labels })).json()) as { labels: { score: number }[] };
    expect(a.labels[0]!.score).not.toBeCloseTo(b.labels[0]!.score, 6);
  });

  it('refuses bad requests', async () => {
    await expectError(await post('/v1/zero-shot', { image: png.data, labels: ['one'] }), 400, 'invalid_request');
    await expectError(await post('/v1/zero-shot', { image: png.data, labels, templates: ['no placeholder'] }), 400, 'invalid_request');
    await expectError(await post('/v1/zero-shot', { labels }), 400, 'invalid_request');
    await expectError(await post('/v1/zero-shot', { image: btoa('GIF89a....'), labels }), 415, 'unsupported_media_type');
  });
});

describe('POST /v1/similarity', () => {
  it('returns the a x b cosine matrix of the same vectors /v1/embeddings gives', async () => {
    const a = [{ image: png.data }, 'a red circle'];
    const b = ['a red circle', 'a blue square', { image: jpeg.data }];
    const response = await post('/v1/similarity', { a, b });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; scores: number[][] };
    expect(body.scores.length).toBe(2);
    expect(body.scores.every((row) => row.length === 3)).toBe(true);
    const va = await embed(a);
    const vb = await embed(b);
    va.forEach((u, i) => vb.forEach((v, j) => expect(body.scores[i]![j]!).toBeCloseTo(cosine(f32(u), f32(v)), 5)));
    expect(body.scores[1]![0]!).toBeCloseTo(1, 5);
  });

  it('refuses an empty side', async () => {
    await expectError(await post('/v1/similarity', { a: [], b: ['x'] }), 400, 'invalid_request');
  });
});

describe('odd input never crashes the service', () => {
  const oddBodies: [string, unknown][] = [
    ['/v1/embeddings', null],
    ['/v1/embeddings', []],
    ['/v1/embeddings', 'a bare JSON string'],
    ['/v1/embeddings', { input: [{ text: 'a', image: png.data }] }],
    ['/v1/embeddings', { input: [{ image: '' }] }],
    ['/v1/embeddings', { input: ['\u0000\uffff\ud83d\ude00 ǅ ﬁ \u200b', '   ', 'ok'] }],
    ['/v1/embeddings', { input: [{ image: 'data:image/png,abc' }] }],
    ['/v1/embeddings', { input: [{ image: `data:image/png;base64,${png.data.slice(0, 40)}` }] }],
    ['/v1/embeddings', { input: [{ image: btoa('\xff\xd8\xff\xc1\xf1\x51\xd8\x00\xff\x51\xd8\x00\xff\xda\xff\xde') }] }],
    ['/v1/embeddings', { input: 'a', model: 42 }],
    ['/v1/zero-shot', { image: png.data, labels: ['a', 'a'] }],
    ['/v1/zero-shot', { image: png.data, labels: Array(300).fill('x') }],
    ['/v1/similarity', { a: ['x'], b: 'x' }],
  ];
  it.each(oddBodies)('%s %j answers 200 or a 4xx envelope', async (path, body) => {
    const response = await post(path, JSON.stringify(body));
    expect(response.status === 200 || (response.status >= 400 && response.status < 500)).toBe(true);
    if (response.status !== 200) expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(/^[a-z_]+$/);
  });
});

describe('models, health and unknown routes', () => {
  it('lists the installed packages', async () => {
    const body = (await (await worker.fetch('http://edgeclip/v1/models')).json()) as { data: { id: string; dtypes: string[]; default: boolean }[] };
    const entry = body.data.find((m) => m.id === manifest.id)!;
    expect(entry.dtypes).toEqual(['fp32', 'int8']);
    expect(entry.default).toBe(true);
  });

  it('reports health of the default model', async () => {
    const response = await worker.fetch('http://edgeclip/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', model: manifest.id, dtypes: { image: manifest.default_dtype, text: manifest.default_dtype } });
  });

  it('answers 404 with the envelope for unknown routes', async () => {
    await expectError(await worker.fetch('http://edgeclip/v2/nothing'), 404, 'not_found');
  });
});

describe('missing and corrupt models', () => {
  const request = (model?: string) =>
    new Request('http://edgeclip/v1/embeddings', { method: 'POST', body: JSON.stringify({ input: 'a red circle', ...(model ? { model } : {}) }) });

  /** Copies the default package to `id` in R2, with manifest fields overridden. */
  async function copyPackage(id: string, overrides: Record<string, unknown> = {}): Promise<void> {
    const files = (await MODELS.list({ prefix: `${manifest.id}/` })).objects.map((o) => o.key.slice(manifest.id.length + 1));
    for (const file of files) {
      const object = (await MODELS.get(`${manifest.id}/${file}`))!;
      const body = file === 'manifest.json' ? JSON.stringify({ ...manifest, ...overrides, id }) : await object.arrayBuffer();
      await MODELS.put(`${id}/${file}`, body);
    }
  }

  it('is 503 when the default model is not installed', async () => {
    const app = createApp();
    const response = await app.request(request(), undefined, { ...env, DEFAULT_MODEL: 'not-installed' });
    expect(await expectError(response, 503, 'model_unavailable')).toContain('not-installed');
  });

  it('is 503 for a corrupt tower and recovers once the file is fixed', async () => {
    const id = 'corrupt-copy';
    await copyPackage(id);
    const towerFile = manifest.towers.text.files[manifest.default_dtype as 'int8'].path;
    const good = new Uint8Array(await (await MODELS.get(`${id}/${towerFile}`))!.arrayBuffer());
    const bad = good.slice();
    bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
    await MODELS.put(`${id}/${towerFile}`, bad);

    const app = createApp();
    const broken = await app.request(request(id), undefined, env);
    expect(await expectError(broken, 503, 'model_unavailable')).toContain('sha256');
    await MODELS.put(`${id}/${towerFile}`, good);
    const fixed = await app.request(request(id), undefined, env);
    expect(fixed.status).toBe(200);
  });

  it('is 503 for a manifest that breaks the contract', async () => {
    await MODELS.put('bad-manifest/manifest.json', JSON.stringify({ ...manifest, id: 'bad-manifest', embedding_dim: -1 }));
    const message = await expectError(await createApp().request(request('bad-manifest'), undefined, env), 503, 'model_unavailable');
    expect(message).toContain('embedding_dim');
  });

  it('serves a per-tower default dtype (image int8, text fp32)', async () => {
    await copyPackage('mixed-dtypes', { default_dtype: { image: 'int8', text: 'fp32' } });
    const input = ['a red circle', { image: png.data }];
    const [mixed, fp32, int8] = await Promise.all([
      embed(input, { model: 'mixed-dtypes' }),
      embed(input, { model: 'mixed-dtypes', dtype: 'fp32' }),
      embed(input, { model: 'mixed-dtypes', dtype: 'int8' }),
    ]);
    expect(mixed[0]).toEqual(fp32[0]);
    expect(mixed[1]).toEqual(int8[1]);
    expect(fp32[1]).not.toEqual(int8[1]);
  });

  it('refuses a dtype the package lacks (400) and a default naming a missing file (503)', async () => {
    await expectError(await post('/v1/embeddings', { input: 'a', dtype: 'fp16' }), 400, 'invalid_request');
    await copyPackage('default-missing', { default_dtype: { image: 'fp16', text: 'int8' } });
    const message = await expectError(await createApp().request(request('default-missing'), undefined, env), 503, 'model_unavailable');
    expect(message).toContain('image fp16');
  });
});
