/**
 * Large buffers ("slabs") that many small messages are laid into end to end before they go to
 * the socket in one write: the batch verbs' answers and uploads. A slab goes back to the pool
 * once the socket is done with it (SocketFile.writeOwned's release), so a batch of 10,000
 * small files reuses a few slabs instead of leaving tens of MiB of dead buffers for the
 * garbage collector, which frees buffers lazily and lets them swell the resident set.
 */
export class SlabPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly slabBytes: number,
    private readonly keep = 4,
  ) {}

  /** A slab of at least `bytes` (a larger one than usual is made for it, and not kept). */
  take(bytes = this.slabBytes): Buffer {
    if (bytes <= this.slabBytes) {
      const slab = this.free.pop();
      if (slab) return slab;
    }
    return Buffer.allocUnsafe(Math.max(this.slabBytes, bytes));
  }

  /** Give back a slab (the whole of one `take` gave) that nothing refers to any more. */
  release(slab: Buffer): void {
    if (slab.length === this.slabBytes && this.free.length < this.keep) this.free.push(slab);
  }
}
