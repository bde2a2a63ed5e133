// Zero-shot image classification: each label becomes the mean of its prompt-template embeddings
// (renormalised, as CLIP does), and the image is scored against them with the model's logit scale.
// Label vectors are cached per model and template set, so repeated label sets cost no text passes.
import { dot, l2Normalize, mean, softmax } from '../math';
import type { LoadedModel } from '../registry/registry';

export interface LabelScore {
  label: string;
  score: number;
}

export class ZeroShotClassifier {
  private readonly labelVectors = new Map<string, Float32Array>();

  constructor(private readonly maxCachedLabels = 4096) {}

  async classify(model: LoadedModel, image: Uint8Array, labels: readonly string[], templates?: readonly string[]): Promise<LabelScore[]> {
    const prompts = templates ?? model.manifest.zero_shot.templates;
    const [imageVector, labelVectors] = await Promise.all([
      model.image.embed([image]).then((v) => v[0]!),
      this.labelEmbeddings(model, labels, prompts),
    ]);
    const { logit_scale: scale, logit_bias: bias } = model.manifest.scoring;
    const logits = labelVectors.map((v) => scale * dot(imageVector, v) + (bias ?? 0));
    const scores = softmax(logits);
    return labels.map((label, i) => ({ label, score: scores[i]! })).sort((x, y) => y.score - x.score);
  }

  private async labelEmbeddings(model: LoadedModel, labels: readonly string[], templates: readonly string[]): Promise<Float32Array[]> {
    const { id, version } = model.manifest;
    const keyOf = (label: string) => JSON.stringify([id, version, model.dtypes.text, templates, label]);
    const found = new Map<string, Float32Array>();
    for (const label of labels) {
      const cached = this.labelVectors.get(keyOf(label));
      if (cached) found.set(label, cached);
    }
    const missing = [...new Set(labels.filter((l) => !found.has(l)))];
    if (missing.length) {
      const prompts = missing.flatMap((label) => templates.map((t) => t.replaceAll('{}', label)));
      const vectors = await model.text.embed(prompts);
      missing.forEach((label, i) => {
        const vector = l2Normalize(mean(vectors.slice(i * templates.length, (i + 1) * templates.length)));
        found.set(label, vector);
        this.remember(keyOf(label), vector);
      });
    }
    return labels.map((l) => found.get(l)!);
  }

  /** Least-recently-inserted eviction keeps the cache bounded under arbitrary label sets. */
  private remember(key: string, vector: Float32Array): void {
    this.labelVectors.delete(key);
    this.labelVectors.set(key, vector);
    if (this.labelVectors.size > this.maxCachedLabels) {
      this.labelVectors.delete(this.labelVectors.keys().next().value!);
    }
  }
}
