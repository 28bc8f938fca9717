/** GET: a whole file or a range, with the whole file's digest in a trailer (docs/protocol.md). */
import { BadRangeError, FileChangedError, PrefixMismatchError } from '../../errors.js';
import { formatErr, formatOk, type GetRequest } from '../../protocol/index.js';
import { createHasher, hashFileRange, takeHashWorker, WORKER_HASH_MIN_BYTES, type Hasher } from '../../hash/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import type { FileHandleLike } from '../../storage/fs-promises.js';
import { fileChanged, type FileInfo } from '../../storage/served-root.js';
import { quoteRequestPath } from './common.js';

/** Up to this size a body is read whole and goes out with its header and trailer in one write. */
export const SMALL_BODY = 256 * 1024;

/**
 * A GET in two phases. `prepareGet` does the file-system work (open, checks, and for a small
 * file the read and the hash) and may run ahead while earlier replies are still going out, so
 * a pipelined folder transfer keeps the thread pool busy instead of waiting on each file in
 * turn. The prepared reply's `send` writes it when its turn comes; `discard` releases it if
 * that turn never comes.
 */
export interface PreparedReply {
  send(session: Session): Promise<HandlerResult>;
  discard(): Promise<void>;
}

export async function handleGet(ctx: ServerContext, session: Session, req: GetRequest): Promise<HandlerResult> {
  return (await prepareGet(ctx, req)).send(session);
}

export async function prepareGet(ctx: ServerContext, req: GetRequest): Promise<PreparedReply> {
  const { handle, info } = await ctx.root.openRead(req.path);
  let handedOff = false;
  try {
    // "an `offset` past the size is `ERR BAD_RANGE`"
    if (req.offset > info.size) {
      throw new BadRangeError(
        `offset ${req.offset} is past the end of ${quoteRequestPath(req.path)} (${info.size} bytes)`,
      );
    }
    // "A `length` past the end is cut to the end (the reply says how many bytes follow)"
    const available = info.size - req.offset;
    const length = req.length === null ? available : Math.min(req.length, available);
    const cached = ctx.hashCache.get(info, req.checksum) ?? null;

    // The whole file's hash is needed unless cached; the prefix's, to check a resume.
    let hash: Hasher | null = null;
    if (cached === null || req.prefixDigest !== null) {
      hash = createHasher(req.checksum);
      if (req.offset > 0) await hashFileRange(handle, 0, req.offset, hash);
      if (req.prefixDigest !== null && req.offset > 0 && hash.peek() !== req.prefixDigest) {
        throw new PrefixMismatchError(
          `the first ${req.offset} bytes of ${quoteRequestPath(req.path)} differ from the receiver's: start over`,
        );
      }
      if (cached !== null) hash = null;
    }

    const header = formatOk({
      size: info.size,
      offset: req.offset,
      length,
      mtime: info.mtimeMs,
      mode: info.mode,
      [req.checksum]: cached,
    });
    if (length <= SMALL_BODY) {
      const whole = await readSmall(ctx, req, handle, info, { header, length, cached, hash });
      return {
        send: async (session) => {
          await session.file.write(whole);
          return { bytes: length };
        },
        discard: async () => {},
      };
    }
    handedOff = true;
    return {
      send: (session) => sendLarge(ctx, session, req, handle, info, { header, length, cached, hash }),
      discard: () => handle.close(),
    };
  } finally {
    if (!handedOff) await handle.close();
  }
}

interface ReplyPlan {
  header: string;
  length: number;
  cached: string | null;
  hash: Hasher | null;
}

/**
 * A small file: one read, and header, bytes and trailer in one buffer, so a folder of many
 * small files costs one write per file, not three. A change seen here is still a clean ERR,
 * since nothing has been sent yet.
 */
async function readSmall(
  ctx: ServerContext,
  req: GetRequest,
  handle: FileHandleLike,
  info: FileInfo,
  plan: ReplyPlan,
): Promise<Buffer> {
  const head = Buffer.from(`${plan.header}\r\n`);
  const whole = Buffer.allocUnsafe(head.length + plan.length + 80);
  head.copy(whole);
  const body = whole.subarray(head.length, head.length + plan.length);
  let got = 0;
  while (got < plan.length) {
    const { bytesRead } = await handle.read(body, got, plan.length - got, req.offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  let digest = plan.cached;
  if (plan.hash) {
    plan.hash.update(body);
    const end = req.offset + plan.length;
    if (end < info.size) await hashFileRange(handle, end, info.size - end, plan.hash);
    digest = plan.hash.digest();
  }
  if (got < plan.length || fileChanged(info, await handle.stat())) {
    throw new FileChangedError(`${quoteRequestPath(req.path)} changed while it was being read: try again`);
  }
  if (plan.cached === null && digest !== null) ctx.hashCache.set(info, req.checksum, digest);
  const trailer = `${formatOk({ [req.checksum]: digest })}\r\n`;
  const end = head.length + plan.length + whole.write(trailer, head.length + plan.length, 'latin1');
  return whole.subarray(0, end);
}

async function sendLarge(
  ctx: ServerContext,
  session: Session,
  req: GetRequest,
  handle: FileHandleLike,
  info: FileInfo,
  plan: ReplyPlan,
): Promise<HandlerResult> {
  try {
    const { length, cached } = plan;
    await session.file.writeLine(plan.header);
    session.outOfStep = true;
    const running = plan.hash;
    const end = req.offset + length;
    // An uncached large file is hashed while it is sent: on a worker thread when the hash is
    // worth one (SHA-256), else here (BLAKE3).
    const worker = running && length >= WORKER_HASH_MIN_BYTES && ctx.root.usesNodeFs ? takeHashWorker(req.checksum) : null;
    let digest = cached;
    try {
      if (worker && req.offset > 0) await worker.hashFileRange(handle.fd, 0, req.offset);
      const sent = await session.file.sendfile(handle, req.offset, length, {
        onChunk: (chunk) => {
          if (worker) return worker.push(chunk);
          running?.update(chunk);
          return undefined;
        },
      });
      if (sent < length) {
        // The file shrank under us: the announced bytes cannot all come, so the stream cannot
        // be kept in step. The error closes the connection.
        throw new FileChangedError(`${quoteRequestPath(req.path)} shrank while it was being sent`);
      }
      if (worker) {
        if (end < info.size) await worker.hashFileRange(handle.fd, end, info.size - end);
        digest = await worker.digest();
      } else if (running) {
        if (end < info.size) await hashFileRange(handle, end, info.size - end, running);
        digest = running.digest();
      }
    } finally {
      await worker?.close();
    }
    const after = await handle.stat();
    if (fileChanged(info, after)) {
      await session.file.writeLine(
        formatErr('CHANGED', `${quoteRequestPath(req.path)} changed while it was being sent: do not trust these bytes`),
      );
    } else {
      if (cached === null && digest !== null) ctx.hashCache.set(info, req.checksum, digest);
      await session.file.writeLine(formatOk({ [req.checksum]: digest }));
    }
    session.outOfStep = false;
    return { bytes: length, note: req.offset > 0 ? `from ${req.offset}` : undefined };
  } finally {
    await handle.close();
  }
}
