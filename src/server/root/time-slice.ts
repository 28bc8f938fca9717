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
