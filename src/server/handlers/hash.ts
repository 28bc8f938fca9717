/** HASH: the digest of a range of a file, so a resuming peer can check a part it holds. */
import { BadRangeError } from '../../errors.js';
import { createHasher, hashFileRange, type ChecksumName } from '../../hash/index.js';
import { formatOk, type HashRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { quoteRequestPath } from './common.js';

/** The `checksum` digest of a whole file, from the cache or by reading it (and then cached). */
export async function fileDigest(ctx: ServerContext, path: string, checksum: ChecksumName): Promise<string> {
  const { handle, info } = await ctx.root.openRead(path);
  try {
    const cached = ctx.hashCache.get(info, checksum);
    if (cached !== undefined) return cached;
    const digest = (await hashFileRange(handle, 0, info.size, createHasher(checksum))).digest();
    ctx.hashCache.set(info, checksum, digest);
    return digest;
  } finally {
    await handle.close();
  }
}

export async function handleHash(ctx: ServerContext, session: Session, req: HashRequest): Promise<HandlerResult> {
  const { handle, info } = await ctx.root.openRead(req.path);
  try {
    if (req.offset > info.size) {
      throw new BadRangeError(`offset ${req.offset} is past the end of ${quoteRequestPath(req.path)} (${info.size} bytes)`);
    }
    const length = req.length === null ? info.size - req.offset : req.length;
    if (req.offset + length > info.size) {
      throw new BadRangeError(
        `bytes ${req.offset}+${length} run past the end of ${quoteRequestPath(req.path)} (${info.size} bytes)`,
      );
    }
    const whole = req.offset === 0 && length === info.size;
    let digest = whole ? ctx.hashCache.get(info, req.checksum) : undefined;
    if (digest === undefined) {
      digest = (await hashFileRange(handle, req.offset, length, createHasher(req.checksum))).digest();
      if (whole) ctx.hashCache.set(info, req.checksum, digest);
    }
    await session.file.writeLine(formatOk({ [req.checksum]: digest, offset: req.offset, length, size: info.size }));
    return {};
  } finally {
    await handle.close();
  }
}
