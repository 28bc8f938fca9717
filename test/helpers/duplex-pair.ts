/**
 * An in-memory connected pair of Duplex streams: what one side writes, the other reads.
 * Writes complete only when the peer's readable side accepts them, so backpressure behaves
 * like a socket's: a peer that does not read stalls the writer once its buffer is full.
 */
import { Duplex } from 'node:stream';

class PairEnd extends Duplex {
  peer!: PairEnd;
  private pendingWrite: (() => void) | null = null;

  constructor(highWaterMark: number) {
    super({ highWaterMark, allowHalfOpen: true });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // Copy, as a socket would: the writer may reuse its buffer once the callback ran.
    const accepted = this.peer.push(Buffer.from(chunk));
    if (accepted) callback();
    else this.peer.pendingWrite = () => callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _read(): void {
    const pending = this.pendingWrite;
    this.pendingWrite = null;
    pending?.();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy(err ? undefined : undefined);
    callback(err);
  }
}

/** Two connected ends. `highWaterMark` bounds what sits in each direction unread. */
export function duplexPair(highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const a = new PairEnd(highWaterMark);
  const b = new PairEnd(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
