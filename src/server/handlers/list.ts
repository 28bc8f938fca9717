/** LIST: a folder's entries, one line each, then a line holding a single `.`. */
import { END_OF_LIST, formatEntry, formatOk, type ListRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

/** Entries are batched into writes of about this size rather than one write per line. */
const BATCH_BYTES = 64 * 1024;

export async function handleList(ctx: ServerContext, session: Session, req: ListRequest): Promise<HandlerResult> {
  const batches = ctx.root.listBatches(req.path, { recursive: req.recursive, links: req.links });
  const iterator = batches[Symbol.asyncIterator]();
  let count = 0;
  try {
    // Read the first entries before answering, so a missing folder or a file is a clean ERR.
    let next = await iterator.next();
    await session.file.writeLine(formatOk({ type: 'dir' }));
    await session.partway(async () => {
      let text = '';
      while (!next.done) {
        for (const entry of next.value) {
          text += `${formatEntry(entry)}\r\n`;
          if (text.length >= BATCH_BYTES) {
            await session.file.write(text);
            text = '';
          }
        }
        count += next.value.length;
        next = await iterator.next();
      }
      await session.file.write(`${text}${END_OF_LIST}\r\n`);
    });
  } finally {
    // A listing cut short (the client left) releases the folders it holds.
    await iterator.return?.();
  }
  return { note: `${count} entries` };
}
