// An open_clip ViT-B-32 (random weights) exported by scripts/edgeclip_export/openclip.py and served from R2:
// the service's embeddings of golden.json's texts and images match PyTorch's. The package (~750 MB) is not
// committed; `npm run fixtures:openclip` writes it to .cache/models/ (npm test runs it first).
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmMemoryBytes } from '../src/backend';
import { cosine } from '../src/math';
import { TextTokenizer } from '../src/preprocess/text';
import shapesTokenizer from '../models/shapes-clip-s/tokenizer.json';
import { MODELS, env, worker } from './worker';

const ID = 'openclip-vit-b-32';
const files = (env as unknown as { TEST_FILES: Fetcher }).TEST_FILES;

interface Golden {
  texts: { text: string; input_ids: number[]; embedding: number[] }[];
  images: { name: string; data: string; embedding: number[] }[];
}
let golden: Golden;

async function copyPackage(): Promise<void> {
  const keys = (await (await files.fetch(`http://test-files/?prefix=${ID}/`)).json()) as string[];
  if (!keys.includes(`${ID}/manifest.json`)) {
    throw new Error(`.cache/models/${ID} is missing: run \`npm run fixtures:openclip\` (npm test does) before vitest`);
  }
  for (const key of keys) {
    const response = await files.fetch(`http://test-files/${encodeURIComponent(key)}`);
    if (!response.ok) throw new Error(`TEST_FILES ${key}: ${response.status}`);
    await MODELS.put(key, new Uint8Array(await response.arrayBuffer()));
  }
}

async function embed(input: unknown[], dtype: string): Promise<number[][]> {
  const response = await worker.fetch('http://edgeclip/v1/embeddings', {
    method: 'POST',
    body: JSON.stringify({ model: ID, dtype, input }),
  });
  const body = (await response.json()) as { data: { embedding: number[] }[] };
  expect(response.status, JSON.stringify(body).slice(0, 300)).toBe(200);
  return body.data.map((d) => d.embedding);
}

describe('truncation', () => {
  // A tokenizer whose post-processor ends every encoding with [SEP] (id 3), cut to 6 ids.
  const long = 'a red circle and a blue square and a green triangle';
  it("'right' keeps the first context_length ids", () => {
    const ids = new TextTokenizer(shapesTokenizer, { context_length: 6, pad_id: 0, truncation: 'right' }).ids(long);
    expect(ids).toHaveLength(6);
    expect(ids[5]).not.toBe(3);
  });
  it("'right_keep_eos' keeps the encoding's last id (the end token) last", () => {
    const right = new TextTokenizer(shapesTokenizer, { context_length: 6, pad_id: 0, truncation: 'right' }).ids(long);
    const keep = new TextTokenizer(shapesTokenizer, { context_length: 6, pad_id: 0, truncation: 'right_keep_eos' }).ids(long);
    expect(keep).toEqual([...right.slice(0, 5), 3]);
    const short = new TextTokenizer(shapesTokenizer, { context_length: 16, pad_id: 0, truncation: 'right_keep_eos' });
    expect(short.ids('a red circle')).toEqual(new TextTokenizer(shapesTokenizer, { context_length: 16, pad_id: 0 }).ids('a red circle'));
  });
});

describe(`open_clip ViT-B-32 served from R2 (${ID})`, () => {
  beforeAll(async () => {
    const started = Date.now();
    await copyPackage();
    golden = (await (await MODELS.get(`${ID}/golden.json`))!.json()) as Golden;
    console.log(`openclip: package copied into R2 in ${Date.now() - started} ms`);
  }, 600_000);

  it("tokenizes golden texts to open_clip's input_ids (CLIP BPE tokenizer.json, right_keep_eos)", async () => {
    const manifest = (await (await MODELS.get(`${ID}/manifest.json`))!.json()) as { preprocess: { text: { context_length: number; pad_id: number; truncation: string } } };
    expect(manifest.preprocess.text.truncation).toBe('right_keep_eos');
    const tokenizer = new TextTokenizer(await (await MODELS.get(`${ID}/tokenizer.json`))!.json(), manifest.preprocess.text);
    for (const t of golden.texts) expect(tokenizer.ids(t.text), t.text).toEqual(t.input_ids);
  });

  // fp32 is the done-when bar (>= 0.999); dynamic int8 measured 0.9988 minimum on these inputs.
  for (const [dtype, minCosine] of [['fp32', 0.999], ['int8', 0.99]] as const) {
    it(`${dtype}: golden texts and images match PyTorch (cosine >= ${minCosine})`, async () => {
      const started = Date.now();
      const texts = await embed(golden.texts.map((t) => t.text), dtype);
      const loaded = Date.now();
      const images = await embed(golden.images.map((img) => ({ image: img.data })), dtype);
      const cos = [
        ...texts.map((v, i) => cosine(Float32Array.from(v), Float32Array.from(golden.texts[i]!.embedding))),
        ...images.map((v, i) => cosine(Float32Array.from(v), Float32Array.from(golden.images[i]!.embedding))),
      ];
      console.log(
        `openclip ${dtype}: min cosine ${Math.min(...cos).toFixed(6)} (texts ${texts.length}, images ${images.length}); ` +
          `load + texts ${loaded - started} ms, images ${Date.now() - loaded} ms; wasm memory ${(wasmMemoryBytes() / 2 ** 20).toFixed(0)} MiB`,
      );
      for (const c of cos) expect(c).toBeGreaterThanOrEqual(minCosine);
    }, 600_000);
  }
});
