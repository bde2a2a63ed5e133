// Reads model package files from an R2 bucket (key "<id>/<file>") and checks them against the
// manifest's sha256 and byte size, so a truncated upload or a stale file is refused, never served.
import { ApiError } from '../errors';
import { parseManifest, type Manifest } from './manifest';

export interface FileRef {
  path: string;
  sha256: string;
  bytes: number;
}

export class PackageStore {
  constructor(private readonly bucket: R2Bucket) {}

  /** Ids of every package in the bucket that has a manifest.json. */
  async listIds(): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ delimiter: '/', cursor });
      for (const prefix of page.delimitedPrefixes) ids.push(prefix.slice(0, -1));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    const withManifest = await Promise.all(ids.map(async (id) => ((await this.bucket.head(`${id}/manifest.json`)) ? id : null)));
    return withManifest.filter((id): id is string => id !== null).sort();
  }

  /** The parsed manifest; 404 when the package does not exist, 503 when it is malformed. */
  async manifest(id: string): Promise<Manifest> {
    const object = await this.bucket.get(`${id}/manifest.json`);
    if (!object) throw new ApiError(404, 'model_not_found', `model '${id}' does not exist`);
    let json: unknown;
    try {
      json = await object.json();
    } catch {
      throw unavailable(id, 'manifest.json is not valid JSON');
    }
    const parsed = parseManifest(json);
    if (!parsed.ok) throw unavailable(id, `manifest.json does not match edgeclip-model/1: ${parsed.problems}`);
    if (parsed.manifest.id !== id) throw unavailable(id, `manifest.json names model '${parsed.manifest.id}'`);
    return parsed.manifest;
  }

  /** A package file, verified against its manifest entry. */
  async file(id: string, ref: FileRef): Promise<Uint8Array> {
    const object = await this.bucket.get(`${id}/${ref.path}`);
    if (!object) throw unavailable(id, `${ref.path} is missing`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    if (bytes.byteLength !== ref.bytes) {
      throw unavailable(id, `${ref.path} has ${bytes.byteLength} bytes, the manifest says ${ref.bytes}`);
    }
    const digest = await sha256Hex(bytes);
    if (digest !== ref.sha256) throw unavailable(id, `${ref.path} fails its sha256 check (got ${digest})`);
    return bytes;
  }
}

export function unavailable(id: string, why: string, cause?: unknown): ApiError {
  return new ApiError(503, 'model_unavailable', `model '${id}' is unavailable: ${why}`, { cause });
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
