/**
 * MPUT: many small uploads into one folder in one request (docs/protocol.md, "MPUT").
 *
 * "`MPUT folder count=N` is followed by N items, each an item line (`path size=S sha256=H`,
 * and optionally `mtime` and `mode`) and then exactly S bytes. Each item gets one answer line,
 * in order: what a one-step PUT of it would get." Every item is verified against its SHA-256
 * and stored like any upload (a part file, fsync, rename); the folders' fsyncs are made once
 * per burst of items, before their answers go out, so an OK always means durable.
 *
 * A burst ends every FLUSH_ITEMS items, or once answers have waited FLUSH_MS (while the items
 * that follow are slow to come), or with the request: on a fast link a request of a hundred
 * small files gets its answers in one write, and each folder it touched one fsync.
 */
import { BadRequestError, InternalError, ReadOnlyError, TcpsendError, TooLargeError } from '../../errors.js';
import {
  formatErr,
  formatPutResult,
  joinItemPath,
  MAX_BATCH_ITEMS,
  MAX_MPUT_ITEM_BYTES,
  parseMputItem,
  type ParsedMputItem,
  type MputRequest,
} from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { syncFolders, type Folder, type FolderScope } from '../root/index.js';
import { storeUpload } from '../upload.js';

/** Answers wait at most for this many items before they go out... */
const FLUSH_ITEMS = 512;
/** ...and at most about this long (checked whenever the handler waits or yields). */
const FLUSH_MS = 10;

export async function handleMput(ctx: ServerContext, session: Session, req: MputRequest): Promise<HandlerResult> {
  return ctx.root.withScope((scope) => runMput(ctx, session, req, scope));
}

async function runMput(ctx: ServerContext, session: Session, req: MputRequest, scope: FolderScope): Promise<HandlerResult> {
  // Until every item is read, an error cannot be answered in step: the items that follow
  // would be read as requests. So a refusal of the whole request closes the connection.
  session.markOutOfStep();
  if (req.count > MAX_BATCH_ITEMS) throw new BadRequestError(`MPUT takes at most ${MAX_BATCH_ITEMS} items, got ${req.count}`);
  if (!ctx.options.allowUpload) throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');

  const touched = new Set<Folder>();
  const answers: { line: string; stored: boolean }[] = [];
  const slice = ctx.root.workSlice;
  let late: NodeJS.Timeout | null = null;
  const flush = async () => {
    if (late !== null) clearTimeout(late);
    late = null;
    // The renames are made durable before they are reported. If a folder cannot be synced,
    // no file stored since the last flush is reported stored: each gets the error instead.
    let failure: TcpsendError | null = null;
    try {
      syncFolders(ctx.root, touched, scope);
    } catch (err) {
      failure = err instanceof TcpsendError ? err : new InternalError(`cannot make the uploads durable: ${(err as Error)?.message}`, { cause: err });
    }
    if (answers.length === 0) return;
    const lines = answers.map(({ line, stored }) =>
      stored && failure ? `${formatErr(failure.wireCode, `stored but not made durable: ${failure.message}`)}\r\n` : line,
    );
    answers.length = 0;
    await session.file.write(lines.join(''));
  };
  /** The items held answers back and the next is not here yet: they go out if it is slow to come. */
  const flushSoon = () => {
    late ??= setTimeout(() => {
      late = null;
      flush().catch(() => {}); // a broken connection fails the handler's next read or write
    }, FLUSH_MS);
  };
  let bytes = 0;
  let refused = 0;
  try {
    for (let index = 0; index < req.count; index++) {
      await slice.yieldIfDue();
      if (answers.length >= FLUSH_ITEMS) await flush();
      else if (answers.length > 0 && !session.file.hasBufferedLine()) flushSoon();
      let item: ParsedMputItem;
      let body: Buffer;
      try {
        ({ item, body } = await readItem(ctx, session, req, index));
      } catch (err) {
        // The request cannot go on: the items stored so far still get their answers (made
        // durable first), then the refusal, then the connection closes.
        await flush().catch(() => {});
        throw err;
      }
      try {
        if (item.error) throw item.error; // a bad path, mtime or mode: this item's own error
        const { path, size, digest, mtime, mode } = item.item;
        const put = { path: joinItemPath(req.path, path), size, checksum: req.checksum, digest, mtime, mode, overwrite: req.overwrite };
        const storing = storeUpload(ctx, session, put, body, digest, scope, touched, false);
        const { identical } = storing instanceof Promise ? await storing : storing;
        answers.push({ line: `${formatPutResult(size, req.checksum, digest, identical)}\r\n`, stored: !identical });
        if (!identical) bytes += item.size;
      } catch (err) {
        if (session.file.closed) throw err;
        const e = err instanceof TcpsendError ? err : new InternalError(`internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        refused += 1;
        answers.push({ line: `${formatErr(e.wireCode, e.message)}\r\n`, stored: false });
      }
    }
    await flush();
  } finally {
    if (late !== null) clearTimeout(late);
  }
  session.markInStep();
  return { bytes, note: `${req.count} files${refused > 0 ? `, ${refused} refused` : ''}` };
}

/**
 * The next item's line and bytes. Until both are read the stream is out of step (as it is for
 * the whole request, see runMput): an error here (the connection ended, a malformed line, an
 * item too large to hold) ends the request.
 */
async function readItem(ctx: ServerContext, session: Session, req: MputRequest, index: number): Promise<{ item: ParsedMputItem; body: Buffer }> {
  const { count } = req;
  const line = await session.file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
  if (line === null) throw new BadRequestError(`the connection ended after ${index} of ${count} MPUT items`);
  const item = parseMputItem(line, req.checksum);
  if (item.size > MAX_MPUT_ITEM_BYTES) {
    throw new TooLargeError(`an MPUT item is at most ${MAX_MPUT_ITEM_BYTES} bytes, got ${item.size}: send larger files with PUT`);
  }
  const body = await session.file.readExactly(item.size);
  return { item, body };
}
