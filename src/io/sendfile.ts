/**
 * sendfile(file, offset, count) for any Writable, after Python's socket.sendfile().
 *
 * Node has no sendfile(2), so the fast path here is the next best thing: a small pool of
 * preallocated buffers, positional reads into them while earlier ones are still being written
 * (disk and socket overlap), and no allocation per chunk. A buffer goes back to the pool only
 * when the stream's write callback says it has been handed to the kernel, which also bounds
 * memory (pool size) and gives an exact count of bytes sent, success or failure.
 */
import { close as closeFd, open as openFile, read as readFd } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { TimeoutError, TransferInterruptedError, UsageError } from '../errors.js';

const readFdAsync = promisify(readFd);
const openAsync = promisify(openFile);

/** Anything with positional reads: a node:fs/promises FileHandle, memfs's, or a test double. */
export interface ReadableFile {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
}

/** A path, an open file descriptor, or a file handle. */
export type FileSource = string | number | ReadableFile;

export interface SendfileOptions {
  /**
   * Sees each chunk as it is read, before it is written (hashing, progress). It must not keep
   * the Buffer (its memory is reused); a promise it returns holds back the next read, for a
   * consumer that must not fall behind without bound.
   */
  onChunk?: (chunk: Buffer) => unknown;
  /** Bytes per read and write. */
  chunkSize?: number;
  /** Buffers in the pool: chunkSize × buffers is the most this call keeps in memory. */
  buffers?: number;
  /** Give up when the peer takes no data for this long. */
  timeoutMs?: number | null;
  /** Told about a timeout before it is thrown (the stream marks itself unusable). */
  onTimeout?: (err: TimeoutError) => void;
}

export const DEFAULT_SENDFILE_CHUNK = 256 * 1024;
const DEFAULT_SENDFILE_BUFFERS = 4;
/**
 * What all the sendfile calls of a process keep in buffers at most, when they do not choose
 * their pool size: a server sending to 64 clients at once must not hold 64 full pools. Each
 * call gets a share (at least one buffer) when it starts; one call alone gets its full pool
 * (4 x 256 KiB).
 */
const SENDFILE_BUDGET_BYTES = 8 * 1024 * 1024;
/** Of which this much may stay allocated between calls, as spares. */
const SPARE_BYTES = 4 * 1024 * 1024;
let activeSends = 0;
/** Bytes of buffers all running calls hold now; past the budget a call makes do with one. */
let heldBytes = 0;
/**
 * Full-size buffers that finished calls gave back, for the next calls: a server's sends then
 * reuse the same few MiB instead of leaving each call's pool to a garbage collector that frees
 * buffers late (64 concurrent 16 MiB downloads: server RSS 143 MB before, with per-call pools).
 */
const spareBuffers = new Map<number, Buffer[]>();
let spareBytes = 0;

/** Past this many sends at once, each reads in smaller chunks: its one buffer then costs less. */
const CROWDED_SENDS = 16;
const CROWDED_CHUNK = 64 * 1024;
/**
 * A send alone in its process, of at least LARGE_RANGE bytes, reads in chunks of LARGE_CHUNK:
 * each chunk costs a trip to the thread pool and back, a write and its callback, and at 256
 * KiB those were most of a 1 GiB put's JavaScript. Its pool is 2 of them (see defaultPoolSize).
 */
const LARGE_RANGE = 8 * 1024 * 1024;
const LARGE_CHUNK = 1024 * 1024;

/** The chunk size of a send that does not choose one: by how many run at once, and its size. */
function defaultChunkSize(count: number | undefined): number {
  if (activeSends > CROWDED_SENDS) return CROWDED_CHUNK;
  if (activeSends === 1 && count !== undefined && count >= LARGE_RANGE) return LARGE_CHUNK;
  return DEFAULT_SENDFILE_CHUNK;
}

function takeSpare(size: number): Buffer | undefined {
  const buf = spareBuffers.get(size)?.pop();
  if (buf) spareBytes -= size;
  return buf;
}

function keepSpare(buf: Buffer): void {
  if (spareBytes + buf.length > SPARE_BYTES || spareBytes + buf.length + heldBytes > SENDFILE_BUDGET_BYTES) return;
  let list = spareBuffers.get(buf.length);
  if (!list) spareBuffers.set(buf.length, (list = []));
  list.push(buf);
  spareBytes += buf.length;
}

function defaultPoolSize(chunkSize: number): number {
  const share = Math.floor(SENDFILE_BUDGET_BYTES / (activeSends * chunkSize));
  // In flight at most what 4 default chunks hold, or 2 large ones: what is in flight when the
  // connection is cut is lost and sent again on resume (1 MiB x 4 made a get through 20 cuts
  // resend 10.5% of the file, past the 10% test/faults/cuts.test.ts allows).
  const most = chunkSize >= LARGE_CHUNK ? 2 : DEFAULT_SENDFILE_BUFFERS;
  return Math.max(1, Math.min(most, share));
}

function checkRange(offset: number, count: number | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new UsageError(`sendfile offset must be an integer >= 0, got ${offset}`);
  }
  if (count !== undefined && (!Number.isSafeInteger(count) || count < 0)) {
    throw new UsageError(`sendfile count must be an integer >= 0, got ${count}`);
  }
}

async function openSource(file: FileSource): Promise<{ handle: ReadableFile; close: () => Promise<void> }> {
  if (typeof file === 'string') {
    const fd = await openAsync(file, 'r');
    return {
      handle: fdReader(fd),
      close: () => new Promise<void>((resolve) => closeFd(fd, () => resolve())),
    };
  }
  if (typeof file === 'number') return { handle: fdReader(file), close: async () => {} };
  return { handle: file, close: async () => {} };
}

function fdReader(fd: number): ReadableFile {
  return {
    read: (buffer, offset, length, position) => readFdAsync(fd, buffer, offset, length, position),
  };
}

/**
 * Write `count` bytes of `file` starting at `offset` to `stream` (to the end of the file when
 * `count` is undefined). Returns the bytes sent: fewer than `count` only if the file ended
 * first. Throws TransferInterruptedError with `bytesSent` on any failure.
 */
export async function sendFileRange(
  stream: Writable,
  file: FileSource,
  offset = 0,
  count?: number,
  options: SendfileOptions = {},
): Promise<number> {
  checkRange(offset, count);
  const timeoutMs = options.timeoutMs ?? null;
  activeSends += 1;
  const chunkSize = options.chunkSize ?? defaultChunkSize(count);
  try {
    return await sendWithPool(stream, file, offset, count, options, chunkSize, options.buffers ?? defaultPoolSize(chunkSize), timeoutMs);
  } finally {
    activeSends -= 1;
  }
}

async function sendWithPool(
  stream: Writable,
  file: FileSource,
  offset: number,
  count: number | undefined,
  options: SendfileOptions,
  chunkSize: number,
  poolSize: number,
  timeoutMs: number | null,
): Promise<number> {
  let sent = 0;
  let failure: Error | null = null;
  let wakeUp: (() => void) | null = null;
  const wake = () => {
    const fn = wakeUp;
    wakeUp = null;
    fn?.();
  };
  const onStreamError = (err: Error) => {
    failure ??= err;
    wake();
  };
  const onStreamClose = () => {
    failure ??= new Error('stream closed');
    wake();
  };

  // A socket calls back once the kernel has copied the bytes, so its buffer can be read into
  // again. Any other Writable may keep the Buffer itself (a PassThrough queues it as is), so
  // there every chunk gets a buffer of its own; the pool size still bounds what is in flight.
  const reusable = stream instanceof Socket;
  const free: Buffer[] = [];
  let allocated = 0;
  let settled = false;
  const takeBuffer = (): Buffer | undefined => {
    const buf = free.pop();
    if (buf) return buf;
    if (allocated < poolSize && (allocated === 0 || options.buffers !== undefined || heldBytes + chunkSize <= SENDFILE_BUDGET_BYTES)) {
      allocated += 1;
      heldBytes += chunkSize;
      // No bigger than the range needs: a 4 KiB file must not cost a 512 KiB allocation.
      const size = count === undefined ? chunkSize : Math.max(1, Math.min(chunkSize, count));
      return (reusable && size === chunkSize ? takeSpare(size) : undefined) ?? Buffer.allocUnsafeSlow(size);
    }
    return undefined;
  };

  /** Wait for a write callback (a buffer coming back), a failure, or the timeout. */
  const waitForProgress = () =>
    new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === null
          ? null
          : setTimeout(() => {
              wakeUp = null;
              const err = new TimeoutError(timeoutMs, `peer took no data for ${timeoutMs} ms`);
              options.onTimeout?.(err);
              reject(err);
            }, timeoutMs);
      wakeUp = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });

  if (stream.destroyed || stream.writableEnded) {
    throw new TransferInterruptedError(0, 'sendfile on a closed stream');
  }
  stream.on('error', onStreamError);
  stream.on('close', onStreamClose);
  let source: Awaited<ReturnType<typeof openSource>> | null = null;
  try {
    source = await openSource(file);
    let position = offset;
    let remaining = count ?? Number.POSITIVE_INFINITY;
    while (remaining > 0 && !failure) {
      let buf = takeBuffer();
      while (!buf && !failure) {
        await waitForProgress();
        buf = takeBuffer();
      }
      if (!buf) break;
      const want = Math.min(chunkSize, remaining);
      const { bytesRead } = await source.handle.read(buf, 0, want, position);
      if (bytesRead === 0) {
        free.push(buf);
        break; // end of file: report what went out, as socket.sendfile does
      }
      const chunk = buf.subarray(0, bytesRead);
      const consumer = options.onChunk?.(chunk);
      position += bytesRead;
      remaining -= bytesRead;
      const owned = buf;
      stream.write(chunk, (err) => {
        if (err) failure ??= err;
        else sent += bytesRead;
        if (reusable) free.push(owned);
        else {
          allocated -= 1;
          if (!settled) heldBytes -= chunkSize; // after the call ended, its share was given back already
        }
        wake();
      });
      if (consumer instanceof Promise) await consumer;
    }
    // Every buffer handed out must come back: only then is `sent` final.
    while (free.length < allocated && !failure) await waitForProgress();
  } catch (err) {
    failure ??= err as Error;
  } finally {
    stream.off('error', onStreamError);
    stream.off('close', onStreamClose);
    await source?.close();
    // This call's share of the budget goes back now, once (callbacks still to come, after a
    // failure, must not give it back again).
    settled = true;
    heldBytes -= allocated * chunkSize;
    // Buffers the socket has given back may serve the next call; one still in flight (a
    // failure) is left to the garbage collector.
    for (const buf of free) if (buf.length === chunkSize) keepSpare(buf);
  }
  if (failure) {
    const cause = failure as Error;
    throw new TransferInterruptedError(
      sent,
      `sendfile stopped after ${sent} bytes: ${cause.message}`,
      { cause },
    );
  }
  return sent;
}
