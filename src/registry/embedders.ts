// Embedders: raw inputs in, unit-length embeddings out. Each pairs a tower's ONNX session with the
// preprocessing its manifest prescribes; nothing outside this file feeds tensors to a tower.
import type { EncoderSession } from '../backend';
import { decodeImage, preprocessImage } from '../preprocess/image';
import type { TextTokenizer } from '../preprocess/text';
import { l2Normalize } from '../math';
import type { Manifest } from './manifest';

// Every input runs through its tower alone (batch of 1). Dynamic int8 graphs quantize activations
// with one scale per tensor, so in a batch each vector would depend on its neighbours: the same
// text gave cosines differing by ~2e-3 between requests. One run per input keeps an embedding a
// function of its input only; in single-threaded wasm batching bought little anyway.

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
    const { name } = this.manifest.towers.text.input;
    const dims = [1, this.manifest.preprocess.text.context_length];
    const out: Float32Array[] = [];
    for (const text of texts) {
      const { data } = await this.session.run(name, this.tokenizer.batch([text]), dims);
      out.push(l2Normalize(data));
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
    const { name } = this.manifest.towers.image.input;
    const dims = [1, 3, cfg.crop.height, cfg.crop.width];
    // Decode everything first: a bad image fails the request before any tower time is spent.
    const pixels: Float32Array[] = [];
    for (const bytes of images) pixels.push(preprocessImage(await decodeImage(bytes), cfg));
    const out: Float32Array[] = [];
    for (const p of pixels) {
      const { data } = await this.session.run(name, p, dims);
      out.push(l2Normalize(data));
    }
    return out;
  }
}
