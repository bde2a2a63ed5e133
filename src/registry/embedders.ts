// Embedders: raw inputs in, unit-length embeddings out. Each pairs a tower's ONNX session with the
// preprocessing its manifest prescribes; nothing outside this file feeds tensors to a tower.
import type { EncoderSession } from '../backend';
import { decodeImage, preprocessImage } from '../preprocess/image';
import type { TextTokenizer } from '../preprocess/text';
import { l2Normalize, rows } from '../math';
import type { Manifest } from './manifest';

/** Largest batch handed to one session run; bigger requests are split to bound wasm memory. */
const MAX_RUN_BATCH = 32;

export class TextEmbedder {
  constructor(
    private readonly session: EncoderSession,
    private readonly tokenizer: TextTokenizer,
    private readonly manifest: Manifest,
  ) {}

  /** Tokens each text really uses (after truncation, before padding): what `usage` reports. */
  tokenCount(texts: readonly string[]): number {
    const pad = this.manifest.preprocess.text.pad_id;
    return texts.reduce((sum, t) => sum + this.tokenizer.ids(t).filter((id) => id !== pad).length, 0);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const length = this.manifest.preprocess.text.context_length;
    for (let start = 0; start < texts.length; start += MAX_RUN_BATCH) {
      const chunk = texts.slice(start, start + MAX_RUN_BATCH);
      const input = this.manifest.towers.text.input.name;
      const { data: flat } = await this.session.run(input, this.tokenizer.batch(chunk), [chunk.length, length]);
      out.push(...rows(flat, this.manifest.embedding_dim).map((v) => l2Normalize(v)));
    }
    return out;
  }
}

export class ImageEmbedder {
  constructor(
    private readonly session: EncoderSession,
    private readonly manifest: Manifest,
  ) {}

  /** Decodes (PNG/JPEG), preprocesses and embeds; decode errors surface as ImageError. */
  async embed(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    const cfg = this.manifest.preprocess.image;
    const pixels: Float32Array[] = [];
    for (const bytes of images) pixels.push(preprocessImage(await decodeImage(bytes), cfg));
    const out: Float32Array[] = [];
    const perImage = 3 * cfg.crop.height * cfg.crop.width;
    for (let start = 0; start < pixels.length; start += MAX_RUN_BATCH) {
      const chunk = pixels.slice(start, start + MAX_RUN_BATCH);
      const batch = new Float32Array(chunk.length * perImage);
      chunk.forEach((p, i) => batch.set(p, i * perImage));
      const input = this.manifest.towers.image.input.name;
      const { data: flat } = await this.session.run(input, batch, [chunk.length, 3, cfg.crop.height, cfg.crop.width]);
      out.push(...rows(flat, this.manifest.embedding_dim).map((v) => l2Normalize(v)));
    }
    return out;
  }
}
