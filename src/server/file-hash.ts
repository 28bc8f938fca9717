/** The SHA-256 of a whole served file: from the cache, or read (and then cached). */
import { takeHashWorker, WORKER_HASH_MIN_BYTES, type HashWorker } from '../transfer/hash-worker.js';
import { createSha256, hashFileRange } from '../transfer/sha256.js';
import { abortable } from './cancel.js';
import type { ServerContext } from './context.js';
import { SMALL_BODY } from './reply.js';
import type { OpenedFile, OpenFile } from './root/index.js';

/**
 * A worker thread to hash (and for an upload, write) `bytes` of `file` on, or null to do it
 * on this thread: the one place that decides. Worth it for large amounts only, and only where
 * the descriptor is the kernel's (not on an injected file system), and while one is free.
 */
export function hashWorkerFor(file: OpenFile, bytes: number): HashWorker | null {
  return bytes >= WORKER_HASH_MIN_BYTES && file.kernelFd !== null ? takeHashWorker() : null;
}

/**
 * A small file is read at once with a synchronous call; a large one in chunks, each checking
 * `signal` (so the hashing stops when the client leaves or the server shuts down).
 */
export async function fileSha256(ctx: ServerContext, { file, info }: OpenedFile, signal: AbortSignal, progress?: { bytes: number }): Promise<string> {
  const cached = ctx.hashCache.get(info);
  if (cached !== undefined) return cached;
  let sha256: string;
  if (info.size <= SMALL_BODY) {
    const body = Buffer.allocUnsafe(info.size);
    file.readSyncInto(body, 0);
    sha256 = createSha256().update(body).digest('hex');
  } else {
    sha256 = (await hashFileRange(abortable(file, signal, progress), 0, info.size)).digest('hex');
  }
  ctx.hashCache.set(info, sha256);
  return sha256;
}
