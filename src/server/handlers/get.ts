/** GET: a whole file or a range, with the whole file's SHA-256 in a trailer (docs/protocol.md). */
import { BadRangeError, FileChangedError, PrefixMismatchError } from '../../errors.js';
import { formatErr, formatOk, type GetRequest } from '../../protocol/index.js';
import { createSha256, hashFileRange, peekDigest, type Hash } from '../../transfer/sha256.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { fileChanged, quoteRequestPath } from './common.js';

export async function handleGet(ctx: ServerContext, session: Session, req: GetRequest): Promise<HandlerResult> {
  const { handle, info } = await ctx.root.openRead(req.path);
  try {
    // "an `offset` past the size is `ERR BAD_RANGE`"
    if (req.offset > info.size) {
      throw new BadRangeError(
        `offset ${req.offset} is past the end of ${quoteRequestPath(req.path)} (${info.size} bytes)`,
      );
    }
    // "A `length` past the end is cut to the end (the reply says how many bytes follow)"
    const available = info.size - req.offset;
    const length = req.length === null ? available : Math.min(req.length, available);
    const cached = ctx.hashCache.get(info) ?? null;

    // The whole file's hash is needed unless cached; the prefix's, to check a resume.
    let hash: Hash | null = null;
    if (cached === null || req.prefixSha256 !== null) {
      hash = req.offset > 0 ? await hashFileRange(handle, 0, req.offset) : createSha256();
      if (req.prefixSha256 !== null && req.offset > 0 && peekDigest(hash) !== req.prefixSha256) {
        throw new PrefixMismatchError(
          `the first ${req.offset} bytes of ${quoteRequestPath(req.path)} differ from the receiver's: start over`,
        );
      }
      if (cached !== null) hash = null;
    }

    await session.file.writeLine(
      formatOk({
        size: info.size,
        offset: req.offset,
        length,
        mtime: info.mtimeMs,
        mode: info.mode,
        sha256: cached,
      }),
    );
    session.outOfStep = true;
    const running = hash;
    const sent = await session.file.sendfile(handle, req.offset, length, {
      onChunk: running ? (chunk) => running.update(chunk) : undefined,
    });
    if (sent < length) {
      // The file shrank under us: the announced bytes cannot all come, so the stream cannot
      // be kept in step. The error closes the connection.
      throw new FileChangedError(`${quoteRequestPath(req.path)} shrank while it was being sent`);
    }
    let sha256 = cached;
    if (running) {
      const end = req.offset + length;
      if (end < info.size) await hashFileRange(handle, end, info.size - end, running);
      sha256 = running.digest('hex');
    }
    const after = await handle.stat();
    if (fileChanged(info, after)) {
      await session.file.writeLine(
        formatErr('CHANGED', `${quoteRequestPath(req.path)} changed while it was being sent: do not trust these bytes`),
      );
    } else {
      if (cached === null && sha256 !== null) ctx.hashCache.set(info, sha256);
      await session.file.writeLine(formatOk({ sha256 }));
    }
    session.outOfStep = false;
    return { bytes: sent, note: req.offset > 0 ? `from ${req.offset}` : undefined };
  } finally {
    await handle.close();
  }
}
