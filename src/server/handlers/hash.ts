/** HASH: the SHA-256 of a range of a file, so a resuming peer can check a part it holds. */
import { BadRangeError } from '../../errors.js';
import { formatOk, type HashRequest } from '../../protocol/index.js';
import { createHasher, hashFileRange } from '../../hash/index.js';
import { abortable } from '../cancel.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { fileDigest } from '../file-hash.js';
import { keepAlive } from '../progress.js';
import { quoteRequestPath } from '../../files/quote-path.js';

export async function handleHash(ctx: ServerContext, session: Session, req: HashRequest): Promise<HandlerResult> {
  const opened = ctx.root.openRead(req.path);
  const { file, info } = opened;
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
    const progress = { bytes: 0 };
    const hashing =
      req.offset === 0 && length === info.size
        ? fileDigest(ctx, opened, req.checksum, session.beforeAnswer, progress)
        : hashFileRange(abortable(file, session.beforeAnswer, progress), req.offset, length, createHasher(req.checksum)).then((hash) => hash.digest());
    const digest = await keepAlive(ctx, session, hashing, () => ({ hashed: progress.bytes, length }));
    await session.file.writeLine(formatOk({ [req.checksum]: digest, offset: req.offset, length, size: info.size }));
    return {};
  } finally {
    file.close();
  }
}
