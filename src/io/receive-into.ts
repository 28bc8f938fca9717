/**
 * Receiving a body straight into memory, for SocketFile.receiveInto: the ReceiveTarget it goes
 * into, DirectReads (a socket whose reads go into memory SocketFile chooses, Node's `onread`),
 * and Reception, the state of one receiveInto call: the bytes still to come, the room lent to
 * the socket's current read, and the gathering of small reads off a slow link.
 */
import type { Duplex } from 'node:stream';
import type { ChunkQueue } from './chunk-queue.js';
import type { SocketFile } from './socket-file.js';

/**
 * Memory a body is received into, with `receiveInto`: the ring a HashWorker hashes and writes
 * the file from. `room` lends free memory (null while there is none; every room starts where
 * the last commit ended, so asking twice gives the same place), `commit` says how many bytes
 * now lie there, `whenRoom` waits until there is room again.
 */
export interface ReceiveTarget {
  room(max: number): Buffer | null;
  commit(length: number): void;
  whenRoom(): Promise<void>;
}

/** Bytes read into the scratch buffer of a socket with direct reads, at most, at a time. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Gathering a body off a link slower than this machine. Each read costs a wake-up of this
 * thread, however few bytes it brings, and the kernel hands over what it has: on a 200 Mbit/s
 * link, reads of about 50 KiB, ten thousand of them per 512 MiB, which made the CPU per byte
 * several times that of a fast link. So after a read of less than half of GATHER_BYTES, the
 * socket is paused until about GATHER_BYTES are there at the rate seen so far (at most
 * MAX_GATHER_MS): the kernel keeps receiving meanwhile (its receive buffer grows to hold
 * it), and the next read takes it all at once. On loopback and fast links the wait would be
 * under MIN_GATHER_MS, and none happens.
 */
const GATHER_BYTES = 1024 * 1024;
const MAX_GATHER_MS = 40;
const MIN_GATHER_MS = 2;
/** Time to measure the rate before gathering. */
const GATHER_AFTER_MS = 50;

/**
 * For a socket created with Node's `onread` option (`net.connect({ ..., onread:
 * reads.onread })`): its reads go into memory SocketFile chooses instead of a new Buffer per
 * read. A body being received goes straight into the receive target (no allocation, no copy:
 * the kernel writes into the worker's ring); anything else goes into one preallocated buffer
 * and is copied out, since that buffer is reused for the next read.
 */
export class DirectReads {
  #file: SocketFile | null = null;
  /** Bytes that came before a SocketFile took the socket (copies). */
  #early: Buffer[] = [];
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly onread = {
    buffer: (): Buffer => (this.#file ? this.#file.nextReadBuffer(this.#scratch) : this.#scratch),
    callback: (length: number, buffer: Buffer): boolean => {
      if (this.#file) this.#file.directRead(length, buffer);
      else this.#early.push(Buffer.from(buffer.subarray(0, length)));
      return true;
    },
  };

  /** @internal SocketFile's constructor calls this. */
  attach(file: SocketFile): Buffer[] {
    if (this.#file) throw new Error('these direct reads already feed a SocketFile');
    this.#file = file;
    return this.#early.splice(0);
  }
}

/** What a Reception uses of its SocketFile. */
export interface ReceptionHost {
  readonly stream: Duplex;
  /** The SocketFile's buffered bytes: the start of the body may already lie there. */
  readonly queue: ChunkQueue;
  /** Is the socket paused by the SocketFile's own flow control (then a gathering wait must not resume it)? */
  pausedByHost(): boolean;
  /** Wake the SocketFile's waiting reader. */
  wake(): void;
}

/** One receiveInto call: `count` bytes into `target`, `onChunk` seeing each piece where it landed. */
export class Reception {
  /** Bytes of the body in the target so far. */
  moved = 0;
  /** The room lent to the socket's current read, if it reads into the target. */
  #lent: Buffer | null = null;
  /** The rate so far, and the timer of a wait for more (see GATHER_BYTES). */
  readonly #gathering = { since: performance.now(), bytes: 0, timer: null as NodeJS.Timeout | null };

  constructor(
    private readonly host: ReceptionHost,
    readonly target: ReceiveTarget,
    readonly count: number,
    private readonly onChunk?: (chunk: Buffer) => void,
  ) {}

  /** Bytes of the body still to come. */
  get left(): number {
    return this.count - this.moved;
  }

  /**
   * Copy what is queued (bytes that came before, or while the target was full) into the
   * target, as far as it has room; true once nothing of the body is left queued.
   */
  copyQueued(): boolean {
    const queue = this.host.queue;
    while (this.moved < this.count && queue.length > 0) {
      const room = this.target.room(this.count - this.moved);
      if (room === null) return false;
      const chunk = queue.takeChunk(room.length);
      chunk.copy(room);
      this.#took(room.subarray(0, chunk.length));
    }
    return true;
  }

  /**
   * The memory the socket's next read goes into (SocketFile.nextReadBuffer): room in the target,
   * else `scratch`. Bytes still queued go into the target first, so the next read follows them
   * there, in order; the room is at most what is left of the body, so a read never takes the
   * bytes after it.
   */
  lend(scratch: Buffer): Buffer {
    const before = this.moved;
    const done = this.copyQueued();
    if (this.moved !== before) this.host.wake(); // the loop may be waiting for just these bytes
    if (done && this.left > 0) {
      const room = this.target.room(this.left);
      if (room !== null) {
        this.#lent = room;
        return room;
      }
    }
    this.#lent = null;
    return scratch;
  }

  /**
   * `length` bytes were read into `buffer`: true if it was the lent room (they are taken now).
   * The waiting loop is woken only once the body is all in: a read into the target needs
   * nothing of it (the target hashes and writes what is committed), and a wake-up per read
   * was most of the cost per byte on a slow link.
   */
  tookRead(length: number, buffer: Buffer): boolean {
    if (buffer !== this.#lent) return false;
    this.#lent = null;
    this.#took(buffer.subarray(0, length));
    const left = this.left;
    if (left === 0) this.host.wake();
    else this.gatherMore(length, left);
    return true;
  }

  /** After a read of `length` bytes of a body with `left` still to come: wait for more? (GATHER_BYTES) */
  gatherMore(length: number, left: number): void {
    const gathering = this.#gathering;
    gathering.bytes += length;
    if (length >= GATHER_BYTES / 2 || left === 0 || gathering.timer !== null) return;
    const elapsed = performance.now() - gathering.since;
    if (elapsed < GATHER_AFTER_MS) return;
    const waitMs = Math.min(MAX_GATHER_MS, Math.min(GATHER_BYTES, left) / (gathering.bytes / elapsed));
    if (waitMs < MIN_GATHER_MS) return;
    const stream = this.host.stream;
    stream.pause();
    gathering.timer = setTimeout(() => {
      gathering.timer = null;
      if (!this.host.pausedByHost() && !stream.destroyed) stream.resume();
    }, waitMs);
  }

  /** The call is over: end a gathering wait, letting the socket flow unless the SocketFile holds it. */
  finish(): void {
    this.#lent = null;
    const gathering = this.#gathering;
    if (gathering.timer !== null) {
      clearTimeout(gathering.timer);
      const stream = this.host.stream;
      if (!this.host.pausedByHost() && !stream.destroyed) stream.resume();
    }
  }

  #took(bytes: Buffer): void {
    this.target.commit(bytes.length);
    this.moved += bytes.length;
    this.onChunk?.(bytes);
  }
}
