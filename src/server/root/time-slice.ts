/**
 * The batch verbs and listings do their file-system work with synchronous calls, which hold
 * the event loop: cheap per file, but hundreds of files on a slow disk (cold reads, fsyncs)
 * would stall every other connection meanwhile. A TimeSlice bounds that: after each file the
 * caller asks whether its slice is used up, and if so lets the event loop run once.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long a batch may hold the event loop before it lets other connections run. */
export const SLICE_MS = 10;

export class TimeSlice {
  private started = performance.now();
  constructor(private readonly ms = SLICE_MS) {}

  /** Let the event loop run if this slice is used up; then a new slice begins. */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.started < this.ms) return;
    await nextTurn();
    this.started = performance.now();
  }
}

/**
 * One time slice shared by many walkers (every listing of a server): together they hold the
 * event loop for about `ms` per turn, however many there are, and take turns in order. With a
 * TimeSlice each, twenty listings of huge folders held it twenty slices per turn, and another
 * client's STAT waited seconds.
 */
export class SharedTimeSlice {
  #turnStarted = -Infinity;
  readonly #waiting: Array<() => void> = [];
  #scheduled = false;

  constructor(private readonly ms = SLICE_MS) {}

  /** Go on while this turn's slice lasts; else wait (in line) for a later turn. */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.#turnStarted < this.ms && this.#waiting.length === 0) return;
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
