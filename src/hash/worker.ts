/**
 * A transfer's checksum (BLAKE3 or SHA-256) on a worker thread, so hashing a large file runs
 * on the second core while the main thread keeps the socket moving. SHA-256 runs at about
 * 1.8 GB/s per core, slower than loopback TCP; BLAKE3 at about 6 GB/s, which still costs the
 * main thread a sixth of a second per GiB that it can spend receiving instead.
 *
 * Chunks go to the worker through a ring of shared memory (one copy, no allocation per
 * chunk on either thread). They can also be written to a file at a position (a download's
 * part file, an upload's): straight from the ring, by Node's thread pool, while the worker
 * hashes them. Hashing is the slowest step of a transfer, so the worker does nothing else;
 * writing on it as well made it the bottleneck (1 GiB to tmpfs: 0.63 s hashing plus 0.32 s
 * writing, one after the other).
 * The worker can hash a range of the file itself first (a resumed transfer's prefix) and the
 * rest of a range after.
 *
 * Memory is bounded by the ring: `push` resolves at once while it has room, and otherwise
 * when the worker has caught up.
 *
 * Hashing on the calling thread (BLAKE3, takeReceiver), it can also `adopt` a socket's own
 * read buffers instead of copying them into the ring (a server's sockets, which cannot read
 * into the ring): hashed and written in the same batches and order, at most about a ring's
 * worth held.
 */
import { read as fsRead, write as fsWrite, writev as fsWritev } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { blake3ModulePath, createHasher, type Hasher } from './algorithms.js';
import type { ChecksumName } from './names.js';

// Plain JavaScript, run with eval: no file to find next to the compiled module (and none
// that vitest, running the TypeScript sources, would have to compile).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
// The native BLAKE3 module, by the path the main thread resolved (an eval'd worker has no
// module of its own to resolve from); the main thread only asks for BLAKE3 when it loaded.
const blake = workerData.blake3 ? require(workerData.blake3) : null;
function newHash(name) {
  if (name === 'blake3') {
    const h = new blake.Blake3Hasher();
    return { update: (b) => h.update(b), peek: () => h.digest('hex'), digest: () => h.digest('hex') };
  }
  const h = createHash('sha256');
  return { update: (b) => h.update(b), peek: () => h.copy().digest('hex'), digest: () => h.digest('hex') };
}
let algorithm = 'sha256';
let hash = newHash(algorithm);
let ring = null;
const scratch = Buffer.allocUnsafe(1024 * 1024);
function hashFromFile(readFd, offset, length) {
  let left = length;
  let at = offset;
  while (left > 0) {
    const n = readSync(readFd, scratch, 0, Math.min(scratch.length, left), at);
    if (n === 0) throw new Error('file ended at ' + at + ', ' + left + ' bytes short');
    hash.update(scratch.subarray(0, n));
    at += n;
    left -= n;
  }
}
parentPort.on('message', (m) => {
  try {
    if (m.type === 'fileRange') {
      hashFromFile(m.fd, m.offset, m.length);
      parentPort.postMessage({ type: 'ok', id: m.id, peek: hash.peek() });
    } else if (m.type === 'ring') {
      ring = new Uint8Array(m.ring);
      parentPort.postMessage({ type: 'ok', id: m.id });
    } else if (m.type === 'chunks') {
      let bytes = 0;
      for (const [start, length] of m.ranges) {
        hash.update(ring.subarray(start, start + length));
        bytes += length;
      }
      parentPort.postMessage({ type: 'ack', bytes });
    } else if (m.type === 'reset') {
      algorithm = m.algorithm;
      hash = newHash(algorithm);
    } else if (m.type === 'digest') {
      parentPort.postMessage({ type: 'ok', id: m.id, digest: hash.digest() });
      hash = newHash(algorithm);
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', id: m.id, message: err.message, code: err.code });
  }
});
`;

export class HashWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** Where the worker's writes had got to in the file when it failed. */
    readonly position: number,
  ) {
    super(message);
    this.name = 'HashWorkerError';
  }
}

/** The shared ring's size: what a transfer may have in flight to its worker. */
const RING_BYTES = 4 * 1024 * 1024;

/** Bytes gathered in the ring before they go to the worker and to the file (see commit). */
const BATCH_BYTES = 1024 * 1024;

/**
 * A batch that has not filled within this time goes anyway: a stalled link must not keep what
 * did arrive out of the part file (a killed process resumes from what is there).
 */
const IDLE_FLUSH_MS = 50;

type Pending = { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void };

/** A batched piece: a range of the ring [start, length], or a Buffer taken whole (adopt). */
type Piece = [number, number] | Buffer;

/** Buffers in one writev: well under any system's IOV_MAX (1024 on Linux). */
const WRITEV_MAX = 256;

export class HashWorker {
  /** The thread that hashes; null when this one hashes on the calling thread (see takeReceiver). */
  private readonly worker: Worker | null;
  /** The hash, when it runs on the calling thread. */
  private hasher: Hasher | null = null;
  /** On the calling thread: a file range is being hashed; chunks wait until it is done (order). */
  private prefixing = false;
  /** Flushes a batch that is slow to fill (IDLE_FLUSH_MS). */
  private idleFlush: NodeJS.Timeout | null = null;
  private readonly algorithm: ChecksumName;
  /** Bytes gathered before they are hashed and written (see commit). */
  private readonly batchLimit: number;
  private inFlight = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private waiters: (() => void)[] = [];
  /**
   * The file the chunks are also written to (writeTo): where the next one goes, and ring
   * ranges not yet written. A batch's write starts when it is handed over; once a write is
   * done, the next takes all that was committed meanwhile. (Holding those back for their
   * batch made a 1 GiB loopback put 15-30% slower: the writes stopped overlapping the reads.
   * Off a slow link the reads are large anyway, see Gathering.)
   */
  private file: { fd: number; position: number; queue: Piece[]; writing: boolean; unwritten: number; adoptedUnwritten: number } | null = null;
  private failure: Error | null = null;
  /** What is batched for the hash, in order (adopted Buffers only on the calling thread). */
  private ranges: Piece[] = [];
  /** Adopted bytes not yet hashed (on the calling thread, hashed at the next flush). */
  private adoptedUnhashed = 0;
  private batchBytes = 0;
  private readonly ring: Buffer;
  private readonly shared: SharedArrayBuffer;
  private writeAt = 0;

  private closed = false;
  /** finish() has begun: no more bytes may come until it is done. */
  private finishing = false;

  constructor(algorithm: ChecksumName, ringBytes = RING_BYTES, parked?: ParkedThread, onThisThread = false) {
    this.algorithm = algorithm;
    const shared = parked?.shared ?? new SharedArrayBuffer(ringBytes);
    this.shared = shared;
    this.ring = Buffer.from(shared);
    this.batchLimit = Math.min(BATCH_BYTES, ringBytes / 4);
    if (onThisThread) {
      this.worker = null;
      this.hasher = createHasher(algorithm);
      return;
    }
    workersAlive += 1;
    this.worker = parked?.worker ?? new Worker(WORKER_SOURCE, { eval: true, workerData: { blake3: blake3ModulePath } });
    this.worker.ref();
    this.worker.on('message', (m: Record<string, unknown>) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err));
    // Messages are handled in order, so the ring and the algorithm are set before the first chunk.
    if (!parked) this.worker.postMessage({ type: 'ring', ring: shared, id: 0 });
    this.worker.postMessage({ type: 'reset', algorithm });
  }

  private onMessage(m: Record<string, unknown>): void {
    if (m.type === 'ack') {
      this.inFlight -= m.bytes as number;
      for (const wake of this.waiters.splice(0)) wake();
      return;
    }
    const waiting = this.pending.get(m.id as number);
    if (m.type === 'error') {
      const err = new HashWorkerError(m.message as string, m.code as string | undefined, this.writtenTo);
      if (waiting) {
        this.pending.delete(m.id as number);
        waiting.reject(err);
      } else this.fail(err);
      return;
    }
    if (waiting) {
      this.pending.delete(m.id as number);
      waiting.resolve(m);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private call(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    this.flush();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ ...message, id });
    });
  }

  /** Hash bytes [offset, offset+length) of the open file `fd`; resolves to the digest so far. */
  async hashFileRange(fd: number, offset: number, length: number): Promise<string> {
    if (this.hasher === null) return (await this.call({ type: 'fileRange', fd, offset, length })).peek as string;
    if (this.failure) throw this.failure;
    this.flush();
    // As the worker thread takes its messages in order: chunks committed meanwhile are
    // hashed after this range (flush leaves them be until then).
    this.prefixing = true;
    try {
      const scratch = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(length, 1)));
      for (let at = offset, left = length; left > 0; ) {
        const n = await new Promise<number>((resolve, reject) =>
          fsRead(fd, scratch, 0, Math.min(scratch.length, left), at, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
        );
        if (n === 0) throw new Error(`file ended at ${at}, ${left} bytes short`);
        this.hasher.update(scratch.subarray(0, n));
        at += n;
        left -= n;
      }
      return this.hasher.peek();
    } catch (err) {
      this.fail(err as Error);
      throw err;
    } finally {
      this.prefixing = false;
      this.flush();
    }
  }

  /** From now on, also write every chunk to `fd` from `position` on (see the top of this file). */
  async writeTo(fd: number, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    this.file = { fd, position, queue: [], writing: false, unwritten: 0, adoptedUnwritten: 0 };
  }

  /** Where the file writes have got to (the position of the first byte not yet written). */
  private get writtenTo(): number {
    return this.file ? this.file.position - this.file.unwritten : 0;
  }

  /** Ring bytes still needed by the worker's hash or by the file writes, whichever is behind. */
  private get occupied(): number {
    return Math.max(this.inFlight, this.file === null ? 0 : this.file.unwritten - this.file.adoptedUnwritten);
  }

  /**
   * Adopted bytes held until they are hashed and written, whichever is behind: at most about a
   * ring's worth (see adopt).
   */
  private get adoptedHeld(): number {
    return Math.max(this.adoptedUnhashed, this.file?.adoptedUnwritten ?? 0);
  }

  /**
   * Write the queued ring ranges, one write at a time and in order, so that the ring is freed
   * from its oldest byte on; ranges that queued meanwhile go down together.
   */
  private pumpWrites(): void {
    const file = this.file;
    if (!file || file.writing || file.queue.length === 0 || this.failure) return;
    if (Buffer.isBuffer(file.queue[0])) {
      this.writeAdopted(file);
      return;
    }
    let [start, length] = file.queue.shift() as [number, number];
    // Contiguous ranges (no wrap between them) make one write.
    while (file.queue.length > 0 && !Buffer.isBuffer(file.queue[0]) && file.queue[0]![0] === start + length && length < 4 * 1024 * 1024) {
      length += (file.queue.shift() as [number, number])[1];
    }
    const at = this.writtenTo;
    file.writing = true;
    fsWrite(file.fd, this.ring, start, length, at, (err, written) => {
      file.writing = false;
      if (err) {
        this.fail(new HashWorkerError(err.message, err.code, at));
        return;
      }
      file.unwritten -= written;
      if (written < length) file.queue.unshift([start + written, length - written]);
      for (const wake of this.waiters.splice(0)) wake();
      this.pumpWrites();
    });
  }

  /** pumpWrites for adopted Buffers: those queued in a row go down in one writev. */
  private writeAdopted(file: NonNullable<HashWorker['file']>): void {
    const buffers: Buffer[] = [];
    let length = 0;
    while (file.queue.length > 0 && Buffer.isBuffer(file.queue[0]) && length < 4 * 1024 * 1024 && buffers.length < WRITEV_MAX) {
      const buffer = file.queue.shift() as Buffer;
      buffers.push(buffer);
      length += buffer.length;
    }
    const at = this.writtenTo;
    file.writing = true;
    fsWritev(file.fd, buffers, at, (err, written) => {
      file.writing = false;
      if (err) {
        this.fail(new HashWorkerError(err.message, err.code, at));
        return;
      }
      file.unwritten -= written;
      file.adoptedUnwritten -= written;
      // A short write: what is left goes first next time.
      const rest: Buffer[] = [];
      let skip = written;
      for (const buffer of buffers) {
        if (skip >= buffer.length) skip -= buffer.length;
        else {
          rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
          skip = 0;
        }
      }
      file.queue.unshift(...rest);
      for (const wake of this.waiters.splice(0)) wake();
      this.pumpWrites();
    });
  }

  /** Wait until every queued file write is done. */
  private async drainWrites(): Promise<void> {
    while (this.file && this.file.unwritten > 0 && !this.failure) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  /**
   * Free ring memory to put the next bytes in, at most `max` of them, from where the last
   * ones ended (up to the ring's end: a wrap starts again at 0); null while the ring is full.
   * A socket reads straight into it (SocketFile.receiveInto); `commit` then hands the bytes over.
   */
  room(max: number): Buffer | null {
    // Full of adopted bytes too: what this holds stays within about a ring's worth.
    if (this.failure || this.finishing || this.adoptedHeld >= this.ring.length) return null;
    const take = Math.min(this.ring.length - this.occupied, this.ring.length - this.writeAt, max);
    return take > 0 ? this.ring.subarray(this.writeAt, this.writeAt + take) : null;
  }

  /**
   * The first `length` bytes of the last `room` hold data: hash them, and write them to the
   * file when there is one. They go in batches of BATCH_BYTES: a message to the worker and a
   * file write per socket read cost more than they move, and the slower the link, the smaller
   * the reads (and the more of them per byte).
   */
  commit(length: number): void {
    this.ranges.push([this.writeAt, length]);
    if (this.file) {
      this.file.queue.push([this.writeAt, length]);
      this.file.unwritten += length;
      this.file.position += length;
    }
    this.inFlight += length;
    this.writeAt = (this.writeAt + length) % this.ring.length;
    this.batched(length);
  }

  /** `length` more bytes are batched: flush a full batch now, or a slow one soon. */
  private batched(length: number): void {
    this.batchBytes += length;
    if (this.batchBytes >= this.batchLimit) this.flush();
    else if (this.idleFlush === null) this.idleFlush = setTimeout(() => this.flush(), IDLE_FLUSH_MS).unref();
  }

  /**
   * Take `chunk` itself rather than a copy in the ring (ReceiveTarget.adopt): on the calling
   * thread only (a worker thread reads nothing but the ring), and while the adopted bytes not
   * yet hashed and written are under a ring's worth (so at most one chunk more is held; the
   * very test whenRoom waits on). Hashed and written in order with the ring's bytes, in the
   * same batches.
   */
  adopt(chunk: Buffer): boolean {
    if (this.hasher === null || this.failure || this.finishing) return false;
    if (chunk.length === 0) return true;
    if (this.adoptedHeld >= this.ring.length) return false;
    this.ranges.push(chunk);
    this.adoptedUnhashed += chunk.length;
    if (this.file) {
      this.file.queue.push(chunk);
      this.file.unwritten += chunk.length;
      this.file.adoptedUnwritten += chunk.length;
      this.file.position += chunk.length;
    }
    this.batched(chunk.length);
    return true;
  }

  /** Resolves once `room` has room again, and `adopt` takes more (what is batched goes out first, to free it). */
  async whenRoom(): Promise<void> {
    this.flush();
    while ((this.occupied >= this.ring.length || this.adoptedHeld >= this.ring.length) && !this.failure) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
    if (this.finishing) throw new Error('bytes pushed to a hash worker after finish()');
  }

  /**
   * Hand a chunk over: it is copied into the ring of shared memory the worker reads from, so
   * neither thread allocates per chunk and memory stays at the ring's size. Resolves when
   * there is room for more.
   */
  async push(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.finishing) throw new Error('bytes pushed to a hash worker after finish()');
    let offset = 0;
    while (offset < chunk.length) {
      const room = this.room(chunk.length - offset);
      if (room === null) {
        await this.whenRoom();
        continue;
      }
      chunk.copy(room, 0, offset, offset + room.length);
      this.commit(room.length);
      offset += room.length;
    }
  }

  /** A Writable that hands every chunk to `push` (for a body that comes as a stream). */
  writable(): Writable {
    return new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.push(chunk).then(() => callback(), callback);
      },
    });
  }

  /** Send the batched ranges to the worker (or hash them here), and start writing them to the file. */
  private flush(): void {
    if (this.idleFlush !== null) {
      clearTimeout(this.idleFlush);
      this.idleFlush = null;
    }
    this.pumpWrites();
    if (this.ranges.length === 0 || this.prefixing) return;
    const ranges = this.ranges;
    this.ranges = [];
    this.batchBytes = 0;
    if (this.hasher === null) {
      this.worker!.postMessage({ type: 'chunks', ranges }); // ring ranges only: adopt() refuses here
      return;
    }
    for (const piece of ranges) {
      if (Buffer.isBuffer(piece)) {
        this.hasher.update(piece);
        this.adoptedUnhashed -= piece.length;
      } else {
        this.hasher.update(this.ring.subarray(piece[0], piece[0] + piece[1]));
        this.inFlight -= piece[1];
      }
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The digest of everything hashed; the worker is then ready for a new hash. */
  async digest(): Promise<string> {
    return (await this.finish()).digest;
  }

  /** The digest, and where the writes got to in the file (once they are all done). */
  async finish(): Promise<{ digest: string; position: number }> {
    this.finishing = true;
    let digest: string;
    if (this.hasher === null) {
      digest = (await this.call({ type: 'digest' })).digest as string;
    } else {
      if (this.failure) throw this.failure;
      this.flush();
      digest = this.hasher.digest();
      this.hasher = createHasher(this.algorithm);
    }
    await this.drainWrites();
    const position = this.writtenTo;
    this.file = null;
    this.finishing = false; // ready for a new hash (and a new file)
    return { digest, position };
  }

  /** The worker thread's id (a kept worker is handed out again with the same one); -1 on this thread. */
  get threadId(): number {
    return this.worker?.threadId ?? -1;
  }

  /** The error that stopped the worker, if one did. */
  get error(): Error | null {
    return this.failure;
  }

  /**
   * Done with it. A worker with nothing in flight is kept for the next transfer (starting a
   * thread and its isolate costs tens of milliseconds, and their memory is slow to go back to
   * the system); any other is ended.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleFlush !== null) clearTimeout(this.idleFlush);
    if (this.worker === null) return;
    workersAlive -= 1;
    this.worker.removeAllListeners('message');
    this.worker.removeAllListeners('error');
    const quiet =
      !this.failure && !this.finishing && this.inFlight === 0 && this.pending.size === 0 && this.ranges.length === 0 && (this.file === null || (this.file.unwritten === 0 && !this.file.writing));
    if (quiet && this.shared.byteLength === RING_BYTES && parkedThreads.length + workersAlive < MAX_WORKERS) {
      this.worker.unref(); // a parked worker must not keep the process alive
      const thread: ParkedThread = { worker: this.worker, shared: this.shared };
      // A parked worker that fails is dropped from the pool.
      this.worker.once('error', () => parkedThreads.splice(parkedThreads.indexOf(thread) >>> 0, 1));
      parkedThreads.push(thread);
      return;
    }
    await this.worker.terminate();
  }
}

/** A worker thread and its ring, between two transfers. */
interface ParkedThread {
  worker: Worker;
  shared: SharedArrayBuffer;
}
const parkedThreads: ParkedThread[] = [];

/** Files at least this large are worth a worker; smaller ones hash faster inline. */
export const WORKER_HASH_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Workers alive at once in this process: one per core is all that helps, and each costs a
 * V8 isolate (about 15 MB). Past that, transfers hash inline: 64 downloads at once must not
 * cost 64 isolates.
 */
const MAX_WORKERS = Math.max(1, Math.min(4, availableParallelism()));
let workersAlive = 0;

/**
 * A hash worth a thread of its own: SHA-256 (1.8 GB/s) is slower than loopback TCP. BLAKE3
 * (6 GB/s here) costs the calling thread a sixth of a second per GiB, about what a thread's
 * start, its messages and its wake-ups cost.
 */
function worthAThread(algorithm: ChecksumName): boolean {
  return algorithm === 'sha256';
}

/**
 * A worker hashing with `algorithm` if that is worth a thread and one is free (a parked one
 * first), else null (hash inline). Close it when done.
 */
export function takeHashWorker(algorithm: ChecksumName): HashWorker | null {
  if (!worthAThread(algorithm) || workersAlive >= MAX_WORKERS) return null;
  const parked = parkedThreads.pop();
  if (parked) parked.worker.removeAllListeners('error');
  return new HashWorker(algorithm, undefined, parked);
}

/** The ring of a receiver that hashes on the calling thread: smaller, since nothing waits on a thread. */
const INLINE_RING_BYTES = 2 * 1024 * 1024;

/**
 * Somewhere to receive a large body into (SocketFile.receiveInto): a ring that is hashed, and
 * written to the file with writeTo, in batches. On a worker thread when the hash is worth one
 * (takeHashWorker), else on the calling thread, with the same ring and batched writes. Close
 * it when done.
 */
export function takeReceiver(algorithm: ChecksumName): HashWorker {
  return takeHashWorker(algorithm) ?? new HashWorker(algorithm, INLINE_RING_BYTES, undefined, true);
}
