/**
 * SocketFile: a buffered, file-like reader/writer over any Node Duplex (net.Socket,
 * tls.TLSSocket, an in-memory pair), after Python's `socket.makefile()`.
 *
 * Raw socket events feed a ChunkQueue; the buffered reads (readLine, readExactly, ...) sit on
 * top of it and may be mixed freely on one stream without losing or reordering a byte. The
 * socket is paused whenever the queue holds more than the read high-water mark, so a slow
 * reader pushes back on the peer through TCP instead of buffering without bound.
 * The body moves live beside it: pipeTo in pipe-to.ts, receiveInto and DirectReads in
 * receive-into.ts; SocketFile lends them its read side (buffer and flow control).
 */
import type { Duplex, Writable } from 'node:stream';
import {
  BodyTooLargeError,
  ConnectionLostError,
  LineTooLongError,
  StreamClosedError,
  StreamUnusableError,
  TcpsendError,
  TimeoutError,
  UnexpectedEofError,
} from '../errors.js';
import { ChunkQueue } from './chunk-queue.js';
import { firstLine, LF, linesOf, TOO_LONG, tooLongAlready } from './lines.js';
import { pipeTo, type PipeHost } from './pipe-to.js';
import { NODE_READ_BYTES, Reception, type DirectReads, type ReceiveTarget, type ReceptionHost } from './receive-into.js';
import { reclaimer } from './reclaim.js';

/** One for the process: every socket's reads count towards the next scavenge. */
const reclaimReadBuffers = reclaimer();
import { sendFileRange, type FileSource, type SendfileOptions } from './sendfile.js';

export const DEFAULT_MAX_LINE_LENGTH = 8192;
export const DEFAULT_READ_HIGH_WATER_MARK = 1024 * 1024;

export interface SocketFileOptions {
  /** Idle timeout in ms for each read and each wait for the peer to drain; null: none. */
  timeoutMs?: number | null;
  /** Default `maxLength` for readLine (bytes, not counting the line terminator). */
  maxLineLength?: number;
  /** Bytes buffered from the peer before the socket is paused. */
  readHighWaterMark?: number;
  /** The socket was created with `onread: reads.onread` (see DirectReads). */
  directReads?: DirectReads;
}

export interface ReadLineOptions {
  /** Longest line accepted, in bytes, without its CRLF/LF. */
  maxLength?: number;
  /**
   * Once the line's first byte is there, the whole line must arrive within this many ms (a
   * peer that drips one byte just inside the idle timeout cannot hold a line open for ever).
   */
  deadlineMs?: number;
}

export interface PipeToOptions {
  /** Sees every chunk before it is written (hashing, progress). */
  onChunk?: (chunk: Buffer) => void;
}

type Deadline = { at: number; ms: number };

type Waiter = { resolve: () => void; reject: (err: Error) => void };

export class SocketFile implements AsyncIterable<string> {
  readonly stream: Duplex;
  private readonly queue = new ChunkQueue();
  private readonly maxLineLength: number;
  private readonly highWaterMark: number;
  private timeoutMs: number | null;

  private ended = false;
  private failure: Error | null = null; // the stream errored or closed under us
  private unusable: TcpsendError | null = null; // a read timed out or a line was too long: buffer state unknown
  /** A write timed out: what the peer got is unknown. Kept apart so that after a bad read the
   * server can still answer `ERR` before it closes, and after a stalled write still read. */
  private unwritable: TcpsendError | null = null;
  private waiter: Waiter | null = null;
  private wanted = 0; // bytes the current reader needs queued before it can go on
  private pausedByUs = false;
  /** pipeTo's writable asked us to wait (backpressure): only its 'drain' resumes the socket. */
  private heldByWritable = false;
  /** While pipeTo runs, incoming chunks go straight to it instead of the queue. */
  private sink: ((chunk: Buffer) => void) | null = null;
  /** While receiveInto runs: the body's reception (where direct reads may go, gathering). */
  private receiving: Reception | null = null;

  constructor(stream: Duplex, options: SocketFileOptions = {}) {
    this.stream = stream;
    this.timeoutMs = options.timeoutMs ?? null;
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.highWaterMark = options.readHighWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK;

    this.listeners = {
      data: (chunk: Buffer | string) => this.onData(chunk),
      end: () => {
        this.ended = true;
        this.wake();
      },
      error: (err: Error) => {
        const code = (err as NodeJS.ErrnoException).code;
        this.failure ??= new ConnectionLostError(
          `connection lost${code ? ` (${code})` : ''}: ${err.message}`,
          { cause: err },
        );
        this.wake();
      },
      close: () => {
        if (!this.ended) this.failure ??= new StreamClosedError('stream closed before its end');
        this.wake();
      },
    };
    this.readSide = {
      stream: this.stream,
      queue: this.queue,
      highWaterMark: this.highWaterMark,
      failure: () => this.failure,
      ended: () => this.ended,
      checkUsable: () => this.checkUsable(),
      afterConsume: () => this.afterConsume(),
      pauseSource: () => this.pauseSource(),
      resumeSource: () => this.resumeSource(),
      pausedByHost: () => this.pausedByUs,
      holdForWritable: (held) => {
        this.heldByWritable = held;
      },
      setSink: (sink) => {
        this.sink = sink;
      },
      wake: () => this.wake(),
      waitForData: (wanted) => this.waitForData(wanted),
    };
    for (const [event, listener] of Object.entries(this.listeners)) stream.on(event, listener);
    // A socket with direct reads emits no 'data': its reads come through directRead.
    for (const early of options.directReads?.attach(this) ?? []) this.onData(early);
  }

  private readonly listeners: Record<'data' | 'end' | 'error' | 'close', (...args: any[]) => void>;

  /** The read side's buffer and flow control, as the body moves (pipeTo, receiveInto) use them. */
  private readonly readSide: PipeHost & ReceptionHost;

  /**
   * Let go of the stream, paused, with the bytes read from it and not yet consumed put back
   * into it (unshift): another reader (Node's HTTP server) then gets every byte the peer sent,
   * in order. This SocketFile must not be used afterwards.
   */
  detach(): void {
    for (const [event, listener] of Object.entries(this.listeners)) this.stream.off(event, listener);
    this.stream.pause();
    const rest = this.queue.take(this.queue.length);
    if (rest.length > 0) this.stream.unshift(rest);
    this.failure ??= new StreamClosedError('this stream was handed to another reader');
  }

  /** Set the idle timeout (as Python's settimeout); null turns it off. */
  setTimeout(timeoutMs: number | null): void {
    this.timeoutMs = timeoutMs;
  }

  /** Is a whole line already buffered, so that readLine would answer without waiting? */
  hasBufferedLine(): boolean {
    return firstLine(this.queue, this.maxLineLength) !== undefined;
  }

  /** Bytes read from the peer and not yet consumed. */
  get bufferedLength(): number {
    return this.queue.length;
  }

  // ------------------------------------------------------------------------------------------
  // Reading

  /**
   * One line ending in LF or CRLF, without its terminator, decoded as UTF-8; null at a clean
   * end of stream. Throws LineTooLongError past `maxLength` bytes with no newline (the stream
   * is unusable afterwards) and UnexpectedEofError if the stream ends mid-line.
   */
  async readLine(options: ReadLineOptions = {}): Promise<string | null> {
    const line = await this.readLineBuffer(options);
    return line === null ? null : line.toString('utf8');
  }

  /**
   * The next line, as readLine gives it, if a whole one is buffered already, else undefined at
   * once: a reader of many short lines takes those that have arrived without a promise each.
   */
  takeBufferedLine(): string | undefined {
    this.checkUsable();
    return this.takeLine(this.maxLineLength)?.toString('utf8');
  }

  /**
   * takeBufferedLine for many: the whole lines of the first chunk buffered, decoded as one piece,
   * up to and including `last` (those after it stay buffered); a line across chunks comes alone.
   */
  takeBufferedLines(last: string): string[] {
    this.checkUsable();
    const chunk = this.queue.peek();
    if (chunk === undefined || chunk.lastIndexOf(LF) === -1) {
      const line = this.takeBufferedLine();
      return line === undefined ? [] : [line];
    }
    const read = linesOf(chunk, last, this.maxLineLength);
    if (read === TOO_LONG) throw this.markUnusable(new LineTooLongError(this.maxLineLength));
    this.queue.take(read.took);
    this.afterConsume();
    return read.lines;
  }

  /** readExactly without waiting: the `n` bytes if they are buffered already, else undefined. */
  takeBuffered(n: number): Buffer | undefined {
    this.checkUsable();
    if (this.queue.length < n) return undefined;
    const out = this.queue.take(n);
    this.afterConsume();
    return out;
  }

  /** A whole buffered line's bytes, without its terminator, or undefined if none is buffered. */
  private takeLine(maxLength: number): Buffer | undefined {
    const line = firstLine(this.queue, maxLength);
    if (line === undefined) return undefined;
    if (line === TOO_LONG) throw this.markUnusable(new LineTooLongError(maxLength));
    const bytes = this.queue.take(line.whole);
    this.afterConsume();
    return bytes.subarray(0, line.content);
  }

  /** readLine, but the raw bytes of the line. */
  async readLineBuffer(options: ReadLineOptions = {}): Promise<Buffer | null> {
    const maxLength = options.maxLength ?? this.maxLineLength;
    const window = maxLength + 2;
    let deadline: Deadline | undefined;
    for (;;) {
      this.checkUsable();
      if (deadline === undefined && options.deadlineMs !== undefined && this.queue.length > 0) {
        deadline = { at: Date.now() + options.deadlineMs, ms: options.deadlineMs };
      }
      const line = this.takeLine(maxLength);
      if (line !== undefined) return line;
      if (tooLongAlready(this.queue, maxLength)) throw this.markUnusable(new LineTooLongError(maxLength));
      if (this.ended) {
        if (this.queue.length === 0) return null;
        const partial = this.queue.length;
        this.queue.take(partial);
        throw new UnexpectedEofError(null, partial);
      }
      await this.waitForData(window, deadline);
    }
  }

  /**
   * The first `n` bytes without consuming them (fewer only if the stream ends first): lets a
   * server tell a TLS ClientHello from a request line before it reads either.
   */
  async peek(n: number): Promise<Buffer> {
    for (;;) {
      this.checkUsable();
      if (this.queue.length >= n || this.ended) {
        const head = this.queue.take(Math.min(n, this.queue.length));
        this.queue.unshift(head);
        return head;
      }
      await this.waitForData(n);
    }
  }

  /** Up to `n` bytes (n > 0), as soon as any are there; null at the end of the stream. */
  async read(n: number): Promise<Buffer | null> {
    for (;;) {
      this.checkUsable();
      if (this.queue.length > 0) {
        const out = this.queue.take(Math.min(n, this.queue.length));
        this.afterConsume();
        return out;
      }
      if (this.ended) return null;
      await this.waitForData(1);
    }
  }

  /** Exactly `n` bytes, or UnexpectedEofError saying how many arrived before the end. */
  async readExactly(n: number): Promise<Buffer> {
    for (;;) {
      const out = this.takeBuffered(n);
      if (out !== undefined) return out;
      if (this.ended) {
        const received = this.queue.length;
        this.queue.take(received);
        throw new UnexpectedEofError(n, received);
      }
      await this.waitForData(n);
    }
  }

  /** Everything up to the end of the stream; BodyTooLargeError past `maxBytes`. */
  async readToEnd(options: { maxBytes?: number } = {}): Promise<Buffer> {
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    for (;;) {
      this.checkUsable();
      if (this.queue.length > maxBytes) {
        throw this.markUnusable(new BodyTooLargeError(maxBytes));
      }
      if (this.ended) {
        const out = this.queue.take(this.queue.length);
        this.afterConsume();
        return out;
      }
      await this.waitForData(maxBytes + 1);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      const line = await this.readLine();
      if (line === null) return;
      yield line;
    }
  }

  /**
   * Move exactly `count` bytes from this stream to `writable`, honouring its backpressure.
   * Resolves when the last byte has been accepted by the writable's write callback. On an
   * early end, throws UnexpectedEofError with the bytes moved; on a writable failure,
   * TransferInterruptedError with the bytes moved.
   */
  async pipeTo(writable: Writable, count: number, options: PipeToOptions = {}): Promise<number> {
    return pipeTo(this.readSide, writable, count, options);
  }

  /**
   * Move exactly `count` bytes from this stream into `target`'s memory, waiting for room when
   * it is full (the socket is paused meanwhile, so the peer is pushed back through TCP).
   * On a socket with direct reads (DirectReads) the kernel reads the body straight into that
   * memory; otherwise each chunk is copied in. `onChunk` sees each piece where it landed.
   * On an early end, throws UnexpectedEofError with the bytes moved; a failure of the target
   * (its whenRoom rejects) is thrown as it is.
   */
  async receiveInto(target: ReceiveTarget, count: number, options: PipeToOptions = {}): Promise<number> {
    this.checkUsable();
    const receiving = new Reception(this.readSide, target, count, options.onChunk);
    const fromQueue = async () => {
      while (!receiving.copyQueued()) await target.whenRoom();
      this.afterConsume();
    };
    try {
      this.receiving = receiving;
      for (;;) {
        await fromQueue();
        if (receiving.moved >= count) break;
        if (this.failure) throw this.failure;
        if (this.ended) throw new UnexpectedEofError(count, receiving.moved);
        this.checkUsable();
        if (target.room(1) === null) {
          // Full: hold the peer back until the target has room, then read on.
          this.pauseSource();
          await target.whenRoom();
          continue;
        }
        // Reads into the target do not wake this loop (see Reception.tookRead): the peer is
        // idle only if the body stops moving.
        await this.waitForData(1, undefined, () => receiving.moved);
      }
    } finally {
      this.receiving = null;
      receiving.finish();
    }
    return receiving.moved;
  }

  /**
   * @internal (DirectReads) The memory the socket's next read goes into: room in the receive
   * target while a body is being received (see Reception.lend), else `scratch`. Node asks for
   * it right after the previous read, not right before the next.
   */
  nextReadBuffer(scratch: Buffer): Buffer {
    return this.receiving?.lend(scratch) ?? scratch;
  }

  /** @internal (DirectReads) `length` bytes were read into `buffer` (from nextReadBuffer). */
  directRead(length: number, buffer: Buffer): void {
    if (this.receiving?.tookRead(length, buffer)) return;
    const taken = this.receiving?.tookScratch(length, buffer) ?? 0;
    if (taken < length) this.onData(Buffer.from(buffer.subarray(taken, length))); // a copy: the scratch is read into again
  }

  // ------------------------------------------------------------------------------------------
  // Writing

  /** Write bytes or UTF-8 text; resolves once the stream will take more (drain), never later. */
  async write(data: Buffer | Uint8Array | string): Promise<void> {
    this.checkWritable();
    const ok = this.stream.write(data);
    if (!ok) await this.waitForDrain();
  }

  /**
   * As write, and `release` is called once the stream is done with `data` (handed to the
   * kernel, or the stream failed), so the caller may reuse the buffer: a slab from a
   * SlabPool. Waiting is as for write (drain, with the idle timeout), never for the release:
   * a peer that stops reading must run into the timeout, not hang the writer.
   */
  async writeOwned(data: Buffer, release: () => void): Promise<void> {
    this.checkWritable();
    const ok = this.stream.write(data, () => release());
    if (!ok) await this.waitForDrain();
  }

  /** Write `text` followed by CRLF. */
  async writeLine(text: string): Promise<void> {
    await this.write(`${text}\r\n`);
  }

  /**
   * Write `count` bytes of `file` from `offset` (to its end when count is omitted), as
   * Python's socket.sendfile does. Returns exactly how many bytes went out: fewer than
   * `count` if the file ended first. On failure, throws TransferInterruptedError whose
   * `bytesSent` counts the bytes the stream had accepted before it.
   */
  async sendfile(
    file: FileSource,
    offset = 0,
    count?: number,
    options: Omit<SendfileOptions, 'timeoutMs'> = {},
  ): Promise<number> {
    this.checkWritable();
    return sendFileRange(this.stream, file, offset, count, {
      ...options,
      timeoutMs: this.timeoutMs,
      onTimeout: (err) => {
        this.unwritable ??= err;
      },
    });
  }

  /** Half-close: no more writes (as shutdown(SHUT_WR)); reads go on. */
  async end(): Promise<void> {
    if (this.stream.writableFinished) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new ConnectionLostError(err.message, { cause: err }));
      this.stream.once('error', onError);
      this.stream.end(() => {
        this.stream.off('error', onError);
        resolve();
      });
    });
  }

  /** Close both directions at once and release the socket. */
  close(): void {
    this.stream.destroy();
  }

  get closed(): boolean {
    return this.stream.destroyed;
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  private onData(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    reclaimReadBuffers(buf.length);
    this.receiving?.gatherMore(buf.length, buf.length < NODE_READ_BYTES, this.receiving.left - this.queue.length - buf.length);
    if (this.sink) {
      this.sink(buf);
      return;
    }
    this.queue.push(buf);
    if (this.queue.length >= Math.max(this.highWaterMark, this.wanted)) this.pauseSource();
    this.wake();
  }

  private afterConsume(): void {
    if (this.heldByWritable) return;
    if (this.pausedByUs && this.queue.length < this.highWaterMark) this.resumeSource();
  }

  private pauseSource(): void {
    if (!this.pausedByUs) {
      this.pausedByUs = true;
      this.stream.pause();
    }
  }

  private resumeSource(): void {
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.stream.resume();
    }
  }

  private checkUsable(): void {
    if (this.unusable) throw new StreamUnusableError(undefined, { cause: this.unusable });
    if (this.failure && this.queue.length === 0) throw this.failure;
  }

  private checkWritable(): void {
    if (this.unwritable) throw new StreamUnusableError(undefined, { cause: this.unwritable });
    if (this.stream.destroyed || this.stream.writableEnded) {
      throw this.failure ?? new StreamClosedError('stream is closed for writing');
    }
  }

  private markUnusable<E extends TcpsendError>(err: E): E {
    this.unusable ??= err;
    return err;
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.resolve();
    }
  }

  /**
   * Wait for the next data, end or error event, making sure the socket flows meanwhile. With
   * `progress` (a count that grows while data comes without waking us), the idle timeout
   * counts from the last time it grew.
   */
  private waitForData(wanted: number, deadline?: Deadline, progress?: () => number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.wanted = wanted;
    const held = this.heldByWritable;
    if (!held && this.queue.length < Math.max(this.highWaterMark, wanted)) this.resumeSource();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.wanted = 0;
      };
      this.waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      // While a slow writable holds us, the peer is not the one being idle: no timer.
      const idleMs = this.timeoutMs !== null && !held ? this.timeoutMs : null;
      const deadlineLeft = deadline ? Math.max(0, deadline.at - Date.now()) : null;
      if (idleMs !== null || deadlineLeft !== null) {
        const byDeadline = deadlineLeft !== null && (idleMs === null || deadlineLeft < idleMs);
        let seen = progress?.();
        const expire = () => {
          if (!byDeadline && progress && progress() !== seen) {
            seen = progress();
            timer = setTimeout(expire, idleMs!);
            return;
          }
          const waiter = this.waiter;
          this.waiter = null;
          const err = byDeadline
            ? new TimeoutError(deadline!.ms, `line not complete within ${deadline!.ms} ms`)
            : new TimeoutError(idleMs!);
          waiter?.reject(this.markUnusable(err));
        };
        timer = setTimeout(expire, byDeadline ? deadlineLeft! : idleMs!);
      }
    });
  }

  private waitForDrain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        this.stream.off('drain', onDrain);
        this.stream.off('close', onClose);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(this.failure ?? new StreamClosedError('stream closed while waiting to write'));
      };
      this.stream.on('drain', onDrain);
      this.stream.on('close', onClose);
      if (this.timeoutMs !== null) {
        const timeoutMs = this.timeoutMs;
        timer = setTimeout(() => {
          cleanup();
          const err = new TimeoutError(timeoutMs, `peer took no data for ${timeoutMs} ms`);
          this.unwritable ??= err;
          reject(err);
        }, timeoutMs);
      }
    });
  }
}
