/**
 * The batch verbs, listings and deletes do their file-system work with synchronous calls,
 * which hold the event loop: cheap per file, but hundreds of files on a slow disk (cold reads,
 * fsyncs) would stall every other connection meanwhile. A TimeSlice bounds that: after each
 * file the caller asks whether the slice is used up, and if so lets the event loop run.
 *
 * One TimeSlice is shared by all such work on a root (Root.workSlice): together the walkers
 * hold the event loop for about SLICE_MS per turn, however many there are, and take turns in
 * order. With a slice each, twenty listings of huge folders held it twenty slices per turn,
 * and another client's STAT waited seconds.
 */

/** How long batch work may hold the event loop, per turn, before other connections run. */
export const SLICE_MS = 10;

export class TimeSlice {
  #turnStarted = performance.now();
  readonly #waiting: Array<() => void> = [];
  #scheduled = false;

  constructor(private readonly ms = SLICE_MS) {}

  /** Whether this turn's slice is used up (or others wait): then yieldIfDue waits. Costs no promise. */
  due(): boolean {
    return performance.now() - this.#turnStarted >= this.ms || this.#waiting.length > 0;
  }

  /** Go on while this turn's slice lasts; else let the event loop run, and wait (in line) for a later turn. */
  async yieldIfDue(): Promise<void> {
    if (!this.due()) return;
    await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#turnStarted = performance.now();
      this.#waiting.shift()?.();
      if (this.#waiting.length > 0) this.#schedule();
    });
  }
}
