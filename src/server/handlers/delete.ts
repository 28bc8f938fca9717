/** DELETE: remove a file, a symlink or a folder with all in it (serve --allow-delete). */
import { BusyError, ForbiddenError } from '../../errors.js';
import { formatOk, type DeleteRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { removeEntry } from '../root/index.js';
import { quoteRequestPath } from '../../files/quote-path.js';

export async function handleDelete(ctx: ServerContext, session: Session, req: DeleteRequest): Promise<HandlerResult> {
  if (!ctx.options.allowDelete) throw new ForbiddenError('this server does not delete (start it with --allow-delete)');
  const shown = ctx.root.segments(req.path).join('/');
  // A file an upload is writing is not pulled from under it.
  if (ctx.uploadLocks.isLocked(shown)) throw new BusyError(`an upload to ${quoteRequestPath(shown)} is in progress`);
  await removeEntry(ctx.root, req.path);
  await session.file.writeLine(formatOk());
  return {};
}
