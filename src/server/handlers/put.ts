/**
 * PUT: take an upload into a partial file, offer to resume one, and make it appear under its
 * name only after fsync and a SHA-256 match (docs/protocol.md, "PUT"). The steps are the
 * upload pipeline's (../upload.ts); this module speaks the protocol around them.
 */
import { BadRequestError, FileChangedError, TcpsendError } from '../../errors.js';
import { formatOk, formatPutResult, parseRequest, type PutRequest, type Request } from '../../protocol/index.js';
import { createHasher, hashFileRange, type Hasher } from '../../hash/index.js';
import { digestKey } from '../../protocol/index.js';
import type { Writable } from 'node:stream';
import type { ReceiveTarget } from '../../io/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { readyReply, type PreparedReply } from '../reply.js';
import { commitPart, discardPart, openPart, uploadTarget } from '../root/index.js';
import {
  admitUpload,
  checkDeclaredChecksum,
  checkDigest,
  checkFreeSpace,
  decideUpload,
  lockUpload,
  receiveUpload,
  uploadBody,
  type UploadRequest,
} from '../upload.js';
import { quoteRequestPath, SMALL_FILE_BYTES } from '../../files/index.js';
import { keepAlive } from '../progress.js';

export async function handlePut(ctx: ServerContext, session: Session, req: PutRequest): Promise<HandlerResult> {
  const where = quoteRequestPath(req.path);
  // Until the body is in, a refusal of a one-step PUT must read past it to stay in step.
  const refuse = async (err: unknown): Promise<never> => {
    if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
    throw err;
  };
  let target;
  let lock;
  const scope = ctx.root.newScope();
  try {
    try {
      target = uploadTarget(ctx.root, admitUpload(ctx, req), scope);
      lock = await lockUpload(ctx, session, target.shown, true);
    } catch (err) {
      return await refuse(err);
    }
    try {
      let verdict;
      try {
        // Whether what is there is the same content may take a hash of a large file.
        verdict = await keepAlive(ctx, session, decideUpload(ctx, session, req, target, req.digest, scope));
      } catch (err) {
        return await refuse(err);
      }
      if (verdict === 'identical') {
        if (req.eager) {
          await drainBody(session, req.size);
          await session.file.writeLine(formatPutResult(req.size, req.checksum, req.digest!, true));
        } else {
          await session.file.writeLine(formatOk({ offset: req.size, identical: true }));
        }
        return { bytes: 0, note: 'identical' };
      }
      return await receive(ctx, session, req, where, lock);
    } finally {
      lock.release();
    }
  } finally {
    scope.close();
  }
}

async function receive(ctx: ServerContext, session: Session, req: PutRequest, where: string, lock: Awaited<ReturnType<typeof lockUpload>>): Promise<HandlerResult> {
  let part;
  try {
    part = openPart(ctx.root, req.path);
  } catch (err) {
    if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
    throw err;
  }
  let done = false;
  try {
    let held = part.size;
    if (held > req.size || req.eager) {
      part.truncate(0);
      held = 0;
    }
    let hash: Hasher = createHasher(req.checksum);
    if (held > 0) await hashFileRange(part.file, 0, held, hash);
    // Checked before the offer (or, one-step, before the body), so the refusal stays in step.
    try {
      await checkFreeSpace(ctx, req.size - held, where);
    } catch (err) {
      if (req.eager) await drainBody(session, req.size);
      throw err;
    }
    // "The server's first answer gives `offset` ... and `part_sha256` ... when `offset` > 0."
    if (!req.eager) await session.file.writeLine(formatOk({ offset: held, [digestKey(req.checksum, 'part_')]: held > 0 ? hash.peek() : null }));
    const { from, digest, trailer } = await session.partway(async () => {
      let from = 0;
      if (!req.eager) {
        const data = expectVerb(parseRequest(await readLine(session)), 'DATA');
        // "`Q` = `offset` to resume or `Q` = 0 to discard the part and start over"
        if (data.offset !== 0 && data.offset !== held) {
          throw new BadRequestError(`DATA offset must be 0 or ${held}, got ${data.offset}`);
        }
        from = data.offset;
        if (from === 0 && held > 0) {
          part.truncate(0);
          hash = createHasher(req.checksum);
        }
      }
      const remaining = req.size - from;
      const body = Object.assign((sink: Writable, onChunk?: (chunk: Buffer) => void) => session.file.pipeTo(sink, remaining, { onChunk }), {
        into: (target: ReceiveTarget, onChunk?: (chunk: Buffer) => void) => session.file.receiveInto(target, remaining, { onChunk }),
      });
      const digest = await receiveUpload(part, from, remaining, hash, body, lock, req.checksum);
      return { from, digest, trailer: parseRequest(await readLine(session)) };
    });
    if (trailer.verb === 'ABORT') {
      done = true;
      discardPart(ctx.root, part);
      throw new FileChangedError(`the client says its file changed while it was being sent; ${where} not stored`);
    }
    try {
      const end = expectVerb(trailer, 'END');
      checkDigest(req, digest, end.digest, end.checksum);
    } catch (err) {
      done = true;
      discardPart(ctx.root, part);
      throw err;
    }
    done = true;
    await commitPart(ctx.root, part, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
    await session.file.writeLine(formatPutResult(req.size, req.checksum, digest));
    return { bytes: req.size - from, note: from > 0 ? `resumed from ${from}` : undefined };
  } finally {
    // A part not committed stays on disk for a later resume (or was discarded above).
    if (!done) part.close();
  }
}

async function readLine(session: Session): Promise<string> {
  const line = await session.file.readLine();
  if (line === null) throw new BadRequestError('the connection ended in the middle of an upload');
  return line;
}

function expectVerb<V extends Request['verb']>(req: Request, verb: V): Extract<Request, { verb: V }> {
  if (req.verb !== verb) throw new BadRequestError(`expected ${verb} here, got ${req.verb}`);
  return req as Extract<Request, { verb: V }>;
}

/** Read and drop an upload body (and its END/ABORT line) the server refused. */
async function drainBody(session: Session, size: number): Promise<void> {
  await session.partway(async () => {
    let left = size;
    while (left > 0) {
      const chunk = await session.file.read(Math.min(left, 1024 * 1024));
      if (chunk === null) break;
      left -= chunk.length;
    }
    await readLine(session);
  });
}

// ---------------------------------------------------------------------------------------------
// Small one-step uploads, pipelined

/** One-step uploads up to this size are read whole, then stored while the next are read. */
export const SMALL_PUT = SMALL_FILE_BYTES;

export function isSmallEagerPut(req: Request): req is PutRequest {
  return req.verb === 'PUT' && req.eager && req.size <= SMALL_PUT;
}

/**
 * Read a small one-step upload's body and trailer off the connection (in turn, as the stream
 * requires), and return its storing as a prepared reply, whose answer goes out in order. The
 * stream stays in step whatever the outcome, since the whole body is read first.
 */
export async function prepareSmallPut(
  ctx: ServerContext,
  session: Session,
  req: PutRequest,
): Promise<{ stored: Promise<PreparedReply>; closeAfter?: boolean }> {
  const body = await session.file.readExactly(req.size);
  const trailerLine = await readLine(session);
  let trailer: Request;
  try {
    trailer = parseRequest(trailerLine);
  } catch (err) {
    // As after a streamed body: a malformed END is answered, and the connection closed.
    const failed = Promise.reject(err);
    failed.catch(() => {});
    return { stored: failed, closeAfter: true };
  }
  const stored = storeOneStep(ctx, session, req, body, trailer);
  stored.catch(() => {}); // awaited in turn by the caller
  return { stored };
}

async function storeOneStep(ctx: ServerContext, session: Session, req: UploadRequest, body: Buffer, trailer: Request): Promise<PreparedReply> {
  if (trailer.verb === 'ABORT') {
    admitUpload(ctx, req);
    throw new FileChangedError(`the client says its file changed while it was being sent; ${quoteRequestPath(req.path)} not stored`);
  }
  const end = expectVerb(trailer, 'END');
  checkDeclaredChecksum(req, end.checksum);
  const { identical, digest } = await uploadBody(ctx, session, req, body, end.digest);
  return readyReply(`${formatPutResult(req.size, req.checksum, digest, identical)}\r\n`, {
    bytes: identical ? 0 : req.size,
    note: identical ? 'identical' : undefined,
  });
}
