/**
 * The one upload pipeline, for PUT (one-step and two-step), every MPUT item, and HTTP's PUT:
 *
 *   admit   the checks before any body: attributes, uploads on, the size limit, the path;
 *   lock    one writer per path (a holder gone quiet is taken over: root/upload-locks.ts);
 *   decide  what the destination holds: 'identical' (the upload is over), or 'write', or a
 *           refusal (a folder there; a different file without consent to overwrite);
 *   store   a small body held whole (storeUpload), or a streamed one through a partial file
 *           that survives a cut connection and is resumed (receiveUpload, after openPart).
 */
import type { Writable } from 'node:stream';
import {
  BadRequestError,
  BusyError,
  ChecksumMismatchError,
  ExistsError,
  IsDirectoryError,
  NoSpaceError,
  ReadOnlyError,
  TcpsendError,
  TooLargeError,
  TransferInterruptedError,
} from '../errors.js';
import { chunkWritable } from '../transfer/chunk-writable.js';
import { checksumAlgorithm, createHasher, HashWorkerError, type ChecksumName, type Hasher, type HashWorker } from '../hash/index.js';
import type { ReceiveTarget } from '../io/index.js';
import { digestKey } from '../protocol/index.js';
import { checkChecksum } from './checksum.js';
import type { ServerContext } from './context.js';
import { fileDigest, receiverFor } from './file-hash.js';
import { quoteRequestPath } from '../files/quote-path.js';
import {
  checkAttributes,
  commitPart,
  discardPart,
  openPart,
  storeWhole,
  syncFolders,
  toStorageError,
  uploadTarget,
  type FileInfo,
  type Folder,
  type FolderScope,
  type UploadPart,
  type UploadTarget,
} from './root/index.js';
import type { LockHolder, UploadLock } from './root/upload-locks.js';
import { statfs } from 'node:fs/promises';

/** What an upload asks for, whatever its verb. */
export interface UploadRequest {
  path: string;
  size: number;
  /** The content's SHA-256 when known before the body (it enables the identical check). */
  /** The checksum of every digest of this upload (the request's `checksum=`). */
  checksum: ChecksumName;
  /** The content's digest when known before the body (it enables the identical check). */
  digest: string | null;
  mtime: number | null;
  mode: number | null;
  overwrite: boolean;
}

export type Verdict = 'identical' | 'write';

/**
 * Who uploads: a protocol session, or an HTTP request. Its lock holder is cut when it goes
 * quiet while holding a path; `beforeAnswer` stops hashing once it has gone.
 */
export interface Uploader {
  readonly lockHolder: LockHolder;
  readonly beforeAnswer: AbortSignal;
}

/** How long an upload waits for its path's lock: the holder is often the same client's previous attempt, cut a moment ago. */
const LOCK_WAIT_MS = 3000;

/** The checks an upload passes before its body: attributes, uploads on, size limit, the path (its segments). */
export function admitUpload(ctx: ServerContext, req: UploadRequest): string[] {
  // Before the body, not after it: an mtime no file can have is refused at once.
  checkAttributes({ mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
  checkChecksum(ctx, req);
  if (!ctx.options.allowUpload) throw new ReadOnlyError('uploads are off on this server (start it with --allow-upload)');
  if (req.size > ctx.options.maxUploadBytes) {
    throw new TooLargeError(`${quoteRequestPath(req.path)} is ${req.size} bytes; this server takes at most ${ctx.options.maxUploadBytes} (--max-upload)`);
  }
  return ctx.root.segments(req.path); // BAD_PATH, FORBIDDEN for a partial file or a hidden name
}

/**
 * The lock on `shown` (a normalised path) for `who`'s upload: at once (then synchronously),
 * or after waiting up to LOCK_WAIT_MS with `wait` (a holder gone quiet is cut meanwhile); else
 * BusyError.
 */
export function lockUpload(ctx: ServerContext, who: Uploader, shown: string, wait: boolean): UploadLock | Promise<UploadLock> {
  const lock = ctx.uploadLocks.tryLock(shown, who.lockHolder);
  if (lock !== null) return lock;
  if (!wait) throw busy(shown);
  return (async () => {
    const deadline = Date.now() + LOCK_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const later = ctx.uploadLocks.tryLock(shown, who.lockHolder);
      if (later !== null) return later;
    }
    throw busy(shown);
  })();
}

function busy(shown: string): BusyError {
  return new BusyError(`another upload to ${quoteRequestPath(shown)} is in progress`);
}

/**
 * What the destination says about an upload whose content hashes to `sha256` (null: not known
 * yet): 'identical' when it already holds exactly that content, 'write' when the upload may go
 * on. A folder there is IsDirectoryError; a different file is ExistsError unless the client
 * asked to overwrite and the server allows it.
 */
export function decideUpload(
  ctx: ServerContext,
  who: Uploader,
  req: UploadRequest,
  target: UploadTarget,
  digest: string | null,
  scope: FolderScope,
): Verdict | Promise<Verdict> {
  const { existing } = target;
  if (existing?.type === 'dir') throw new IsDirectoryError(`${quoteRequestPath(req.path)} is a folder on the server`);
  if (existing === null) return 'write';
  // Hashed only when it could be the same content (a promise then: a large file takes a while).
  if (digest === null || existing.size !== req.size) return replaceOrRefuse(ctx, req);
  return existingDigest(ctx, who, req.checksum, target, existing, scope).then((held) => (held === digest ? 'identical' : replaceOrRefuse(ctx, req)));
}

/** A different file is at the destination: 'write' if the client asked to overwrite and the server allows it, else ExistsError. */
function replaceOrRefuse(ctx: ServerContext, req: UploadRequest): Verdict {
  if (req.overwrite && ctx.options.allowOverwrite) return 'write';
  const where = quoteRequestPath(req.path);
  throw new ExistsError(
    !req.overwrite
      ? `${where} exists on the server with different content (ask with --overwrite to replace it)`
      : `${where} exists and this server does not replace files (start it with --allow-overwrite)`,
  );
}

async function existingDigest(ctx: ServerContext, who: Uploader, checksum: ChecksumName, target: UploadTarget, existing: FileInfo, scope: FolderScope): Promise<string> {
  const cached = ctx.hashCache.get(existing, checksum);
  if (cached !== undefined) return cached;
  const opened = ctx.root.openRead(target.shown, scope);
  try {
    return await fileDigest(ctx, opened, checksum, who.beforeAnswer);
  } finally {
    opened.file.close();
  }
}

/** The SHA-256 a body arrived with, checked against what the client declared (before and after it). */
export function checkDigest(req: UploadRequest, digest: string, declared: string, declaredChecksum: ChecksumName = req.checksum): void {
  checkDeclaredChecksum(req, declaredChecksum);
  if (declared !== digest || (req.digest !== null && req.digest !== digest)) {
    throw new ChecksumMismatchError(`${quoteRequestPath(req.path)} arrived with ${req.checksum} ${digest}, the client's is ${declared}: not stored`);
  }
}

/** The algorithm a trailer names (`END blake3=H`) must be the upload's. */
export function checkDeclaredChecksum(req: UploadRequest, declaredChecksum: ChecksumName): void {
  if (declaredChecksum !== req.checksum) {
    throw new BadRequestError(`END carries ${digestKey(declaredChecksum)}= but the upload was started with checksum ${req.checksum}`);
  }
}

/** What became of a small upload: stored, or `identical` (the destination held that content). */
export interface Stored {
  identical: boolean;
  digest: string;
}

/**
 * Store a small upload held whole in memory (a one-step PUT, an MPUT item, an HTTP body):
 * admitted, verified against `declared`, locked, decided, stored. The folders to fsync before
 * the answer go into `touched` (the caller syncs them once per burst: syncFolders).
 * Synchronous when nothing has to wait (the lock is free, nothing there needs hashing): a
 * batch of small files then costs no promise per file.
 */
export function storeUpload(
  ctx: ServerContext,
  who: Uploader,
  req: UploadRequest,
  body: Uint8Array,
  declared: string,
  scope: FolderScope,
  touched: Set<Folder>,
  wait: boolean,
): Stored | Promise<Stored> {
  const segments = admitUpload(ctx, req);
  const digest = checksumAlgorithm(req.checksum).digestOf(body);
  checkDigest(req, digest, declared);
  const held: HeldUpload = { ctx, who, req, body, digest, target: uploadTarget(ctx.root, segments, scope), scope, touched };
  const locking = lockUpload(ctx, who, held.target.shown, wait);
  return locking instanceof Promise ? locking.then((lock) => storeLocked(held, lock)) : storeLocked(held, locking);
}

/** A small upload verified and on its way to the disk (storeUpload's steps share it; plain functions, not closures per file). */
interface HeldUpload {
  ctx: ServerContext;
  who: Uploader;
  req: UploadRequest;
  body: Uint8Array;
  digest: string;
  target: UploadTarget;
  scope: FolderScope;
  touched: Set<Folder>;
}

function storeLocked(held: HeldUpload, lock: UploadLock): Stored | Promise<Stored> {
  const { ctx, who, req, target, digest, scope } = held;
  let deciding: Verdict | Promise<Verdict>;
  try {
    deciding = decideUpload(ctx, who, req, target, digest, scope);
  } catch (err) {
    lock.release();
    throw err;
  }
  if (deciding instanceof Promise) return deciding.then((verdict) => storeDecided(held, verdict)).finally(() => lock.release());
  try {
    return storeDecided(held, deciding);
  } finally {
    lock.release();
  }
}

function storeDecided({ ctx, req, body, digest, target, scope, touched }: HeldUpload, verdict: Verdict): Stored {
  if (verdict === 'write') storeWhole(ctx.root, target, body, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined }, scope, touched);
  return { identical: verdict === 'identical', digest };
}

/**
 * A streamed body: `pipe` moves exactly its bytes into the sink it is given (calling
 * `onChunk` with each, if given). A SocketFile's pipeTo fits; so does an HTTP request stream.
 */
export type BodySource = ((sink: Writable, onChunk?: (chunk: Buffer) => void) => Promise<unknown>) & {
  /** Into a ReceiveTarget's memory instead (a SocketFile's receiveInto): no Writable, no promise per chunk. */
  into?: (target: ReceiveTarget, onChunk?: (chunk: Buffer) => void) => Promise<unknown>;
};

/**
 * Receive `count` bytes from `body` at the end of `part` (which holds `from` bytes already;
 * `hash` is their SHA-256 state), keeping every byte that arrived even if the body is cut:
 * the next attempt resumes from them. The SHA-256 of the whole part. A large body is hashed
 * and written on a worker thread (the main thread keeps serving).
 */
export async function receiveUpload(part: UploadPart, from: number, count: number, hash: Hasher, body: BodySource, lock: UploadLock, checksum: ChecksumName): Promise<string> {
  const worker = receiverFor(part.file, count, checksum);
  return worker ? receiveOnWorker(part, from, body, worker, lock) : receiveInline(part, hash, body, lock);
}

async function receiveInline(part: UploadPart, hash: Hasher, body: BodySource, lock: UploadLock): Promise<string> {
  const sink = chunkWritable((chunk) => part.write(chunk));
  try {
    await body(sink, (chunk) => {
      lock.touch();
      hash.update(chunk);
    });
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

async function receiveOnWorker(part: UploadPart, from: number, body: BodySource, worker: HashWorker, lock: UploadLock): Promise<string> {
  const fd = part.file.kernelFd!;
  try {
    if (from > 0) await worker.hashFileRange(fd, 0, from);
    await worker.writeTo(fd, from);
    let moved: Error | null = null;
    const out = body.into ? null : worker.writable();
    try {
      if (body.into) await body.into(worker, () => lock.touch());
      else await body(out!, () => lock.touch());
    } catch (err) {
      moved = err as Error;
      // What arrived and is still queued goes to the worker (and into the part) before it
      // finishes: nothing may reach it after.
      if (out) await new Promise<void>((resolve) => out.end(() => resolve()));
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

/** Refuse up front an upload that cannot fit, rather than fill the disk and fail late. */
export async function checkFreeSpace(ctx: ServerContext, needed: number, where: string): Promise<void> {
  let free: number;
  try {
    const stats = await statfs(ctx.root.rootPath);
    free = Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return; // not a real file system (memfs): the write path reports ENOSPC if it comes
  }
  if (needed > free) throw new NoSpaceError(`no space on the server for ${where}: ${needed} bytes needed, ${free} free`);
}

/**
 * The one entry point for a whole upload that needs no resume offer (HTTP's PUT, a small
 * one-step PUT): `body` held in memory, or streamed (exactly `req.size` bytes). `declared` is
 * the SHA-256 the client gave for the whole content, if any: a body that hashes otherwise is
 * not stored (CHECKSUM_MISMATCH). Made durable (the file and its folder fsynced) before it
 * returns. A streamed body cut short leaves its bytes in the part (a later two-step PUT can
 * resume them). `lengthUnknown`: a streamed body whose length only its end tells (a chunked
 * HTTP body, a file in a form); `req.size` is then the most it may hold, and `body` stops it
 * there (the size is not checked against what came).
 */
export async function uploadBody(
  ctx: ServerContext,
  who: Uploader,
  req: UploadRequest,
  body: Uint8Array | BodySource,
  declared: string | null,
  lengthUnknown = false,
): Promise<{ identical: boolean; digest: string; size: number }> {
  if (body instanceof Uint8Array) {
    const touched = new Set<Folder>();
    return ctx.root.withScope(async (scope) => {
      const stored = await storeUpload(ctx, who, req, body, declared ?? checksumAlgorithm(req.checksum).digestOf(body), scope, touched, true);
      syncFolders(ctx.root, touched, scope);
      return { ...stored, size: body.length };
    });
  }
  const scope = ctx.root.newScope();
  try {
    const target = uploadTarget(ctx.root, admitUpload(ctx, req), scope);
    const lock = await lockUpload(ctx, who, target.shown, true);
    try {
      if ((await decideUpload(ctx, who, req, target, req.digest ?? declared, scope)) === 'identical') {
        return { identical: true, digest: (req.digest ?? declared)!, size: req.size };
      }
      await checkFreeSpace(ctx, lengthUnknown ? 0 : req.size, quoteRequestPath(req.path));
      const part = openPart(ctx.root, req.path);
      let done = false;
      try {
        part.truncate(0);
        const digest = await receiveUpload(part, 0, req.size, createHasher(req.checksum), body, lock, req.checksum);
        if (!lengthUnknown && part.size !== req.size) {
          throw new BadRequestError(`${quoteRequestPath(req.path)}: ${req.size} bytes announced, ${part.size} came`);
        }
        done = true;
        try {
          checkDigest(req, digest, declared ?? digest);
        } catch (err) {
          discardPart(ctx.root, part);
          throw err;
        }
        const size = part.size;
        await commitPart(ctx.root, part, { mtimeMs: req.mtime ?? undefined, mode: req.mode ?? undefined });
        return { identical: false, digest, size };
      } finally {
        if (!done) part.close();
      }
    } finally {
      lock.release();
    }
  } finally {
    scope.close();
  }
}
