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
import { BadRequestError, InternalError, TcpsendError } from '../../errors.js';
import {
  formatErr,
  joinItemPath,
  MAX_BATCH_ITEMS,
  parseMgetItem,
  type MgetRequest,
} from '../../protocol/index.js';
import { SlabPool } from '../../io/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { layOutSmallFile, SMALL_BODY } from '../reply.js';
import type { FolderScope } from '../root/index.js';
import type { ChecksumName } from '../../hash/index.js';
import { prepareGet } from './get.js';

/** Answers are gathered in slabs of this size and written a slab at a time. */
const SLAB_BYTES = 256 * 1024;
const slabPool = new SlabPool(SLAB_BYTES, 8);

/**
 * Answers laid end to end in large buffers ("slabs"): a small file's header, bytes and
 * trailer are written straight into place, so there is no buffer per file and no copy to
 * gather them. A full slab goes to the socket whole, and a new one is taken.
 */
class ReplySlabs {
  private slab = slabPool.take();
  private used = 0;
  private readonly full: { slab: Buffer; used: number }[] = [];

  /** `bytes` of room at the end: the buffer and where the room starts. Nothing is kept until commit. */
  reserve(bytes: number): { buffer: Buffer; at: number } {
    if (this.used + bytes > this.slab.length) {
      this.full.push({ slab: this.slab, used: this.used });
      this.slab = slabPool.take(bytes);
      this.used = 0;
    }
    return { buffer: this.slab, at: this.used };
  }

  commit(bytes: number): void {
    this.used += bytes;
  }

  append(text: string): void {
    const length = Buffer.byteLength(text);
    const { buffer, at } = this.reserve(length);
    buffer.write(text, at);
    this.commit(length);
  }

  get pendingBytes(): number {
    return this.used + this.full.reduce((sum, { used }) => sum + used, 0);
  }

  /** Write everything gathered so far; each slab goes back to the pool once the kernel has it. */
  async flush(session: Session): Promise<void> {
    this.full.push({ slab: this.slab, used: this.used });
    this.slab = slabPool.take();
    this.used = 0;
    for (const { slab, used } of this.full.splice(0)) {
      if (used > 0) await session.file.writeOwned(slab.subarray(0, used), () => slabPool.release(slab));
      else slabPool.release(slab);
    }
  }

  /** Give the slab in hand back (the request is over). */
  dispose(): void {
    slabPool.release(this.slab);
  }
}

export async function handleMget(ctx: ServerContext, session: Session, req: MgetRequest): Promise<HandlerResult> {
  return ctx.root.withScope((scope) => runMget(ctx, session, req, scope));
}

async function runMget(ctx: ServerContext, session: Session, req: MgetRequest, scope: FolderScope): Promise<HandlerResult> {
  if (req.count > MAX_BATCH_ITEMS) {
    // The item lines that follow cannot be told from requests: answer, then close.
    session.markOutOfStep();
    throw new BadRequestError(`MGET takes at most ${MAX_BATCH_ITEMS} items, got ${req.count}`);
  }
  const out = new ReplySlabs();
  let bytes = 0;
  let failed = 0;
  const slice = ctx.root.workSlice;
  for (let index = 0; index < req.count; index++) {
    await slice.yieldIfDue();
    // Before waiting for the client's next line, send what is ready.
    if (out.pendingBytes >= SLAB_BYTES || !session.file.hasBufferedLine()) await out.flush(session);
    // An item line still to come: no ERR could be in step until it is read.
    const line = await session.partway(async () => {
      const read = await session.file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
      if (read === null) throw new BadRequestError(`the connection ended after ${index} of ${req.count} MGET items`);
      return read;
    });
    try {
      const path = joinItemPath(req.path, parseMgetItem(line));
      const size = readSmall(ctx, path, req.checksum, scope, out);
      if (size !== null) {
        bytes += size;
      } else {
        await out.flush(session);
        const prepared = await prepareGet(ctx, session, { verb: 'GET', path, offset: 0, length: null, checksum: req.checksum, prefixDigest: null }, scope);
        bytes += (await prepared.send(session)).bytes ?? 0;
      }
    } catch (err) {
      // Mid-body, or the connection went: the stream cannot be kept in step.
      if (session.outOfStep || session.file.closed) throw err;
      const e = err instanceof TcpsendError ? err : new InternalError(`internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      failed += 1;
      out.append(`${formatErr(e.wireCode, e.message)}\r\n`);
    }
  }
  await out.flush(session);
  out.dispose();
  // Every item line is read (the session loop took the request as out of step until then).
  session.markInStep();
  return { bytes, note: `${req.count} files${failed > 0 ? `, ${failed} refused` : ''}` };
}

/**
 * A small file's whole answer (header, bytes, trailer), laid straight into `out`; its size, or
 * null when the file is too large for that and GET's own path is to send it.
 */
function readSmall(ctx: ServerContext, path: string, checksum: ChecksumName, scope: FolderScope, out: ReplySlabs): number | null {
  const opened = ctx.root.openRead(path, scope);
  try {
    const { info } = opened;
    if (info.size > SMALL_BODY) return null;
    out.commit(layOutSmallFile(ctx, path, opened, { offset: 0, length: info.size, checksum, prefixDigest: null }, (bytes) => out.reserve(bytes)));
    return info.size;
  } finally {
    opened.file.close();
  }
}
