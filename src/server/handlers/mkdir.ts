/** MKDIR: create a folder and its parents (uploads must be on). */
import { ReadOnlyError } from '../../errors.js';
import { formatOk, type MkdirRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

export async function handleMkdir(ctx: ServerContext, session: Session, req: MkdirRequest): Promise<HandlerResult> {
  if (!ctx.options.allowUpload) throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');
  ctx.root.mkdirs(req.path, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
  await session.file.writeLine(formatOk());
  return {};
}
