/** HASH: the SHA-256 of a range of a file, so a resuming peer can check a part it holds. */
import { BadRangeError } from '../../errors.js';
import { formatOk, type HashRequest } from '../../protocol/index.js';
import { hashFileRange } from '../../transfer/sha256.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { quoteRequestPath } from './common.js';

/** The SHA-256 of a whole file, from the cache or by reading it (and then cached). */
export async function fileSha256(ctx: ServerContext, path: string): Promise<string> {
  const { handle, info } = await ctx.root.openRead(path);
  try {
    const cached = ctx.hashCache.get(info);
    if (cached !== undefined) return cached;
    const sha256 = (await hashFileRange(handle, 0, info.size)).digest('hex');
    ctx.hashCache.set(info, sha256);
    return sha256;
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
    let sha256 = whole ? ctx.hashCache.get(info) : undefined;
    if (sha256 === undefined) {
      sha256 = (await hashFileRange(handle, req.offset, length)).digest('hex');
      if (whole) ctx.hashCache.set(info, sha256);
    }
    await session.file.writeLine(formatOk({ sha256, offset: req.offset, length, size: info.size }));
    return {};
  } finally {
    await handle.close();
  }
}
