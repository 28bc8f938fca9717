/**
 * MPUT: many small uploads into one folder in one request (docs/protocol.md, "MPUT").
 *
 * "`MPUT folder count=N` is followed by N items, each an item line (`path size=S sha256=H`,
 * and optionally `mtime` and `mode`) and then exactly S bytes. Each item gets one answer line,
 * in order: what a one-step PUT of it would get." Every item is verified against its digest
 * and stored like any upload (a part file, fsync, rename); the folders' fsyncs are made once
 * per burst of items, before their answers go out, so an OK always means durable.
 */
import {
  BadRequestError,
  BusyError,
  InternalError,
  ReadOnlyError,
  TcpsendError,
  TooLargeError,
} from '../../errors.js';
import {
  formatErr,
  formatOk,
  joinItemPath,
  MAX_BATCH_ITEMS,
  MAX_MPUT_ITEM_BYTES,
  parseMputItem,
  type ParsedMputItem,
  type MputRequest,
  type PutRequest,
} from '../../protocol/index.js';
import type { FileInfo, FolderCache } from '../../storage/served-root.js';
import { checksumAlgorithm } from '../../hash/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { TimeSlice } from '../../storage/time-slice.js';
import { quoteRequestPath } from './common.js';
import { checkEnd, checkUpload, destinationVerdict, storeSmall } from './put.js';

/** Answers wait at most for this many items before they go out. */
const FLUSH_ITEMS = 512;

type Reply = Record<string, string | number | boolean>;

export async function handleMput(ctx: ServerContext, session: Session, req: MputRequest): Promise<HandlerResult> {
  return ctx.root.withFolders((folders) => runMput(ctx, session, req, folders));
}

async function runMput(ctx: ServerContext, session: Session, req: MputRequest, folders: FolderCache): Promise<HandlerResult> {
  // Until every item is read, an error cannot be answered in step: the items that follow
  // would be read as requests. So a refusal of the whole request closes the connection.
  session.outOfStep = true;
  if (req.count > MAX_BATCH_ITEMS) throw new BadRequestError(`MPUT takes at most ${MAX_BATCH_ITEMS} items, got ${req.count}`);
  if (!ctx.options.allowUpload) throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');

  const touched = new Set<string>();
  const answers: { line: string; stored: boolean }[] = [];
  const slice = new TimeSlice();
  const flush = async () => {
    // The renames are made durable before they are reported. If a folder cannot be synced,
    // no file stored since the last flush is reported stored: each gets the error instead.
    let failure: TcpsendError | null = null;
    for (const folder of touched) {
      try {
        ctx.root.syncFolderSync(folder);
      } catch (err) {
        failure ??= err instanceof TcpsendError ? err : new InternalError(`cannot make the uploads durable: ${(err as Error)?.message}`, { cause: err });
      }
      await slice.yieldIfDue();
    }
    touched.clear();
    if (answers.length === 0) return;
    const lines = answers.map(({ line, stored }) =>
      stored && failure ? `${formatErr(failure.wireCode, `stored but not made durable: ${failure.message}`)}\r\n` : line,
    );
    answers.length = 0;
    await session.file.write(lines.join(''));
  };
  let bytes = 0;
  let refused = 0;
  for (let index = 0; index < req.count; index++) {
    await slice.yieldIfDue();
    if (answers.length >= FLUSH_ITEMS || !session.file.hasBufferedLine()) await flush();
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
      const put: PutRequest = {
        verb: 'PUT',
        path: joinItemPath(req.path, path),
        size,
        checksum: req.checksum,
        digest,
        mtime,
        mode,
        overwrite: req.overwrite,
        eager: true,
      };
      if (ctx.root.batchesSync) {
        const reply = storeItemSync(ctx, put, body, folders, touched);
        answers.push({ line: `${formatOk(reply)}\r\n`, stored: !reply.identical });
        if (!reply.identical) bytes += item.size;
      } else {
        await flush();
        const prepared = await storeSmall(ctx, put, body, { verb: 'END', checksum: req.checksum, digest });
        bytes += (await prepared.send(session)).bytes ?? 0;
      }
    } catch (err) {
      if (session.file.closed) throw err;
      const e = err instanceof TcpsendError ? err : new InternalError(`internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      refused += 1;
      answers.push({ line: `${formatErr(e.wireCode, e.message)}\r\n`, stored: false });
    }
  }
  await flush();
  session.outOfStep = false;
  return { bytes, note: `${req.count} files${refused > 0 ? `, ${refused} refused` : ''}` };
}

/**
 * The next item's line and bytes. Until both are read the stream is out of step: an error here
 * (the connection ended, a malformed line, an item too large to hold) ends the request.
 */
async function readItem(ctx: ServerContext, session: Session, req: MputRequest, index: number): Promise<{ item: ParsedMputItem; body: Buffer }> {
  session.outOfStep = true;
  const line = await session.file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
  if (line === null) throw new BadRequestError(`the connection ended after ${index} of ${req.count} MPUT items`);
  const item = parseMputItem(line, req.checksum);
  if (item.size > MAX_MPUT_ITEM_BYTES) {
    throw new TooLargeError(`an MPUT item is at most ${MAX_MPUT_ITEM_BYTES} bytes, got ${item.size}: send larger files with PUT`);
  }
  const body = await session.file.readExactly(item.size);
  session.outOfStep = false;
  return { item, body };
}

/** One item, with synchronous calls: the checks of a one-step PUT, then storeSync. */
function storeItemSync(ctx: ServerContext, req: PutRequest, body: Buffer, folders: FolderCache, touched: Set<string>): Reply {
  const where = quoteRequestPath(req.path);
  checkUpload(ctx, req, where);
  const digest = checksumAlgorithm(req.checksum).digestOf(body);
  checkEnd(req, { verb: 'END', checksum: req.checksum, digest: req.digest! }, digest, where);
  const target = ctx.root.uploadTargetSync(req.path, folders);
  const unlock = ctx.root.tryLockTarget(target);
  if (unlock === null) throw new BusyError(`another upload to ${where} is in progress`);
  try {
    if (target.existing !== null && holdsSync(ctx, req, target.existing, digest, folders, where)) {
      return { size: req.size, [req.checksum]: digest, identical: true };
    }
    ctx.root.storeSync(target, body, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined }, folders, touched);
    return { size: req.size, [req.checksum]: digest };
  } finally {
    unlock();
  }
}

/** destinationVerdict with a synchronous hash of what is there (the hash cache first). */
function holdsSync(ctx: ServerContext, req: PutRequest, existing: FileInfo, digest: string, folders: FolderCache, where: string): boolean {
  const verdict = destinationVerdict(ctx, req, where, existing, digest, () => {
    const cached = ctx.hashCache.get(existing, req.checksum);
    if (cached !== undefined) return cached;
    const file = ctx.root.openReadSync(req.path, folders);
    try {
      const existingDigest = checksumAlgorithm(req.checksum).digestOf(file.readAll());
      ctx.hashCache.set(file.info, req.checksum, existingDigest);
      return existingDigest;
    } finally {
      file.close();
    }
  });
  return verdict === 'identical';
}
