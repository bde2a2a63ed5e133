// The shipped default model end to end inside workerd: the TypeScript tokenizer and image
// preprocessing reproduce Python's exactly (golden.json), and zero-shot accuracy through the
// service on the held-out attribute combinations matches what the Python evaluation measured.
import { MODELS, worker } from './worker';
import { describe, expect, it } from 'vitest';
import golden from '../models/shapes-clip-s/golden.json';
import manifest from '../models/shapes-clip-s/manifest.json';
import heldout from './fixtures/heldout-shapes-clip-s.json';
import { decodeImage, preprocessImage } from '../src/preprocess/image';
import { TextTokenizer } from '../src/preprocess/text';
import type { ImagePreprocessConfig } from '../src/registry/manifest';


function base64Bytes(data: string): Uint8Array {
  return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
}

describe('preprocessing parity with Python', () => {
  it('tokenizes golden texts to the same input_ids', async () => {
    const tokenizerJson = await (await MODELS.get(`${manifest.id}/${manifest.preprocess.text.tokenizer.path}`))!.json();
    const tokenizer = new TextTokenizer(tokenizerJson, manifest.preprocess.text);
    for (const t of golden.texts) expect(tokenizer.ids(t.text)).toEqual(t.input_ids);
  });

  it('decodes and preprocesses golden images to the same pixel_values', async () => {
    for (const img of golden.images) {
      const pixels = preprocessImage(await decodeImage(base64Bytes(img.data)), manifest.preprocess.image as ImagePreprocessConfig);
      expect(pixels.length).toBe(img.pixel_values.length);
      let maxDiff = 0;
      pixels.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - img.pixel_values[i]!))));
      expect(maxDiff, img.name).toBeLessThan(1e-5);
    }
  });
});

describe('zero-shot on held-out attribute combinations', () => {
  // The service's default dtype and fp32, each against Python's ONNX Runtime figure on the same images.
  for (const [dtype, reference] of [['int8', heldout.python_top1.onnx_int8], ['fp32', heldout.python_top1.onnx_fp32]] as const) {
    it(`${dtype}: top-1 within 2 points of Python's ${(reference * 100).toFixed(1)}%`, async () => {
      let correct = 0;
      for (const item of heldout.items) {
        const response = await worker.fetch('http://edgeclip/v1/zero-shot', {
          method: 'POST',
          body: JSON.stringify({ image: item.data, labels: heldout.labels, templates: heldout.templates, dtype }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { labels: { label: string }[] };
        if (body.labels[0]!.label === item.label) correct++;
      }
      const top1 = correct / heldout.items.length;
      console.log(`service zero-shot top-1 (${dtype}): ${(top1 * 100).toFixed(1)}% over ${heldout.items.length} images; Python: ${(reference * 100).toFixed(1)}%`);
      expect(Math.abs(top1 - reference)).toBeLessThanOrEqual(0.02);
      expect(top1).toBeGreaterThanOrEqual(0.9);
    }, 120_000);
  }
});
