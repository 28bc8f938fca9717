/**
 * One writer per path: two uploads to the same destination must not interleave their bytes
 * in one partial file, nor race to rename onto the name. In memory, so per server process.
 */
export class PathLocks {
  readonly #held = new Set<string>();

  /** Take the lock on `key`; returns its release function, or null if it is held. */
  tryLock(key: string): (() => void) | null {
    if (this.#held.has(key)) return null;
    this.#held.add(key);
    let released = false;
    return () => {
      // Releasing twice must not drop a lock someone else took in between.
      if (released) return;
      released = true;
      this.#held.delete(key);
    };
  }

  isLocked(key: string): boolean {
    return this.#held.has(key);
  }
}
