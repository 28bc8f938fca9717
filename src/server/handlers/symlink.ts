/**
 * SYMLINK: make a symlink whose target is relative and stays inside the root (uploads must be
 * on). An entry already there is replaced under PUT's rules: the same link is `identical=1`;
 * anything else needs `overwrite=1` and `serve --allow-overwrite`; a folder is never replaced.
 */
import { ExistsError, ReadOnlyError } from '../../errors.js';
import { formatOk, type SymlinkRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { checkLinkTarget, placeSymlink } from '../root/index.js';
import { lockUpload } from '../upload.js';
import { quoteRequestPath } from '../../files/quote-path.js';

export async function handleSymlink(ctx: ServerContext, session: Session, req: SymlinkRequest): Promise<HandlerResult> {
  if (!ctx.options.allowUpload) throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');
  const segments = ctx.root.segments(req.path);
  checkLinkTarget(ctx.root, segments, req.target);
  const shown = segments.join('/');
  const lock = await lockUpload(ctx, session, shown, true);
  let made: boolean;
  try {
    made = placeSymlink(ctx.root, segments, req.target, (now) => {
      if (now.type === 'none') return true;
      if (now.type === 'link' && now.target === req.target) return false;
      if (req.overwrite && ctx.options.allowOverwrite) return true;
      const where = quoteRequestPath(shown);
      throw new ExistsError(
        !req.overwrite
          ? `${where} exists on the server (ask with overwrite=1 to replace it)`
          : `${where} exists and this server does not replace files (start it with --allow-overwrite)`,
      );
    });
  } finally {
    lock.release();
  }
  await session.file.writeLine(formatOk({ identical: made ? null : true }));
  return { note: made ? undefined : 'identical' };
}
