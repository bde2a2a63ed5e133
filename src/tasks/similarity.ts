// Cosine similarity between two lists of texts and/or images (rows: a, columns: b).
import { dot } from '../math';
import type { LoadedModel } from '../registry/registry';
import { embedInputs, type EmbedInput } from './embed';

export async function similarityMatrix(model: LoadedModel, a: readonly EmbedInput[], b: readonly EmbedInput[]): Promise<number[][]> {
  // One embedding pass over both lists keeps each tower to a single batch.
  const vectors = await embedInputs(model, [...a, ...b]);
  const left = vectors.slice(0, a.length);
  const right = vectors.slice(a.length);
  // Embeddings are unit length, so the dot product is the cosine.
  return left.map((u) => right.map((v) => dot(u, v)));
}
