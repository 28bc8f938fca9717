/**
 * One writer per path: two uploads to the same destination must not interleave their bytes in
 * one partial file, nor race to rename onto the name. In memory, so per server process.
 *
 * A holder can go quiet for good: its client lost the network without a word, and its
 * connection lingers until the idle timeout. A new upload to the same path then takes the
 * lock over once the holder has been quiet for a moment (the same address: SAME_PEER_QUIET_MS;
 * another address: QUIET_MS), by cutting the holder's connection: the bytes it received stay
 * in the part, and the newcomer resumes from them.
 */

/** How long a holder from another address must have moved no byte before it is cut. */
export const QUIET_MS = 20_000;
/**
 * The same for a holder from the newcomer's own address (most likely its own earlier attempt):
 * short enough that a client's retries get through (it waits up to 3 s per attempt), long
 * enough that a live upload pausing a moment (a busy disk, a slow link) keeps its lock.
 */
export const SAME_PEER_QUIET_MS = 5_000;

export interface LockHolder {
  /** The holder's address, e.g. '192.168.1.20'. */
  readonly ip: string;
  /** Cut the holder's connection; its handler then releases the lock. */
  cut(): void;
}

export interface UploadLock {
  /** Note that bytes moved: the holder is not quiet. */
  touch(): void;
  release(): void;
}

/** One path's lock as held: the interface's methods on one object (a lock per file of a batch: no closures). */
class Held implements UploadLock {
  lastMoved: number;
  cut = false;
  #released = false;

  constructor(
    private readonly locks: UploadLocks,
    readonly key: string,
    readonly holder: LockHolder,
    private readonly now: () => number,
  ) {
    this.lastMoved = now();
  }

  touch(): void {
    this.lastMoved = this.now();
  }

  release(): void {
    // Releasing twice must not drop a lock someone else took in between.
    if (this.#released) return;
    this.#released = true;
    this.locks.forget(this);
  }
}

export class UploadLocks {
  readonly #held = new Map<string, Held>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Take the lock on `key`, or null while another upload holds it. A holder gone quiet is cut
   * (see the top); the caller then tries again shortly, once the holder has let go.
   */
  tryLock(key: string, holder: LockHolder): UploadLock | null {
    const current = this.#held.get(key);
    if (current !== undefined) {
      const quiet = this.now() - current.lastMoved;
      const limit = current.holder.ip === holder.ip ? SAME_PEER_QUIET_MS : QUIET_MS;
      if (!current.cut && quiet >= limit) {
        current.cut = true;
        current.holder.cut();
      }
      return null;
    }
    const held = new Held(this, key, holder, this.now);
    this.#held.set(key, held);
    return held;
  }

  isLocked(key: string): boolean {
    return this.#held.has(key);
  }

  /** @internal (Held.release) Drop `held`, if it is still the lock on its key. */
  forget(held: Held): void {
    if (this.#held.get(held.key) === held) this.#held.delete(held.key);
  }
}
