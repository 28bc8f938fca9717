/**
 * PUT: take an upload into a partial file, offer to resume one, and make it appear under its
 * name only after fsync and a SHA-256 match (docs/protocol.md, "PUT").
 */
import { statfs } from 'node:fs/promises';
import {
  BadRequestError,
  BusyError,
  ChecksumMismatchError,
  ExistsError,
  FileChangedError,
  IsDirectoryError,
  NoSpaceError,
  NotFoundError,
  ReadOnlyError,
  TcpsendError,
  TooLargeError,
  TransferInterruptedError,
} from '../../errors.js';
import { formatOk, parseRequest, type PutRequest, type Request } from '../../protocol/index.js';
import { createSha256, hashFileRange, peekDigest, type Hash } from '../../transfer/sha256.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { chunkWritable } from '../../transfer/chunk-writable.js';
import { HashWorkerError, takeHashWorker, WORKER_HASH_MIN_BYTES, workerWritable, type HashWorker } from '../../transfer/hash-worker.js';
import { toStorageError } from '../../storage/fs-errors.js';
import { checkAttributes } from '../../storage/served-root.js';
import { quoteRequestPath } from './common.js';
import { fileSha256 } from './hash.js';
import type { UploadPart } from '../../storage/upload-part.js';
import type { PreparedReply } from './get.js';

export async function handlePut(ctx: ServerContext, session: Session, req: PutRequest): Promise<HandlerResult> {
  const where = quoteRequestPath(req.path);
  let unlock: (() => void) | null;
  try {
    checkUpload(ctx, req, where);
    // tryLock checks the path (BAD_PATH, FORBIDDEN for a partial file): a refusal, so it too
    // must read past a one-step body.
    unlock = await lockPath(ctx, req.path);
  } catch (err) {
    // The one-step form sent its body already: read past it so the stream stays in step.
    if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
    throw err;
  }

  if (unlock === null) {
    if (req.eager) await drainBody(session, req.size);
    throw new BusyError(`another upload to ${where} is in progress`);
  }
  try {
    let verdict: 'identical' | 'write';
    try {
      verdict = await checkDestination(ctx, req, where, req.sha256);
    } catch (err) {
      if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
      throw err;
    }
    if (verdict === 'identical') {
      if (req.eager) {
        await drainBody(session, req.size);
        await session.file.writeLine(formatOk({ size: req.size, sha256: req.sha256, identical: true }));
      } else {
        await session.file.writeLine(formatOk({ offset: req.size, identical: true }));
      }
      return { bytes: 0, note: 'identical' };
    }
    return await receive(ctx, session, req, where);
  } finally {
    unlock();
  }
}

/**
 * The path's upload lock, waiting a little for it: the holder is often the same client's
 * previous attempt, cut a moment ago, whose handler is still writing out what arrived.
 */
const LOCK_WAIT_MS = 3000;

async function lockPath(ctx: ServerContext, path: string): Promise<(() => void) | null> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const unlock = ctx.root.tryLock(path);
    if (unlock !== null || Date.now() >= deadline) return unlock;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** READ_ONLY unless the server takes uploads. */
export function refuseIfReadOnly(ctx: ServerContext): void {
  if (!ctx.options.allowUpload) {
    throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');
  }
}

/** The checks an upload passes before its body: attributes, uploads on, size limit. */
export function checkUpload(ctx: ServerContext, req: PutRequest, where: string): void {
  // Before the body, not after it: an mtime no file can have is refused at once.
  checkAttributes({ mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
  refuseIfReadOnly(ctx);
  if (req.size > ctx.options.maxUploadBytes) {
    throw new TooLargeError(
      `${where} is ${req.size} bytes; this server takes at most ${ctx.options.maxUploadBytes} (--max-upload)`,
    );
  }
}

/**
 * What the destination says about an upload whose content hashes to `sha256` (null: not known
 * yet): 'identical' when it already holds exactly that content ("the upload is over"),
 * 'write' when the upload may go on. A folder there is IsDirectoryError; a different file is
 * ExistsError unless the client asked to overwrite and the server allows it. A symlink that
 * leads out (FORBIDDEN) or a file used as a folder (NOT_DIRECTORY) throws from the stat.
 */
async function checkDestination(
  ctx: ServerContext,
  req: PutRequest,
  where: string,
  sha256: string | null,
): Promise<'identical' | 'write'> {
  const existing = await statOrNull(ctx, req.path);
  return destinationVerdict(ctx, req, where, existing, sha256, () => fileSha256(ctx, req.path));
}

/**
 * The rules both upload paths (PUT, and MPUT's synchronous one) apply to what is at the
 * destination (`existing`, null: nothing) for an upload whose content hashes to `sha256` (null:
 * not known yet). `hashExisting` is called only when the sizes match.
 */
export function destinationVerdict<H extends string | Promise<string>>(
  ctx: ServerContext,
  req: { size: number; overwrite: boolean },
  where: string,
  existing: { type: string; size: number } | null,
  sha256: string | null,
  hashExisting: () => H,
): H extends string ? 'identical' | 'write' : Promise<'identical' | 'write'> {
  type Verdict = H extends string ? 'identical' | 'write' : Promise<'identical' | 'write'>;
  if (existing?.type === 'dir') throw new IsDirectoryError(`${where} is a folder on the server`);
  if (!existing) return 'write' as Verdict;
  const decide = (existingSha256: string | null): 'identical' | 'write' => {
    if (existingSha256 !== null && existingSha256 === sha256) return 'identical';
    refuseUnlessOverwrite(ctx, req, where);
    return 'write';
  };
  if (sha256 === null || existing.size !== req.size) return decide(null) as Verdict;
  const hashed = hashExisting();
  return (typeof hashed === 'string' ? decide(hashed) : hashed.then(decide)) as Verdict;
}

/** A different file is at the destination: ExistsError unless asked to overwrite and allowed to. */
function refuseUnlessOverwrite(ctx: ServerContext, req: { overwrite: boolean }, where: string): void {
  if (req.overwrite && ctx.options.allowOverwrite) return;
  throw new ExistsError(
    !req.overwrite
      ? `${where} exists on the server with different content (ask with --overwrite to replace it)`
      : `${where} exists and this server does not replace files (start it with --allow-overwrite)`,
  );
}

async function statOrNull(ctx: ServerContext, path: string) {
  try {
    return await ctx.root.stat(path);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

async function receive(ctx: ServerContext, session: Session, req: PutRequest, where: string): Promise<HandlerResult> {
  const part = await ctx.root.openPart(req.path).catch(async (err: unknown) => {
    if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
    throw err;
  });
  let finalized = false;
  try {
    let held = part.size;
    if (held > req.size || req.eager) {
      await part.truncate(0);
      held = 0;
    }
    let hash: Hash = held > 0 ? await hashFileRange(part.handle, 0, held) : createSha256();
    // Checked before the offer (or, one-step, before the body), so the refusal stays in step.
    try {
      await checkFreeSpace(part, req.size - held, where);
    } catch (err) {
      if (req.eager) await drainBody(session, req.size);
      throw err;
    }
    let from = 0;
    if (!req.eager) {
      // "The server's first answer gives `offset` ... and `part_sha256` ... when `offset` > 0."
      await session.file.writeLine(formatOk({ offset: held, part_sha256: held > 0 ? peekDigest(hash) : null }));
      session.outOfStep = true;
      const data = expectVerb(parseRequest(await readLine(session)), 'DATA');
      // "`Q` = `offset` to resume or `Q` = 0 to discard the part and start over"
      if (data.offset !== 0 && data.offset !== held) {
        throw new BadRequestError(`DATA offset must be 0 or ${held}, got ${data.offset}`);
      }
      from = data.offset;
      if (from === 0 && held > 0) {
        await part.truncate(0);
        hash = createSha256();
      }
    }
    session.outOfStep = true;
    const remaining = req.size - from;
    // A large body is hashed and written on a worker thread (the main thread keeps serving).
    const worker = remaining >= WORKER_HASH_MIN_BYTES && ctx.root.usesNodeFs ? takeHashWorker() : null;
    const digest = worker
      ? await receiveOnWorker(session, part, from, remaining, worker)
      : await receiveInline(session, part, hash, remaining);
    const trailer = parseRequest(await readLine(session));
    session.outOfStep = false;
    if (trailer.verb === 'ABORT') {
      await ctx.root.discardPart(part);
      throw new FileChangedError(`the client says its file changed while it was being sent; ${where} not stored`);
    }
    const end = expectVerb(trailer, 'END');
    if (end.sha256 !== digest || (req.sha256 !== null && req.sha256 !== digest)) {
      await ctx.root.discardPart(part);
      throw new ChecksumMismatchError(
        `${where} arrived with SHA-256 ${digest}, the client's is ${end.sha256}: not stored`,
      );
    }
    await ctx.root.finalizePart(part, req.path, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
    finalized = true;
    await session.file.writeLine(formatOk({ size: req.size, sha256: digest }));
    return { bytes: req.size - from, note: from > 0 ? `resumed from ${from}` : undefined };
  } finally {
    // A part not finalized stays on disk for a later resume (or was discarded above).
    if (!finalized) await part.close().catch(() => {});
  }
}

async function receiveInline(session: Session, part: UploadPart, hash: Hash, count: number): Promise<string> {
  const sink = chunkWritable((chunk) => part.write(chunk));
  try {
    await session.file.pipeTo(sink, count, { onChunk: (chunk) => hash.update(chunk) });
  } catch (err) {
    // A full disk is the client's answer, not "transfer interrupted".
    if (err instanceof TransferInterruptedError && err.cause instanceof TcpsendError) throw err.cause;
    throw err;
  } finally {
    // Even when the connection broke, every byte that arrived goes into the part: that is
    // what the next attempt resumes from. (A sink that failed has destroyed itself; its
    // error is the one already thrown.)
    if (!sink.destroyed) {
      await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
  }
  return hash.digest('hex');
}

async function receiveOnWorker(
  session: Session,
  part: UploadPart,
  from: number,
  count: number,
  worker: HashWorker,
): Promise<string> {
  try {
    if (from > 0) await worker.hashFileRange(part.handle.fd, 0, from);
    await worker.writeTo(part.handle.fd, from);
    let moved: Error | null = null;
    const out = workerWritable(worker);
    try {
      await session.file.pipeTo(out, count);
    } catch (err) {
      moved = err as Error;
      // What arrived and is still queued goes to the worker (and into the part) before it
      // finishes: nothing may reach it after.
      await new Promise<void>((resolve) => out.end(() => resolve()));
    }
    // Every byte that arrived is in the part (the worker wrote it): count it, for resume.
    const failure = worker.error;
    if (failure instanceof HashWorkerError) {
      part.noteWritten(failure.position - from);
      throw toStorageError(failure, part.requestPath);
    }
    const { digest, position } = await worker.finish();
    part.noteWritten(position - from);
    if (moved) throw moved;
    return digest;
  } finally {
    await worker.close();
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

/** Refuse up front an upload that cannot fit, rather than fill the disk and fail late. */
async function checkFreeSpace(part: UploadPart, needed: number, where: string): Promise<void> {
  let free: number;
  try {
    const stats = await statfs(part.partPath);
    free = Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return; // not a real file system (memfs): the write path reports ENOSPC if it comes
  }
  if (needed > free) {
    throw new NoSpaceError(`no space on the server for ${where}: ${needed} bytes needed, ${free} free`);
  }
}

/** Read and drop an upload body (and its END/ABORT line) the server refused. */
async function drainBody(session: Session, size: number): Promise<void> {
  session.outOfStep = true;
  let left = size;
  while (left > 0) {
    const chunk = await session.file.read(Math.min(left, 1024 * 1024));
    if (chunk === null) break;
    left -= chunk.length;
  }
  await readLine(session);
  session.outOfStep = false;
}

// ---------------------------------------------------------------------------------------------
// Small one-step uploads, pipelined

/** One-step uploads up to this size are read whole, then stored while the next are read. */
export const SMALL_PUT = 256 * 1024;

export function isSmallEagerPut(req: Request): req is PutRequest {
  return req.verb === 'PUT' && req.eager && req.size <= SMALL_PUT;
}

/**
 * Read a small one-step upload's body and trailer off the connection (in turn, as the stream
 * requires), and return its storing as a prepared reply: the file-system work of many small
 * uploads then runs side by side, and their answers still go out in order. The stream stays
 * in step whatever the outcome, since the whole body is read first.
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
  const stored = storeSmall(ctx, req, body, trailer);
  stored.catch(() => {}); // awaited in turn by the caller
  return { stored };
}

export async function storeSmall(ctx: ServerContext, req: PutRequest, body: Buffer, trailer: Request): Promise<PreparedReply> {
  const where = quoteRequestPath(req.path);
  checkUpload(ctx, req, where);
  if (trailer.verb === 'ABORT') {
    throw new FileChangedError(`the client says its file changed while it was being sent; ${where} not stored`);
  }
  const end = expectVerb(trailer, 'END');
  const digest = createSha256().update(body).digest('hex');
  if (end.sha256 !== digest || (req.sha256 !== null && req.sha256 !== digest)) {
    throw new ChecksumMismatchError(`${where} arrived with SHA-256 ${digest}, the client's is ${end.sha256}: not stored`);
  }
  const reply = (fields: Record<string, string | number | boolean>): PreparedReply => ({
    send: async (session) => {
      await session.file.writeLine(formatOk(fields));
      return { bytes: fields.identical ? 0 : req.size, note: fields.identical ? 'identical' : undefined };
    },
    discard: async () => {},
  });
  const unlock = await lockPath(ctx, req.path);
  if (unlock === null) throw new BusyError(`another upload to ${where} is in progress`);
  try {
    if ((await checkDestination(ctx, req, where, digest)) === 'identical') {
      return reply({ size: req.size, sha256: digest, identical: true });
    }
    const part = await ctx.root.openPart(req.path);
    try {
      if (part.size > 0) await part.truncate(0);
      await part.write(body);
      await ctx.root.finalizePart(part, req.path, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
    } catch (err) {
      await part.close().catch(() => {});
      throw err;
    }
    return reply({ size: req.size, sha256: digest });
  } finally {
    unlock();
  }
}

// ---------------------------------------------------------------------------------------------
// Uploads whose body is a stream of its own (HTTP PUT, a browser's form)

/** An upload that arrives as a stream: its size may be unknown until its end (a form field). */
export interface StreamUpload {
  path: string;
  /** Bytes the body will hold, when the sender said (Content-Length); null: unknown. */
  size: number | null;
  /** Replace a different file at `path` (still only if the server allows overwrites). */
  overwrite: boolean;
}

/**
 * Store `body` at `upload.path` through the very steps a PUT takes: the same checks (uploads
 * on, size limit, path lock, what is at the destination), the same partial file, the SHA-256
 * of what arrived, fsync and rename. There is no resume offer (the sender cannot answer one),
 * so the part starts empty and is discarded if the body fails or breaks a limit.
 */
export async function storeStream(
  ctx: ServerContext,
  upload: StreamUpload,
  body: AsyncIterable<Uint8Array>,
): Promise<{ size: number; sha256: string; note?: string }> {
  const where = quoteRequestPath(upload.path);
  const req: PutRequest = {
    verb: 'PUT',
    path: upload.path,
    size: upload.size ?? 0,
    sha256: null,
    mtime: null,
    mode: null,
    overwrite: upload.overwrite,
    eager: true,
  };
  checkUpload(ctx, req, where);
  const unlock = await lockPath(ctx, req.path);
  if (unlock === null) throw new BusyError(`another upload to ${where} is in progress`);
  try {
    await checkDestination(ctx, req, where, null);
    const part = await ctx.root.openPart(req.path);
    let finalized = false;
    try {
      if (part.size > 0) await part.truncate(0);
      await checkFreeSpace(part, req.size, where);
      const hash = createSha256();
      let size = 0;
      for await (const chunk of body) {
        size += chunk.length;
        if (size > ctx.options.maxUploadBytes) {
          throw new TooLargeError(`${where} is over the ${ctx.options.maxUploadBytes} bytes this server takes (--max-upload)`);
        }
        if (upload.size !== null && size > upload.size) {
          throw new BadRequestError(`${where} ran past the ${upload.size} bytes announced`);
        }
        hash.update(chunk);
        await part.write(chunk);
      }
      if (upload.size !== null && size !== upload.size) {
        throw new TransferInterruptedError(size, `${where} ended after ${size} of ${upload.size} bytes: not stored`);
      }
      await ctx.root.finalizePart(part, req.path);
      finalized = true;
      return { size, sha256: hash.digest('hex') };
    } finally {
      if (!finalized) await ctx.root.discardPart(part).catch(() => {});
    }
  } finally {
    unlock();
  }
}
