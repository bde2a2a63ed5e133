// Loads model packages lazily, once per isolate, and keeps them: the first request for a
// (model, dtype) pays for the download, checks and session creation; later ones reuse it.
// A failed load is not cached, so a model fixed in R2 is served again on the next request.
import { createEncoderSession } from '../backend';
import { ApiError } from '../errors';
import { TextTokenizer } from '../preprocess/text';
import { ImageEmbedder, TextEmbedder } from './embedders';
import { towerDtypes, type Dtype, type Manifest, type TowerDtypes } from './manifest';
import { PackageStore, unavailable } from './packageStore';

export interface LoadedModel {
  manifest: Manifest;
  dtypes: TowerDtypes;
  text: TextEmbedder;
  image: ImageEmbedder;
}

export class ModelRegistry {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  /** The model, loading it on first use. `dtype` defaults to the manifest's default_dtype. */
  get(bucket: R2Bucket, id: string, dtype?: Dtype): Promise<LoadedModel> {
    const key = `${id}@${dtype ?? 'default'}`;
    let model = this.loaded.get(key);
    if (!model) {
      model = load(new PackageStore(bucket), id, dtype);
      this.loaded.set(key, model);
      model.catch(() => this.loaded.delete(key));
    }
    return model;
  }

  /** Keys ("<id>@<dtype>") of the models this isolate has loaded or is loading. */
  loadedKeys(): string[] {
    return [...this.loaded.keys()];
  }
}

async function load(store: PackageStore, id: string, requested?: Dtype): Promise<LoadedModel> {
  const manifest = await store.manifest(id);
  const dtypes = towerDtypes(manifest, requested);
  const imageFile = manifest.towers.image.files[dtypes.image];
  const textFile = manifest.towers.text.files[dtypes.text];
  if (!imageFile || !textFile) {
    const missing = [!imageFile && `image ${dtypes.image}`, !textFile && `text ${dtypes.text}`].filter(Boolean).join(' and ');
    // Asked for by the client: a bad request; the package's own default: a broken package.
    if (requested) throw new ApiError(400, 'invalid_request', `model '${id}' has no ${missing} tower`);
    throw unavailable(id, `its default_dtype names a missing ${missing} tower file`);
  }
  const [tokenizerBytes, imageBytes, textBytes] = await Promise.all([
    store.file(id, manifest.preprocess.text.tokenizer),
    store.file(id, imageFile),
    store.file(id, textFile),
  ]);
  let tokenizer: TextTokenizer;
  try {
    tokenizer = new TextTokenizer(JSON.parse(new TextDecoder().decode(tokenizerBytes)), manifest.preprocess.text);
  } catch (cause) {
    throw unavailable(id, `tokenizer.json cannot be loaded (${String(cause)})`, cause);
  }
  const settled = await Promise.allSettled([session(id, 'image', imageBytes), session(id, 'text', textBytes)]);
  const [image, text] = settled;
  if (image.status === 'rejected' || text.status === 'rejected') {
    // Free the tower that did load: wasm memory is the scarcest thing an isolate has.
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.dispose() : undefined)));
    throw image.status === 'rejected' ? image.reason : (text as PromiseRejectedResult).reason;
  }
  const [imageSession, textSession] = [image.value, text.value];
  return { manifest, dtypes, text: new TextEmbedder(textSession, tokenizer, manifest), image: new ImageEmbedder(imageSession, manifest) };
}

async function session(id: string, tower: string, bytes: Uint8Array) {
  try {
    return await createEncoderSession(bytes);
  } catch (cause) {
    throw unavailable(id, `the ${tower} tower cannot be loaded by onnxruntime (${cause instanceof Error ? cause.message : String(cause)})`, cause);
  }
}
