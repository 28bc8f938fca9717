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
import { reclaimer } from './reclaim.js';

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
/** Past this many sends at once, a socket send reads in quarters of a slab: its buffers then cost less. */
const QUARTER = DEFAULT_SENDFILE_CHUNK / 4;

/**
 * The buffers every socket send of a process reads into: at most `maxSlabs` slabs of
 * DEFAULT_SENDFILE_CHUNK, made when first needed and then kept for good, each lent whole or cut
 * into quarters. A send borrows one for each read and gives it back once the socket has taken
 * its bytes, so a server sending to 64 clients at once holds these few MiB and nothing more:
 * buffers made per call and dropped after it stayed resident until a full garbage collection,
 * which V8 runs only after tens of MiB of them (64 concurrent 16 MiB downloads, 8 MiB budget:
 * up to 25 MiB of array buffers, most of them dead). A quarter goes back into its slab; a slab
 * whose four quarters are all back is whole again.
 */
export class SendBuffers {
  /** Slabs not lent at all. */
  readonly #whole: Slab[] = [];
  /** Slabs cut into quarters of which some are free. */
  readonly #cut = new Set<Slab>();
  /** The slab of each buffer lent (a whole slab or a quarter). */
  readonly #owner = new Map<Buffer, Slab>();
  #made = 0;
  #lent = 0;

  constructor(readonly maxSlabs: number) {}

  /** Buffers lent and not yet given back. */
  get lent(): number {
    return this.#lent;
  }

  /** The bytes these buffers may hold in all. */
  get budgetBytes(): number {
    return this.maxSlabs * DEFAULT_SENDFILE_CHUNK;
  }

  /** A whole slab (`bytes` over a quarter) or a quarter; null when all are lent. */
  take(bytes: number): Buffer | null {
    const buffer = this.#take(bytes);
    if (buffer !== null) this.#lent += 1;
    return buffer;
  }

  #take(bytes: number): Buffer | null {
    if (bytes > QUARTER) return this.#takeWhole()?.buffer ?? null;
    for (const slab of this.#cut) {
      const quarter = slab.free.pop()!;
      if (slab.free.length === 0) this.#cut.delete(slab);
      return quarter;
    }
    const slab = this.#takeWhole();
    if (slab === null) return null;
    slab.free.push(...slab.quarters.slice(1));
    this.#cut.add(slab);
    return slab.quarters[0]!;
  }

  /** Give back a buffer `take` lent (true); false for any other, which is not kept. */
  release(buffer: Buffer): boolean {
    const slab = this.#owner.get(buffer);
    if (slab === undefined) return false;
    this.#lent -= 1;
    if (buffer === slab.buffer) {
      this.#whole.push(slab);
      return true;
    }
    slab.free.push(buffer);
    if (slab.free.length < slab.quarters.length) {
      this.#cut.add(slab);
      return true;
    }
    slab.free.length = 0;
    this.#cut.delete(slab);
    this.#whole.push(slab);
    return true;
  }

  #takeWhole(): Slab | null {
    const free = this.#whole.pop();
    if (free) return free;
    if (this.#made >= this.maxSlabs) return null;
    this.#made += 1;
    const buffer = Buffer.allocUnsafeSlow(DEFAULT_SENDFILE_CHUNK);
    const quarters = [0, 1, 2, 3].map((i) => buffer.subarray(i * QUARTER, (i + 1) * QUARTER));
    const slab: Slab = { buffer, quarters, free: [] };
    this.#owner.set(buffer, slab);
    for (const q of quarters) this.#owner.set(q, slab);
    return slab;
  }
}

interface Slab {
  buffer: Buffer;
  quarters: Buffer[];
  /** Its quarters not lent, while it is cut. */
  free: Buffer[];
}

/**
 * The process's send buffers: 4 MiB. One send alone reads ahead into four whole slabs (1 MiB);
 * up to 16 sends at once get a whole slab each; up to 64, a quarter each (or more of them, as
 * the budget allows). Past that, a send that has nothing in flight reads into a quarter-sized
 * buffer of its own: a send is never refused or held up for want of a buffer.
 */
export const sendBuffers = new SendBuffers(16);
let activeSends = 0;
/** What many sends at once leave to the garbage collector is collected as they go (reclaim.ts). */
const reclaimAfterSends = reclaimer(4 * 1024 * 1024, { scavenge: false });

/**
 * A send alone in its process, of at least LARGE_RANGE bytes, reads in chunks of LARGE_CHUNK,
 * LARGE_BUFFERS of them in flight, into buffers of its own (2 MiB, beside the send buffers):
 * each chunk costs a trip to the thread pool and back, a write and its callback, and at 256 KiB
 * those were most of a 1 GiB put's JavaScript. No more in flight: what is in flight when the
 * connection is cut is lost and sent again on resume (1 MiB x 4 made a get through 20 cuts
 * resend 10.5% of the file, past the 10% test/faults/cuts.test.ts allows).
 */
const LARGE_RANGE = 8 * 1024 * 1024;
const LARGE_CHUNK = 1024 * 1024;
const LARGE_BUFFERS = 2;

/**
 * The read size and the reads in flight a socket send may have now, with `active` sends
 * running; `count`, the bytes it sends, if known.
 */
export function sendShare(active: number, budgetBytes = sendBuffers.budgetBytes, count?: number): { chunkSize: number; buffers: number } {
  if (active === 1 && count !== undefined && count >= LARGE_RANGE) return { chunkSize: LARGE_CHUNK, buffers: LARGE_BUFFERS };
  const chunkSize = active * DEFAULT_SENDFILE_CHUNK <= budgetBytes ? DEFAULT_SENDFILE_CHUNK : QUARTER;
  const buffers = Math.max(1, Math.min(DEFAULT_SENDFILE_BUFFERS, Math.floor(budgetBytes / (Math.max(1, active) * chunkSize))));
  return { chunkSize, buffers };
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
  activeSends += 1;
  try {
    return await sendWithPool(stream, file, offset, count, options, options.timeoutMs ?? null);
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
  // again: it reads into the process's send buffers. Any other Writable may keep the Buffer
  // itself (a PassThrough queues it as is), so there every chunk gets a buffer of its own; the
  // share still bounds what is in flight.
  const reusable = stream instanceof Socket;
  /** The read size and the reads in flight allowed now: the caller's, else a share of the budget. */
  const share = () => {
    const fair = sendShare(activeSends, sendBuffers.budgetBytes, count);
    return { chunkSize: options.chunkSize ?? fair.chunkSize, buffers: options.buffers ?? fair.buffers };
  };
  /** Buffers lent to a read or a write now. */
  let inFlight = 0;
  /** This call's own buffers (made when the send buffers were all lent), free again. */
  const own: Buffer[] = [];
  const takeBuffer = (): Buffer | undefined => {
    const { chunkSize, buffers } = share();
    if (inFlight >= buffers) return undefined;
    // No bigger than the range needs: a 4 KiB file must not cost a 256 KiB allocation.
    const size = count === undefined ? chunkSize : Math.max(1, Math.min(chunkSize, count));
    let buf = reusable ? (own.pop() ?? (size <= DEFAULT_SENDFILE_CHUNK ? sendBuffers.take(size) : null)) : null;
    if (buf === null) {
      // Only a send with nothing in flight makes a buffer past the budget, and a lone large send
      // its own large ones (sendShare bounds how many); others wait for theirs.
      if (reusable && inFlight > 0 && size <= DEFAULT_SENDFILE_CHUNK) return undefined;
      buf = Buffer.allocUnsafeSlow(size);
    }
    inFlight += 1;
    return buf;
  };
  const giveBack = (buf: Buffer) => {
    inFlight -= 1;
    if (reusable && !sendBuffers.release(buf)) own.push(buf);
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
      const want = Math.min(share().chunkSize, buf.length, remaining);
      let bytesRead: number;
      let consumer: unknown;
      try {
        ({ bytesRead } = await source.handle.read(buf, 0, want, position));
        if (bytesRead > 0) consumer = options.onChunk?.(buf.subarray(0, bytesRead));
      } catch (err) {
        giveBack(buf); // a send buffer must go back whatever happens, or the budget shrinks for good
        throw err;
      }
      if (bytesRead === 0) {
        giveBack(buf);
        break; // end of file: report what went out, as socket.sendfile does
      }
      const chunk = buf.subarray(0, bytesRead);
      reclaimAfterSends(bytesRead);
      position += bytesRead;
      remaining -= bytesRead;
      const owned = buf;
      stream.write(chunk, (err) => {
        if (err) failure ??= err;
        else sent += bytesRead;
        giveBack(owned);
        wake();
      });
      if (consumer instanceof Promise) await consumer;
    }
    // Every buffer handed out must come back: only then is `sent` final.
    while (inFlight > 0 && !failure) await waitForProgress();
  } catch (err) {
    failure ??= err as Error;
  } finally {
    stream.off('error', onStreamError);
    stream.off('close', onStreamClose);
    await source?.close();
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
