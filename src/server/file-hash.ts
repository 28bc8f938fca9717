/** The digest of a whole served file in one checksum: from the cache, or read (and then cached). */
import {
  checksumAlgorithm,
  createHasher,
  hashFileRange,
  takeHashWorker,
  takeReceiver,
  WORKER_HASH_MIN_BYTES,
  type ChecksumName,
  type HashWorker,
} from '../hash/index.js';
import { abortable } from './cancel.js';
import type { ServerContext } from './context.js';
import { SMALL_BODY } from './reply.js';
import type { OpenedFile, OpenFile } from './root/index.js';

/**
 * A worker thread to hash `bytes` of `file` on in `checksum`, or null to do it on this thread:
 * the one place that decides. Worth it for large amounts only, only where the descriptor is
 * the kernel's (not on an injected file system), only for a hash slow enough to want a thread
 * (SHA-256, not BLAKE3), and while one is free.
 */
export function hashWorkerFor(file: OpenFile, bytes: number, checksum: ChecksumName): HashWorker | null {
  return bytes >= WORKER_HASH_MIN_BYTES && file.kernelFd !== null ? takeHashWorker(checksum) : null;
}

/**
 * Where a large upload body is received, hashed and written (SocketFile.receiveInto): a
 * worker's ring, or for BLAKE3 a ring hashed on this thread; null for a small body or an
 * injected file system, which take the plain path.
 */
export function receiverFor(file: OpenFile, bytes: number, checksum: ChecksumName): HashWorker | null {
  return bytes >= WORKER_HASH_MIN_BYTES && file.kernelFd !== null ? takeReceiver(checksum) : null;
}

/**
 * A small file is read at once with a synchronous call; a large one in chunks, each checking
 * `signal` (so the hashing stops when the client leaves or the server shuts down).
 */
export async function fileDigest(
  ctx: ServerContext,
  { file, info }: OpenedFile,
  checksum: ChecksumName,
  signal: AbortSignal,
  progress?: { bytes: number },
): Promise<string> {
  const cached = ctx.hashCache.get(info, checksum);
  if (cached !== undefined) return cached;
  let digest: string;
  if (info.size <= SMALL_BODY) {
    const body = Buffer.allocUnsafe(info.size);
    file.readSyncInto(body, 0);
    digest = checksumAlgorithm(checksum).digestOf(body);
  } else {
    digest = (await hashFileRange(abortable(file, signal, progress), 0, info.size, createHasher(checksum))).digest();
  }
  ctx.hashCache.set(info, checksum, digest);
  return digest;
}
