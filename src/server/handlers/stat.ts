/** STAT: type, size, mtime, mode, and with hash=1 the SHA-256 (from the cache when it can). */
import { formatOk, type StatRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { fileDigest } from '../file-hash.js';
import { keepAlive } from '../progress.js';

export async function handleStat(ctx: ServerContext, session: Session, req: StatRequest): Promise<HandlerResult> {
  const info = ctx.root.stat(req.path);
  let digest: string | null = null;
  if (info.type === 'file' && req.hash) {
    const opened = ctx.root.openRead(req.path);
    try {
      const progress = { bytes: 0 };
      digest = await keepAlive(ctx, session, fileDigest(ctx, opened, req.checksum, session.beforeAnswer, progress), () => ({ hashed: progress.bytes, length: info.size }));
    } finally {
      opened.file.close();
    }
  }
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
