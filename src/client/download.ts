/**
 * GET one file into a local path: resume from a local partial file after checking its prefix
 * against the server's, hash while the bytes stream, and rename over the final name only after
 * the SHA-256 of the whole file matched the server's.
 */
import {
  ChecksumMismatchError,
  ExistsError,
  IsDirectoryError,
  NoSpaceError,
  ProtocolError,
  RemoteError,
} from '../errors.js';
import type { SocketFile } from '../io/index.js';
import { formatRequest, readGetHeader, readGetTrailer, readStat, type GetHeader } from '../protocol/index.js';
import { createSha256, hashFileRange, peekDigest, type Hash } from '../transfer/sha256.js';
import { LocalPlace, type OpenFile } from '../transfer/local-file.js';
import { SMALL_FILE_BYTES } from '../files/index.js';
import { fileWritable } from '../transfer/chunk-writable.js';
import { takeHashWorker, WORKER_HASH_MIN_BYTES, workerWritable } from '../transfer/hash-worker.js';
import type { Connection } from './connection.js';
import type { TransferOptions, TransferResult } from './types.js';

/** Bodies up to this size are received whole in memory and written in one go. */
const SMALL_BODY = SMALL_FILE_BYTES;

export interface DownloadOptions extends TransferOptions {
  /** fsync the destination's folder after the rename (a tree transfer does it once per folder). */
  syncDirectory?: boolean;
}

/**
 * Fetch `remotePath` into `dest`, resuming from `dest`'s partial file when it has one. `dest`
 * is a path the user named, or a place inside a folder being received (a folder get).
 */
export async function downloadFile(
  conn: Connection,
  remotePath: string,
  dest: string | LocalPlace,
  options: DownloadOptions = {},
): Promise<TransferResult> {
  if (typeof dest !== 'string') return downloadInto(conn, remotePath, dest, options);
  const place = await LocalPlace.forPath(dest);
  try {
    return await downloadInto(conn, remotePath, place, options);
  } catch (err) {
    place.folder.removeMadeIfEmpty();
    throw err;
  } finally {
    place.folder.close();
  }
}

async function downloadInto(
  conn: Connection,
  remotePath: string,
  place: LocalPlace,
  options: DownloadOptions,
): Promise<TransferResult> {
  const started = performance.now();
  const dest = place.path;
  const existing = place.existing();
  if (existing?.type === 'dir') throw new IsDirectoryError(`'${dest}' is a folder`);
  if (existing) {
    // Identical content already there is success, not a conflict, with or without --overwrite.
    const remote = readStat(await conn.simple({ verb: 'STAT', path: remotePath, hash: true }));
    if (remote.type === 'file' && remote.size === existing.size && remote.sha256 !== null) {
      const file = place.openExisting();
      const localSha = await hashFileRange(file, 0, existing.size).finally(() => file.close());
      if (localSha.digest('hex') === remote.sha256) {
        return { path: dest, size: existing.size, bytes: 0, sha256: remote.sha256, resumedFrom: 0, skipped: true, seconds: 0 };
      }
    }
    if (!options.overwrite) {
      throw new ExistsError(`'${dest}' exists and differs from the server's file (use --overwrite to replace it)`);
    }
  }

  const partPath = place.partPath;
  let partSize = place.partSize();
  for (;;) {
    try {
      let prefix = createSha256();
      if (partSize > 0) {
        const part = place.openPart(partSize);
        const total = partSize;
        options.onCheck?.(0, total);
        prefix = await hashFileRange(part.file, 0, total, undefined, undefined, (done) => options.onCheck?.(done, total)).finally(() => part.close());
      }
      const result = await receive(conn, remotePath, { place, prefix, offset: partSize }, options);
      return {
        path: dest,
        size: result.size,
        bytes: result.size - partSize,
        sha256: result.sha256,
        resumedFrom: partSize,
        skipped: false,
        seconds: (performance.now() - started) / 1000,
      };
    } catch (err) {
      if (err instanceof RemoteError && partSize > 0 && (err.code === 'TCPSEND_ERR_PREFIX_MISMATCH' || err.code === 'TCPSEND_ERR_BAD_RANGE')) {
        // "a part that does not match is discarded and the transfer starts over"
        options.onNotice?.(`the partial file '${partPath}' does not match the server's file: starting over`);
        partSize = 0;
        continue;
      }
      const full = diskFull(err);
      if (full) {
        // Not a retry's business: the next attempt would fill the same disk. What arrived stays.
        const kept = place.keptBytes();
        throw new NoSpaceError(
          `the disk is full writing '${dest}'${kept > 0 ? ` (${kept} bytes received are kept in '${partPath}')` : ''}: free some space and run the same command again to resume`,
          { cause: err },
        );
      }
      if (err instanceof ChecksumMismatchError || (err instanceof RemoteError && err.code === 'TCPSEND_ERR_CHANGED')) {
        place.removePart(); // those bytes are not to be trusted
      } else {
        place.removePart({ ifEmpty: true }); // nothing to resume: leave no trace
      }
      throw err;
    }
  }
}

/** The local disk ran out of room (or quota) somewhere along `err`'s causes. */
function diskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

export interface Received {
  size: number;
  sha256: string;
}

export interface Destination {
  /** Where the file goes, inside the destination's boundary. */
  place: LocalPlace;
  /** SHA-256 state of the part's first `offset` bytes. */
  prefix: Hash;
  offset: number;
}

async function receive(
  conn: Connection,
  remotePath: string,
  to: Destination,
  options: DownloadOptions,
): Promise<Received> {
  const { offset } = to;
  const request = formatRequest({
    verb: 'GET',
    path: remotePath,
    offset,
    length: null,
    prefixSha256: offset > 0 ? peekDigest(to.prefix) : null,
  });
  return conn.exchange(
    (file) => file.writeLine(request),
    (file) => readGetReply(conn, file, remotePath, to, options),
  );
}

/**
 * Read one GET answer (header, body, trailer: also each item of an MGET) into `to`'s part
 * file, verify it, and rename it over `to.dest`.
 */
export async function readGetReply(
  conn: Connection,
  file: SocketFile,
  remotePath: string,
  to: Destination,
  options: DownloadOptions,
): Promise<Received> {
  const { offset } = to;
  const header = readGetHeader(await conn.readOk());
  if (header.offset !== offset || header.offset + header.length !== header.size) {
    throw new ProtocolError(
      `asked for bytes ${offset}- of '${remotePath}', got ${header.offset}+${header.length} of ${header.size}`,
    );
  }
  options.onStart?.({ size: header.size, resumedFrom: offset });
  if (offset === 0 && header.length <= SMALL_BODY) {
    const body = await file.readExactly(header.length);
    options.onProgress?.(header.length, header.size);
    const sha256 = await verify(conn, remotePath, header, to.prefix.update(body).digest('hex'));
    to.place.storeWhole(body, { mtimeMs: header.mtimeMs, mode: header.mode, syncDirectory: options.syncDirectory });
    return { size: header.size, sha256 };
  }
  const part = to.place.openPart(offset);
  try {
    const actual = await streamBody(file, part.file, header, to, options);
    const sha256 = await verify(conn, remotePath, header, actual);
    await to.place.commit(part, { mtimeMs: header.mtimeMs, mode: header.mode });
    return { size: header.size, sha256 };
  } finally {
    part.close(); // once committed, a second close does nothing
  }
}

/**
 * A write that fails after the body's last chunk was handed over (the disk filled up) is
 * reported by an 'error' event when no one listens any more: without a listener of its own
 * for the stream's whole life, that event would crash the process. The failure still reaches
 * the caller, through the worker's digest or the stream's end.
 */
function keepErrors<T extends import('node:stream').Writable>(out: T): T {
  out.on('error', () => {});
  return out;
}

/** Move the body into the part file while hashing it; the digest of the whole file. */
async function streamBody(
  file: SocketFile,
  handle: OpenFile,
  header: GetHeader,
  to: Destination,
  options: DownloadOptions,
): Promise<string> {
  let done = header.offset;
  const progress = (chunk: Buffer) => {
    done += chunk.length;
    options.onProgress?.(done, header.size);
  };
  // A large body is hashed and written on a worker thread, so that this thread only receives:
  // hashing is slower than loopback TCP, and the worker has a core of its own.
  const worker = header.length >= WORKER_HASH_MIN_BYTES ? takeHashWorker() : null;
  if (worker) {
    try {
      // Not awaited before the body: the worker takes its messages in order, so the socket is
      // read while it re-hashes the part. Waiting here left the body piling up unread in the
      // socket buffers on every resume (all of it lost if the connection is then reset).
      const setUp = Promise.all([
        header.offset > 0 ? worker.hashFileRange(handle.fd, 0, header.offset) : null,
        worker.writeTo(handle.fd, header.offset),
      ]);
      setUp.catch(() => {}); // awaited below, once the body is in
      const out = keepErrors(workerWritable(worker));
      try {
        await file.pipeTo(out, header.length, { onChunk: progress });
        await setUp;
      } catch (err) {
        // Whatever arrived stays in the part for the next resume: the worker writes all it
        // was handed before it goes (terminating it at once would drop what it still holds).
        await new Promise<void>((resolve) => out.end(resolve));
        await worker.finish().catch(() => {});
        throw err;
      }
      return await worker.digest();
    } finally {
      await worker.close();
    }
  }
  const out = keepErrors(fileWritable(handle, header.offset));
  try {
    await file.pipeTo(out, header.length, {
      onChunk: (chunk) => {
        to.prefix.update(chunk);
        progress(chunk);
      },
    });
  } finally {
    // Whatever arrived stays in the part for the next resume.
    await new Promise<void>((resolve) => out.end(resolve));
  }
  return to.prefix.digest('hex');
}

/** Read the trailer and compare; the verified SHA-256. */
async function verify(conn: Connection, remotePath: string, header: GetHeader, actual: string): Promise<string> {
  const expected = readGetTrailer(await conn.readOk()).sha256;
  if (header.sha256 !== null && header.sha256 !== expected) {
    throw new ChecksumMismatchError(`the server announced two different SHA-256 for '${remotePath}'`);
  }
  if (actual !== expected) {
    throw new ChecksumMismatchError(`'${remotePath}' arrived with SHA-256 ${actual}, the server's is ${expected}: not saved`);
  }
  return actual;
}
