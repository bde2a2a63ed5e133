// Per-isolate session cache: one session per key (e.g. "<model id>/<file>@<sha256>"), shared by
// concurrent requests, so a model is loaded into wasm memory once per isolate.
import type { EncoderSession } from './session';
import { createEncoderSession } from './session';

const sessions = new Map<string, Promise<EncoderSession>>();

/**
 * Returns the cached session for `key`, creating it from `loadBytes()` on first use. Concurrent
 * callers share one load; a failed load is forgotten so the next call tries again.
 */
export function getEncoderSession(key: string, loadBytes: () => Promise<Uint8Array>): Promise<EncoderSession> {
  let pending = sessions.get(key);
  if (!pending) {
    pending = loadBytes().then(createEncoderSession);
    sessions.set(key, pending);
    pending.catch(() => {
      if (sessions.get(key) === pending) sessions.delete(key);
    });
  }
  return pending;
}

/** Drops and disposes the session for `key` (e.g. when a model package is replaced). */
export async function evictEncoderSession(key: string): Promise<void> {
  const pending = sessions.get(key);
  sessions.delete(key);
  if (pending) await (await pending.catch(() => undefined))?.dispose();
}

export function cachedSessionKeys(): string[] {
  return [...sessions.keys()];
}
