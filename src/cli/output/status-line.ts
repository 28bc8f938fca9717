/**
 * One line at the bottom of a terminal that is redrawn in place (`\r`, erase to the end of the
 * line), with ordinary lines printed above it. Only ever used when stderr is a TTY.
 */
import type { Writable } from 'node:stream';
import { forTerminal } from '../../protocol/printable.js';

const ERASE_LINE = '\r\x1b[K';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

export interface TtyStream extends Writable {
  isTTY?: boolean;
  columns?: number;
}

export class StatusLine {
  private shown = false;
  private cursorHidden = false;
  private lastDraw = 0;
  private readonly restoreCursor = () => {
    if (this.cursorHidden) this.stream.write(SHOW_CURSOR);
  };

  constructor(
    private readonly stream: TtyStream,
    /** Milliseconds between redraws: progress comes far more often than an eye can read. */
    private readonly minIntervalMs = 100,
  ) {
    // However the process ends (an exit forced after Ctrl-C too), the cursor comes back.
    process.once('exit', this.restoreCursor);
  }

  get columns(): number {
    return this.stream.columns && this.stream.columns > 0 ? this.stream.columns : 80;
  }

  /** Whether draw would draw now (unforced): lets a caller skip laying out a line it would drop. */
  due(): boolean {
    return !this.shown || performance.now() - this.lastDraw >= this.minIntervalMs;
  }

  /** Draw `text` (already laid out for `columns`), unless the last redraw was a moment ago. */
  draw(text: string, force = false): void {
    if (!force && !this.due()) return;
    this.lastDraw = performance.now();
    if (!this.cursorHidden) {
      this.stream.write(HIDE_CURSOR);
      this.cursorHidden = true;
    }
    this.stream.write(`${ERASE_LINE}${forTerminal(text)}`);
    this.shown = true;
  }

  /** Take the line away, leaving the cursor at the start of an empty line. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write(ERASE_LINE);
    this.shown = false;
  }

  /** Print `line` above the status line (which the next draw puts back). */
  above(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
  }

  /** Clear the line and give the cursor back. */
  stop(): void {
    this.clear();
    this.restoreCursor();
    this.cursorHidden = false;
    process.off('exit', this.restoreCursor);
  }
}
