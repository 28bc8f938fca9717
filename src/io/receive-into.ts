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
 *
 * `adopt`, where a target has it, takes a Buffer that arrived whole (a socket without direct
 * reads gives a fresh one per read) instead of a copy of it: true if it now owns the bytes;
 * false if it cannot take them now (they then go into its room as a copy, when it has room:
 * none while it holds its fill of adopted bytes). A server's
 * sockets cannot read into chosen memory (net.Server has no `onread`): copying each 64 KiB
 * read into the ring was a fifth of a server's CPU time taking a 1 GiB put.
 */
export interface ReceiveTarget {
  room(max: number): Buffer | null;
  commit(length: number): void;
  whenRoom(): Promise<void>;
  adopt?(chunk: Buffer): boolean;
}

/** Bytes read into the scratch buffer of a socket with direct reads, at most, at a time. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Gathering a body off a link slower than this machine. Each read costs a wake-up of this
 * thread, however few bytes it brings, and the kernel hands over what it has: on a 200 Mbit/s
 * link, reads of about 50 KiB, ten thousand of them per 512 MiB, which made the CPU per byte
 * several times that of a fast link. So after a read that drained the kernel's buffer (it
 * filled less than the memory it was given), the socket is paused until about GATHER_BYTES
 * are there at the rate seen so far: the kernel keeps receiving meanwhile, and the next
 * reads take it all at once. On loopback and fast links the wait would be under
 * MIN_GATHER_MS, and none happens.
 *
 * The wait is at most MAX_GATHER_MS, and shorter when the kernel's receive buffer (or the
 * sender) turns out to be the limit: if the reads after a wait bring less than half of what
 * it was sized for, the next waits are halved (and grow back slowly), so a small buffer
 * costs a few slow waits, never the link's speed for good.
 */
const GATHER_BYTES = 1024 * 1024;
const MAX_GATHER_MS = 40;
/** Below this wait (1 MiB arriving faster than about 1 Gbit/s), no gathering: on loopback a 2 ms threshold paused a server taking a put at 400-500 MB/s, and slowed it. */
const MIN_GATHER_MS = 8;
/** Time to measure the rate before gathering. */
const GATHER_AFTER_MS = 50;
/**
 * What Node reads into per 'data' chunk, for a socket without direct reads: a chunk this
 * long may have left more in the kernel.
 */
export const NODE_READ_BYTES = 64 * 1024;

/**
 * The gathering decision (see GATHER_BYTES), apart from the socket and the clock: after each
 * read of a body, how long to leave the socket paused (0: not at all).
 */
export class Gathering {
  /** Bytes read so far. */
  #bytes = 0;
  /** Bytes read since the last read that drained the kernel's buffer. */
  #burst = 0;
  /** What the last wait was sized to gather (0: no wait to judge). */
  #expected = 0;
  /** The longest wait for now (halved when a wait gathered too little). */
  #maxMs = MAX_GATHER_MS;

  constructor(private readonly since: number) {}

  /** A read of `length` bytes at time `now` (ms), with `left` still to come; `drained`: it took all the kernel had. */
  afterRead(length: number, drained: boolean, left: number, now: number): number {
    this.#bytes += length;
    this.#burst += length;
    if (!drained || left === 0) return 0;
    if (this.#expected > 0) {
      this.#maxMs = this.#burst < this.#expected / 2 ? Math.max(MIN_GATHER_MS, this.#maxMs / 2) : Math.min(MAX_GATHER_MS, this.#maxMs * 1.25);
      this.#expected = 0;
    }
    this.#burst = 0;
    const elapsed = now - this.since;
    if (elapsed < GATHER_AFTER_MS) return 0;
    const rate = this.#bytes / elapsed;
    const waitMs = Math.min(this.#maxMs, Math.min(GATHER_BYTES, left) / rate);
    if (waitMs < MIN_GATHER_MS) return 0;
    this.#expected = rate * waitMs;
    return waitMs;
  }
}

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
  /** Pause the socket by the SocketFile's own flow control (its reader resumes it). */
  pauseSource(): void;
  /** Wake the SocketFile's waiting reader. */
  wake(): void;
}

/** One receiveInto call: `count` bytes into `target`, `onChunk` seeing each piece where it landed. */
export class Reception {
  /** Bytes of the body in the target so far. */
  moved = 0;
  /** The room lent to the socket's current read, if it reads into the target. */
  #lent: Buffer | null = null;
  /** When to wait for more of a slow body (see GATHER_BYTES), and the timer of such a wait. */
  readonly #gathering = new Gathering(performance.now());
  #gatherTimer: NodeJS.Timeout | null = null;

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
   * Move what is queued (bytes that came before, or while the target was full, or every read
   * of a socket without direct reads) into the target, as far as it takes them: adopted where
   * it can, else copied into its room. True once nothing of the body is left queued.
   */
  copyQueued(): boolean {
    const queue = this.host.queue;
    while (this.moved < this.count && queue.length > 0) {
      if (this.target.adopt) {
        // Handed over as it is (the queue's chunks are the socket's own, never reused); if the
        // target will not take it now, into its room as a copy.
        const chunk = queue.takeChunk(this.count - this.moved);
        if (this.target.adopt(chunk)) {
          this.moved += chunk.length;
          this.onChunk?.(chunk);
          continue;
        }
        queue.unshift(chunk);
      }
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
      // The target is full: hold the peer back now, rather than read on into the scratch
      // (a copy, and a wake-up, per read) until the waiting loop gets to pause the socket.
      this.host.pauseSource();
      this.host.wake();
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
    else this.gatherMore(length, length < buffer.length, left);
    return true;
  }

  /**
   * `length` bytes were read into the socket's scratch buffer (the target had no room when
   * the read was prepared, and may have now): copy what fits into the target, unless bytes
   * are queued before them. Returns how many were taken; the rest is for the queue.
   */
  tookScratch(length: number, scratch: Buffer): number {
    if (this.host.queue.length > 0) return 0;
    let taken = 0;
    while (taken < length && this.left > 0) {
      const room = this.target.room(Math.min(this.left, length - taken));
      if (room === null) break;
      scratch.copy(room, 0, taken, taken + room.length);
      this.#took(room);
      taken += room.length;
    }
    if (taken === 0) return 0;
    const left = this.left;
    if (left === 0 || taken < length) this.host.wake();
    else this.gatherMore(length, length < scratch.length, left);
    return taken;
  }

  /**
   * After a read of `length` bytes of a body with `left` still to come (`drained`: the read
   * took all the kernel had): pause the socket for a while if the link is slow (Gathering).
   */
  gatherMore(length: number, drained: boolean, left: number): void {
    // During a wait, a read still counts towards the rate (a wait is never stretched).
    const waitMs = this.#gathering.afterRead(length, drained && this.#gatherTimer === null, left, performance.now());
    if (waitMs === 0) return;
    const stream = this.host.stream;
    stream.pause();
    this.#gatherTimer = setTimeout(() => {
      this.#gatherTimer = null;
      if (!this.host.pausedByHost() && !stream.destroyed) stream.resume();
    }, waitMs);
  }

  /** The call is over: end a gathering wait, letting the socket flow unless the SocketFile holds it. */
  finish(): void {
    this.#lent = null;
    if (this.#gatherTimer !== null) {
      clearTimeout(this.#gatherTimer);
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
