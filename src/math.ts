// Vector math on Float32Array: pure functions, no allocation beyond the result.

/** Scales `v` to unit length; an all-zero vector stays zero instead of becoming NaN. */
export function l2Normalize(v: Float32Array, eps = 1e-12): Float32Array {
  let sumSquares = 0;
  for (const x of v) sumSquares += x * x;
  const scale = 1 / Math.max(Math.sqrt(sumSquares), eps);
  return v.map((x) => x * scale);
}

export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`dot: lengths differ (${a.length} vs ${b.length})`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  return dot(l2Normalize(a), l2Normalize(b));
}

/** Element-wise mean of equally long vectors. */
export function mean(vectors: readonly Float32Array[]): Float32Array {
  const first = vectors[0];
  if (!first) throw new RangeError('mean: no vectors');
  const out = new Float32Array(first.length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i]! += v[i]!;
  return out.map((x) => x / vectors.length);
}

/** Numerically stable softmax (subtracts the max before exponentiating). */
export function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
