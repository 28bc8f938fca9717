/**
 * PUT: take an upload into a partial file, offer to resume one, and make it appear under its
 * name only after fsync and a digest match (docs/protocol.md, "PUT").
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
import { digestKey, formatOk, parseRequest, type EndRequest, type PutRequest, type Request } from '../../protocol/index.js';
import {
  checksumAlgorithm,
  createHasher,
  hashFileRange,
  HashWorkerError,
  takeReceiver,
  WORKER_HASH_MIN_BYTES,
  type HashWorker,
  type Hasher,
} from '../../hash/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { chunkWritable } from '../../transfer/chunk-writable.js';
import { toStorageError } from '../../storage/fs-errors.js';
import { checkAttributes } from '../../storage/served-root.js';
import { checkChecksum, quoteRequestPath } from './common.js';
import { fileDigest } from './hash.js';
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
      verdict = await checkDestination(ctx, req, where, req.digest);
    } catch (err) {
      if (req.eager && err instanceof TcpsendError) await drainBody(session, req.size);
      throw err;
    }
    if (verdict === 'identical') {
      if (req.eager) {
        await drainBody(session, req.size);
        await session.file.writeLine(formatOk({ size: req.size, [req.checksum]: req.digest, identical: true }));
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

/** The checks an upload passes before its body: attributes, uploads on, size limit. */
export function checkUpload(ctx: ServerContext, req: PutRequest, where: string): void {
  // Before the body, not after it: an mtime no file can have is refused at once.
  checkAttributes({ mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
  checkChecksum(ctx, req);
  if (!ctx.options.allowUpload) {
    throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');
  }
  if (req.size > ctx.options.maxUploadBytes) {
    throw new TooLargeError(
      `${where} is ${req.size} bytes; this server takes at most ${ctx.options.maxUploadBytes} (--max-upload)`,
    );
  }
}

/**
 * The END trailer against what arrived (`actual`) and the digest the PUT line announced, if
 * it did: ChecksumMismatchError unless all agree. END names its algorithm; it must be the
 * PUT's, or the digests could not be compared at all.
 */
export function checkEnd(req: PutRequest, end: EndRequest, actual: string, where: string): void {
  if (end.checksum !== req.checksum) {
    throw new BadRequestError(`END carries ${digestKey(end.checksum)}= but the upload was started with checksum ${req.checksum}`);
  }
  if (end.digest !== actual || (req.digest !== null && req.digest !== actual)) {
    throw new ChecksumMismatchError(`${where} arrived with ${req.checksum} ${actual}, the client's is ${end.digest}: not stored`);
  }
}

/**
 * What the destination says about an upload whose content hashes to `digest` (null: not known
 * yet): 'identical' when it already holds exactly that content ("the upload is over"),
 * 'write' when the upload may go on. A folder there is IsDirectoryError; a different file is
 * ExistsError unless the client asked to overwrite and the server allows it. A symlink that
 * leads out (FORBIDDEN) or a file used as a folder (NOT_DIRECTORY) throws from the stat.
 */
async function checkDestination(
  ctx: ServerContext,
  req: PutRequest,
  where: string,
  digest: string | null,
): Promise<'identical' | 'write'> {
  const existing = await statOrNull(ctx, req.path);
  return destinationVerdict(ctx, req, where, existing, digest, () => fileDigest(ctx, req.path, req.checksum));
}

/**
 * The rules both upload paths (PUT, and MPUT's synchronous one) apply to what is at the
 * destination (`existing`, null: nothing) for an upload whose content hashes to `digest` (null:
 * not known yet). `hashExisting` is called only when the sizes match.
 */
export function destinationVerdict<H extends string | Promise<string>>(
  ctx: ServerContext,
  req: { size: number; overwrite: boolean },
  where: string,
  existing: { type: string; size: number } | null,
  digest: string | null,
  hashExisting: () => H,
): H extends string ? 'identical' | 'write' : Promise<'identical' | 'write'> {
  type Verdict = H extends string ? 'identical' | 'write' : Promise<'identical' | 'write'>;
  if (existing?.type === 'dir') throw new IsDirectoryError(`${where} is a folder on the server`);
  if (!existing) return 'write' as Verdict;
  const decide = (existingDigest: string | null): 'identical' | 'write' => {
    if (existingDigest !== null && existingDigest === digest) return 'identical';
    refuseUnlessOverwrite(ctx, req, where);
    return 'write';
  };
  if (digest === null || existing.size !== req.size) return decide(null) as Verdict;
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
    let hash: Hasher = createHasher(req.checksum);
    if (held > 0) await hashFileRange(part.handle, 0, held, hash);
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
      await session.file.writeLine(formatOk({ offset: held, [digestKey(req.checksum, 'part_')]: held > 0 ? hash.peek() : null }));
      session.outOfStep = true;
      const data = expectVerb(parseRequest(await readLine(session)), 'DATA');
      // "`Q` = `offset` to resume or `Q` = 0 to discard the part and start over"
      if (data.offset !== 0 && data.offset !== held) {
        throw new BadRequestError(`DATA offset must be 0 or ${held}, got ${data.offset}`);
      }
      from = data.offset;
      if (from === 0 && held > 0) {
        await part.truncate(0);
        hash = createHasher(req.checksum);
      }
    }
    session.outOfStep = true;
    const remaining = req.size - from;
    // A large body goes into a receiver's ring, hashed and written in large batches (SHA-256 on
    // a worker thread, so that the main thread keeps serving).
    const worker = remaining >= WORKER_HASH_MIN_BYTES && ctx.root.usesNodeFs ? takeReceiver(req.checksum) : null;
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
    try {
      checkEnd(req, end, digest, where);
    } catch (err) {
      await ctx.root.discardPart(part);
      throw err;
    }
    await ctx.root.finalizePart(part, req.path, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
    finalized = true;
    await session.file.writeLine(formatOk({ size: req.size, [req.checksum]: digest }));
    return { bytes: req.size - from, note: from > 0 ? `resumed from ${from}` : undefined };
  } finally {
    // A part not finalized stays on disk for a later resume (or was discarded above).
    if (!finalized) await part.close().catch(() => {});
  }
}

async function receiveInline(session: Session, part: UploadPart, hash: Hasher, count: number): Promise<string> {
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
  return hash.digest();
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
    try {
      // Into the worker's ring, which it hashes and writes the part from. Everything that
      // arrived is in the ring when this returns or throws: the worker writes it all.
      await session.file.receiveInto(worker, count);
    } catch (err) {
      moved = err as Error;
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
  const digest = checksumAlgorithm(req.checksum).digestOf(body);
  checkEnd(req, end, digest, where);
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
      return reply({ size: req.size, [req.checksum]: digest, identical: true });
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
    return reply({ size: req.size, [req.checksum]: digest });
  } finally {
    unlock();
  }
}
