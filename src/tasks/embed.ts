// Embeds a mixed list of texts and images into one shared space, keeping the caller's order.
// Texts and images are each sent to their tower as one batch.
import type { LoadedModel } from '../registry/registry';

export type EmbedInput = { kind: 'text'; text: string } | { kind: 'image'; bytes: Uint8Array };

export async function embedInputs(model: LoadedModel, inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
  const textAt: number[] = [];
  const imageAt: number[] = [];
  const texts: string[] = [];
  const images: Uint8Array[] = [];
  inputs.forEach((input, i) => {
    if (input.kind === 'text') (textAt.push(i), texts.push(input.text));
    else (imageAt.push(i), images.push(input.bytes));
  });
  const [textVectors, imageVectors] = await Promise.all([
    texts.length ? model.text.embed(texts) : [],
    images.length ? model.image.embed(images) : [],
  ]);
  const out = new Array<Float32Array>(inputs.length);
  textAt.forEach((at, j) => (out[at] = textVectors[j]!));
  imageAt.forEach((at, j) => (out[at] = imageVectors[j]!));
  return out;
}

export function textTokens(model: LoadedModel, inputs: readonly EmbedInput[]): number {
  return model.text.tokenCount(inputs.flatMap((i) => (i.kind === 'text' ? [i.text] : [])));
}
