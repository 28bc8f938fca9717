/**
 * A FIFO of Buffers with a running byte count, as ws's Receiver keeps: bytes are copied only
 * when a read spans two chunks, and a read that fits in the first chunk is a zero-copy view.
 */
const EMPTY = Buffer.alloc(0);

export class ChunkQueue {
  private chunks: Buffer[] = [];
  private head = 0; // index of the first live chunk in `chunks`
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** The first chunk queued, left in place (undefined if none). */
  peek(): Buffer | undefined {
    return this.chunks[this.head];
  }

  /** Put bytes back at the front (a reader took more than it needed). */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.head > 0) {
      this.head -= 1;
      this.chunks[this.head] = chunk;
    } else {
      this.chunks.unshift(chunk);
    }
    this.bytes += chunk.length;
  }

  /**
   * Index of the first `byte` among the first `limit` queued bytes, or -1. Scans chunk by
   * chunk with Buffer#indexOf, so a line split across many chunks is never concatenated just
   * to be searched.
   */
  indexOf(byte: number, limit: number = this.bytes): number {
    let base = 0;
    for (let i = this.head; i < this.chunks.length && base < limit; i++) {
      const chunk = this.chunks[i]!;
      const end = Math.min(chunk.length, limit - base);
      const at = chunk.indexOf(byte);
      if (at !== -1 && at < end) return base + at;
      base += chunk.length;
    }
    return -1;
  }

  /** The byte at `index` (which must be < length). */
  byteAt(index: number): number {
    let base = 0;
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      if (index < base + chunk.length) return chunk[index - base]!;
      base += chunk.length;
    }
    throw new RangeError(`byteAt(${index}) past the end (${this.bytes} bytes queued)`);
  }

  /** Remove and return the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    if (n > this.bytes) throw new RangeError(`take(${n}) with only ${this.bytes} bytes queued`);
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[this.head]!;
    if (first.length >= n) {
      this.bytes -= n;
      if (first.length === n) this.shift();
      else this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const want = n - filled;
      if (chunk.length <= want) {
        chunk.copy(out, filled);
        filled += chunk.length;
        this.shift();
      } else {
        chunk.copy(out, filled, 0, want);
        this.chunks[this.head] = chunk.subarray(want);
        filled += want;
      }
    }
    this.bytes -= n;
    return out;
  }

  /** Remove and return the first chunk whole, or at most `max` bytes of it (no copy). */
  takeChunk(max: number): Buffer {
    const first = this.chunks[this.head];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length <= max) {
      this.shift();
      this.bytes -= first.length;
      return first;
    }
    this.chunks[this.head] = first.subarray(max);
    this.bytes -= max;
    return first.subarray(0, max);
  }

  private shift(): void {
    // Let go of the consumed chunk now: a queue that never empties is compacted only every
    // thousand chunks, and until then every chunk read would stay alive (64 MiB of them).
    this.chunks[this.head] = EMPTY;
    this.head += 1;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    } else if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    }
  }
}
