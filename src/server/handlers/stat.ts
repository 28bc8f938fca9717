/** STAT: type, size, mtime, mode, and with hash=1 the digest (from the cache when it can). */
import { formatOk, type StatRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { fileDigest } from './hash.js';

export async function handleStat(ctx: ServerContext, session: Session, req: StatRequest): Promise<HandlerResult> {
  const info = await ctx.root.stat(req.path);
  const digest = info.type === 'file' && req.hash ? await fileDigest(ctx, req.path, req.checksum) : null;
  await session.file.writeLine(
    formatOk({
      type: info.type,
      size: info.type === 'file' ? info.size : null,
      mtime: info.mtimeMs,
      mode: info.mode,
      [req.checksum]: digest,
    }),
  );
  return {};
}
