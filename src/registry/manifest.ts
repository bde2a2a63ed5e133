// The model package contract (models/FORMAT.md) as a schema: the only module that knows the
// manifest's shape. A package that does not parse is refused before any file is loaded.
import { z } from 'zod';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
const fileRef = z.object({
  path: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a plain file name inside the package'),
  sha256: sha256Hex,
  bytes: z.number().int().positive(),
});
const dim = z.union([z.literal('batch'), z.number().int().positive()]);

export const DTYPES = ['fp32', 'int8', 'fp16', 'int8_static', 'int8_weight'] as const;
export type Dtype = (typeof DTYPES)[number];

/** How a text longer than context_length is cut (FORMAT.md "Text path"). */
export const TRUNCATIONS = ['right', 'right_keep_eos'] as const;
export type Truncation = (typeof TRUNCATIONS)[number];

const tower = <T extends 'float32' | 'int64'>(inputDtype: T) =>
  z.object({
    input: z.object({ name: z.string().min(1), dtype: z.literal(inputDtype), shape: z.array(dim) }),
    output: z.object({ name: z.string().min(1), dtype: z.literal('float32'), shape: z.array(dim) }),
    files: z.partialRecord(z.enum(DTYPES), fileRef),
  });

export const manifestSchema = z.object({
  format: z.literal('edgeclip-model/1'),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  version: z.string(),
  description: z.string().optional(),
  embedding_dim: z.number().int().positive(),
  // One dtype for both towers, or one per tower (the quantization report may favour different ones).
  default_dtype: z.union([z.enum(DTYPES), z.object({ image: z.enum(DTYPES), text: z.enum(DTYPES) })]),
  towers: z.object({ image: tower('float32'), text: tower('int64') }),
  preprocess: z.object({
    image: z.object({
      resize: z.object({
        shortest_edge: z.number().int().positive(),
        interpolation: z.enum(['bicubic', 'bilinear']),
      }),
      crop: z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
      rescale: z.number().positive(),
      mean: z.tuple([z.number(), z.number(), z.number()]),
      std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
      channel_order: z.literal('RGB'),
      layout: z.literal('NCHW'),
    }),
    text: z.object({
      tokenizer: fileRef,
      context_length: z.number().int().positive(),
      pad_id: z.number().int().nonnegative(),
      truncation: z.enum(TRUNCATIONS),
    }),
  }),
  scoring: z.object({ logit_scale: z.number().positive(), logit_bias: z.number().nullable().optional() }),
  zero_shot: z.object({ templates: z.array(z.string().includes('{}')).min(1) }),
  training: z.record(z.string(), z.unknown()).optional(),
  parity: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ImagePreprocessConfig = Manifest['preprocess']['image'];
export type TextPreprocessConfig = Manifest['preprocess']['text'];
export type TowerName = keyof Manifest['towers'];

/** Parses a manifest; returns a readable list of problems instead of throwing. */
export function parseManifest(json: unknown): { ok: true; manifest: Manifest } | { ok: false; problems: string } {
  const result = manifestSchema.safeParse(json);
  if (result.success) return { ok: true, manifest: result.data };
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return { ok: false, problems };
}

/** The dtypes for which both towers have a file: what the service can actually serve. */
export function servableDtypes(manifest: Manifest): Dtype[] {
  return DTYPES.filter((d) => manifest.towers.image.files[d] && manifest.towers.text.files[d]);
}

export interface TowerDtypes {
  image: Dtype;
  text: Dtype;
}

/** The dtype of each tower: `requested` for both, else the manifest's default (one or per tower). */
export function towerDtypes(manifest: Manifest, requested?: Dtype): TowerDtypes {
  if (requested) return { image: requested, text: requested };
  const d = manifest.default_dtype;
  return typeof d === 'string' ? { image: d, text: d } : d;
}

