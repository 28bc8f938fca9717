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
import { formatRequest, parseFormattedGetHeader, parseFormattedGetTrailer, readGetHeader, readGetTrailer, readStat, type GetHeader } from '../protocol/index.js';
import { checksumAlgorithm, createHasher, hashFileRange, takeReceiver, WORKER_HASH_MIN_BYTES, type ChecksumName, type Hasher } from '../hash/index.js';
import { LocalPlace, type OpenFile } from '../transfer/local-file.js';
import { SMALL_FILE_BYTES } from '../files/index.js';
import { fileWritable } from '../transfer/chunk-writable.js';
import { okFields, type Connection } from './connection.js';
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
  const { checksum } = conn;
  if (existing) {
    // Identical content already there is success, not a conflict, with or without --overwrite.
    const remote = readStat(await conn.simple({ verb: 'STAT', path: remotePath, hash: true, checksum }), checksum);
    if (remote.type === 'file' && remote.size === existing.size && remote.digest !== null) {
      const file = place.openExisting();
      const local = await hashFileRange(file, 0, existing.size, createHasher(checksum)).finally(() => file.close());
      if (local.digest() === remote.digest) {
        return { path: dest, size: existing.size, bytes: 0, checksum, digest: remote.digest, resumedFrom: 0, skipped: true, seconds: 0 };
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
      const prefix = createHasher(checksum);
      if (partSize > 0) {
        const part = place.openPart(partSize);
        const total = partSize;
        options.onCheck?.(0, total);
        await hashFileRange(part.file, 0, total, prefix, undefined, (done) => options.onCheck?.(done, total)).finally(() => part.close());
      }
      const result = await receive(conn, remotePath, { place, prefix, offset: partSize }, options);
      return {
        path: dest,
        size: result.size,
        bytes: result.size - partSize,
        checksum,
        digest: result.digest,
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
  digest: string;
}

export interface Destination {
  /** Where the file goes, inside the destination's boundary. */
  place: LocalPlace;
  /** The hash of the part's first `offset` bytes, in the connection's checksum. */
  prefix: Hasher;
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
    checksum: conn.checksum,
    prefixDigest: offset > 0 ? to.prefix.peek() : null,
  });
  return conn.exchange(
    (file) => file.writeLine(request),
    (file) => readGetReply(conn, file, remotePath, to, options),
  );
}

/**
 * Read one GET answer (header, body, trailer) into `to`'s part file, verify it, and rename it
 * over `to.dest`. An MGET reads its items' answers with the steps below, and stores the small
 * ones together.
 */
export async function readGetReply(
  conn: Connection,
  file: SocketFile,
  remotePath: string,
  to: Destination,
  options: DownloadOptions,
): Promise<Received> {
  const header = await readReplyHeader(conn, remotePath, to.offset);
  options.onStart?.({ size: header.size, resumedFrom: to.offset });
  if (isWholeBody(header)) {
    const { body, digest } = await readWholeBody(conn, file, remotePath, header);
    options.onProgress?.(header.length, header.size);
    to.place.storeWhole(body, { mtimeMs: header.mtimeMs, mode: header.mode, syncDirectory: options.syncDirectory });
    return { size: header.size, digest };
  }
  return receiveIntoPart(conn, file, remotePath, header, to, options);
}

/** A GET answer's header, checked to be the range asked for: bytes `offset`- to the end. */
async function readReplyHeader(conn: Connection, remotePath: string, offset: number): Promise<GetHeader> {
  return checkReplyHeader(await conn.readAnswer(getHeaderOf(conn.checksum)), remotePath, offset);
}

/**
 * How a GET header line is read, with `checksum`: with one match when it is as a tcpsend
 * server writes it, else field by field (an ERR is its RemoteError).
 */
export function getHeaderOf(checksum: ChecksumName): (line: string) => GetHeader {
  return (line) => parseFormattedGetHeader(line, checksum) ?? readGetHeader(okFields(line), checksum);
}

/** The same for a GET trailer: the digest of the whole file. */
export function getTrailerOf(checksum: ChecksumName): (line: string) => string {
  return (line) => (parseFormattedGetTrailer(line, checksum) ?? readGetTrailer(okFields(line), checksum)).digest;
}

/** readReplyHeader's check, on the header read. */
export function checkReplyHeader(header: GetHeader, remotePath: string, offset: number): GetHeader {
  if (header.offset !== offset || header.offset + header.length !== header.size) {
    throw new ProtocolError(
      `asked for bytes ${offset}- of '${remotePath}', got ${header.offset}+${header.length} of ${header.size}`,
    );
  }
  return header;
}

/** Whether the answer is a whole small file: received into memory, verified, then written in one go. */
export function isWholeBody(header: GetHeader): boolean {
  return header.offset === 0 && header.length <= SMALL_BODY;
}

/** A whole small file's bytes and trailer (isWholeBody): the bytes, verified, and their digest. */
async function readWholeBody(conn: Connection, file: SocketFile, remotePath: string, header: GetHeader): Promise<{ body: Buffer; digest: string }> {
  const body = await file.readExactly(header.length);
  // One call for the whole body: no running hasher to make per file.
  const digest = await verify(conn, remotePath, header, checksumAlgorithm(conn.checksum).digestOf(body));
  return { body, digest };
}

/** The body and trailer of an answer that is not a whole small file, streamed into `to`'s part, verified and committed. */
export async function receiveIntoPart(
  conn: Connection,
  file: SocketFile,
  remotePath: string,
  header: GetHeader,
  to: Destination,
  options: DownloadOptions,
): Promise<Received> {
  const part = to.place.openPart(to.offset);
  try {
    const actual = await streamBody(conn, file, part.file, header, to, options);
    const digest = await verify(conn, remotePath, header, actual);
    await to.place.commit(part, { mtimeMs: header.mtimeMs, mode: header.mode });
    return { size: header.size, digest };
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
  conn: Connection,
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
  // A large body goes into a receiver's ring, hashed and written to the part in large batches:
  // on a worker thread for SHA-256 (slower than loopback TCP), on this one for BLAKE3.
  const worker = header.length >= WORKER_HASH_MIN_BYTES ? takeReceiver(conn.checksum) : null;
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
      try {
        // Straight into the receiver's ring, which is hashed and written to the part from.
        await file.receiveInto(worker, header.length, { onChunk: progress });
        await setUp;
      } catch (err) {
        // Whatever arrived stays in the part for the next resume: the worker writes all it
        // was handed before it goes (terminating it at once would drop what it still holds).
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
  return to.prefix.digest();
}

/** Read the trailer and compare; the verified digest. */
async function verify(conn: Connection, remotePath: string, header: GetHeader, actual: string): Promise<string> {
  return checkTrailer(conn.checksum, await conn.readAnswer(getTrailerOf(conn.checksum)), remotePath, header, actual);
}

/** The trailer's digest (`expected`) against the header's and the bytes' (`actual`): the verified digest, or ChecksumMismatchError. */
export function checkTrailer(checksum: ChecksumName, expected: string, remotePath: string, header: GetHeader, actual: string): string {
  if (header.digest !== null && header.digest !== expected) {
    throw new ChecksumMismatchError(`the server announced two different ${checksum} digests for '${remotePath}'`);
  }
  if (actual !== expected) {
    throw new ChecksumMismatchError(`'${remotePath}' arrived with ${checksum} ${actual}, the server's is ${expected}: not saved`);
  }
  return actual;
}
