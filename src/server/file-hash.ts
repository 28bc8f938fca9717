/** The digest of a whole served file in one checksum: from the cache, or read (and then cached). */
import { checksumAlgorithm, createHasher, hashFileRange, type ChecksumName } from '../hash/index.js';
import { abortable } from './cancel.js';
import type { ServerContext } from './context.js';
import { SMALL_BODY } from './reply.js';
import type { OpenedFile } from './root/index.js';

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
