/** LIST: a folder's entries, one line each, then a line holding a single `.`. */
import { END_OF_LIST, formatEntry, formatOk, type ListRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

/** Entries are batched into writes of about this size rather than one write per line. */
const BATCH_BYTES = 64 * 1024;

export async function handleList(ctx: ServerContext, session: Session, req: ListRequest): Promise<HandlerResult> {
  const entries = ctx.root.list(req.path, { recursive: req.recursive, links: req.links });
  const iterator = entries[Symbol.asyncIterator]();
  let count = 0;
  try {
    // Read the first entry before answering, so a missing folder or a file is a clean ERR.
    let next = await iterator.next();
    await session.file.writeLine(formatOk({ type: 'dir' }));
    await session.partway(async () => {
      let batch = '';
      while (!next.done) {
        batch += `${formatEntry(next.value)}\r\n`;
        count += 1;
        if (batch.length >= BATCH_BYTES) {
          await session.file.write(batch);
          batch = '';
        }
        next = await iterator.next();
      }
      await session.file.write(`${batch}${END_OF_LIST}\r\n`);
    });
  } finally {
    // A listing cut short (the client left) releases the folders it holds.
    await iterator.return?.();
  }
  return { note: `${count} entries` };
}
