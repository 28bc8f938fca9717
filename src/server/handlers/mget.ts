/**
 * MGET: many whole files of one folder in one request (docs/protocol.md, "MGET").
 *
 * "`MGET folder count=N` is followed by N item lines, each a path relative to the folder. Each
 * item gets, in order, exactly the answer `GET folder/item` would get: the header, the bytes
 * and the trailer, or one ERR line, after which the next item's answer follows."
 *
 * A folder of many small files is where per-request costs dominate: here each small file
 * costs a handful of synchronous calls (open, fstat, read, fstat, close) and a share of one
 * socket write, where a GET costs a request line, a parse, a log line and a round trip
 * through the thread pool for each call. Large files take GET's own path.
 */
import { BadRequestError, TcpsendError } from '../../errors.js';
import {
  formatErr,
  formatOk,
  joinItemPath,
  MAX_BATCH_ITEMS,
  parseMgetItem,
  type MgetRequest,
} from '../../protocol/index.js';
import type { FolderCache } from '../../storage/served-root.js';
import { createSha256 } from '../../transfer/sha256.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { prepareGet, SMALL_BODY } from './get.js';

/** Answers are gathered and written together up to this many bytes. */
const FLUSH_BYTES = 256 * 1024;

export async function handleMget(ctx: ServerContext, session: Session, req: MgetRequest): Promise<HandlerResult> {
  if (req.count > MAX_BATCH_ITEMS) {
    // The item lines that follow cannot be told from requests: answer, then close.
    session.outOfStep = true;
    throw new BadRequestError(`MGET takes at most ${MAX_BATCH_ITEMS} items, got ${req.count}`);
  }
  const folders: FolderCache = new Map();
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending.length = 0;
    pendingBytes = 0;
    await session.file.write(out);
  };
  const queue = (data: Buffer) => {
    pending.push(data);
    pendingBytes += data.length;
  };
  let bytes = 0;
  let failed = 0;
  for (let index = 0; index < req.count; index++) {
    // Before waiting for the client's next line, send what is ready.
    if (pendingBytes >= FLUSH_BYTES || !session.file.hasBufferedLine()) await flush();
    session.outOfStep = true; // an item line still to come: no ERR could be in step
    const line = await session.file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
    if (line === null) throw new BadRequestError(`the connection ended after ${index} of ${req.count} MGET items`);
    session.outOfStep = false;
    try {
      const path = joinItemPath(req.path, parseMgetItem(line));
      const whole = ctx.root.hasSyncFs ? readSmallSync(ctx, path, folders) : null;
      if (whole) {
        queue(whole.reply);
        bytes += whole.size;
      } else {
        await flush();
        const prepared = await prepareGet(ctx, { verb: 'GET', path, offset: 0, length: null, prefixSha256: null });
        bytes += (await prepared.send(session)).bytes ?? 0;
      }
    } catch (err) {
      // Mid-body, or the connection went: the stream cannot be kept in step.
      if (session.outOfStep || session.file.closed || !(err instanceof TcpsendError)) throw err;
      failed += 1;
      queue(Buffer.from(`${formatErr(err.wireCode, err.message)}\r\n`));
    }
  }
  await flush();
  session.outOfStep = false;
  return { bytes, note: `${req.count} files${failed > 0 ? `, ${failed} refused` : ''}` };
}

/**
 * A small file's whole answer (header, bytes, trailer) read with synchronous calls; null when
 * the file is too large for that, and GET's own path sends it instead.
 */
function readSmallSync(ctx: ServerContext, path: string, folders: FolderCache): { reply: Buffer; size: number } | null {
  const file = ctx.root.openReadSync(path, folders);
  try {
    const { info } = file;
    if (info.size > SMALL_BODY) return null;
    const body = file.readAll();
    let sha256 = ctx.hashCache.get(info) ?? null;
    const announced = sha256;
    if (sha256 === null) {
      sha256 = createSha256().update(body).digest('hex');
      ctx.hashCache.set(info, sha256);
    }
    const header = formatOk({ size: info.size, offset: 0, length: info.size, mtime: info.mtimeMs, mode: info.mode, sha256: announced });
    const reply = Buffer.concat([
      Buffer.from(`${header}\r\n`, 'latin1'),
      body,
      Buffer.from(`${formatOk({ sha256 })}\r\n`, 'latin1'),
    ]);
    return { reply, size: info.size };
  } finally {
    file.close();
  }
}
