/**
 * The pieces of a progress line, as pure functions of what is known and the terminal's width:
 * sizes, durations, a smoothed rate, names cut in the middle, and the one line that puts them
 * together. The StatusLine (status-line.ts) draws what these return.
 */
import { eastAsianWidth } from 'get-east-asian-width';
import { formatBytes } from '../../text/bytes.js';

// One home for byte counts (src/text/bytes.ts), shared with the server's folder page.
export { formatBytes };

/** `19.9/57.2 MiB` when both are in the same unit, else `880 KiB/2.00 GiB`. */
export function formatBytesOf(done: number, total: number): string {
  const a = formatBytes(done);
  const b = formatBytes(total);
  const unit = (s: string) => s.slice(s.indexOf(' '));
  return unit(a) === unit(b) ? `${a.slice(0, a.indexOf(' '))}/${b}` : `${a}/${b}`;
}

/**
 * `45s`, `1m05s`, `2h03m`. Rounded to whole seconds before it is split, so that 119.6 s is
 * `2m00s`, never `1m60s`.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** A duration for a summary: `0.42 s` under a minute, `formatDuration` beyond. */
export function formatElapsed(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(2)} s` : formatDuration(seconds);
}

/**
 * Bytes per second, smoothed: an exponential moving average with a time constant of a few
 * seconds, fed with the bytes moved so far. A single slow or fast chunk moves it a little,
 * not the whole way, so the ETA drawn from it does not jump 9 → 6 → 8 s on a steady link; a
 * stall makes it decay towards zero instead of freezing at the last value.
 */
export class RateMeter {
  private rate: number | null = null;
  private lastBytes = 0;
  private lastAt: number | null = null;
  private firstAt: number | null = null;

  constructor(
    /** Seconds over which older samples fade to 1/e of their weight. */
    private readonly timeConstant = 3,
    /** Samples closer together than this are folded into the next one. */
    private readonly minInterval = 0.2,
  ) {}

  /** `bytes`: the total moved so far; `now`: seconds (performance.now() / 1000). */
  sample(bytes: number, now: number): void {
    if (this.lastAt === null) {
      this.lastAt = now;
      this.firstAt = now;
      this.lastBytes = bytes;
      return;
    }
    const dt = now - this.lastAt;
    if (dt < this.minInterval) return;
    const instant = Math.max(0, bytes - this.lastBytes) / dt;
    const weight = 1 - Math.exp(-dt / this.timeConstant);
    this.rate = this.rate === null ? instant : this.rate + weight * (instant - this.rate);
    this.lastAt = now;
    this.lastBytes = bytes;
  }

  /** Bytes per second, or null until a second of samples has come in. */
  get bytesPerSecond(): number | null {
    if (this.rate === null || this.lastAt === null || this.firstAt === null) return null;
    return this.lastAt - this.firstAt >= 1 ? this.rate : null;
  }

  /** Seconds until `remaining` more bytes have moved at this rate; null while unknown. */
  eta(remaining: number): number | null {
    const rate = this.bytesPerSecond;
    if (rate === null) return null;
    if (remaining <= 0) return 0;
    return rate > 0 ? remaining / rate : null;
  }
}

/** Columns `text` takes on a terminal (wide East Asian characters take two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

function charWidth(char: string): number {
  const code = char.codePointAt(0)!;
  // Combining marks and zero-width joiners take no column of their own.
  if (/\p{Mn}|\p{Me}|\u200d/u.test(char)) return 0;
  return eastAsianWidth(code, { ambiguousAsWide: false });
}

/**
 * `text` cut to at most `max` columns by taking out its middle: `photos/2024/…/IMG_0042.jpg`.
 * The end of a path (the file's own name) is what tells files apart, so it gets the larger part.
 */
export function middleEllipsis(text: string, max: number): string {
  if (displayWidth(text) <= max) return text;
  if (max <= 0) return '';
  if (max === 1) return '…';
  const chars = Array.from(text);
  const budget = max - 1;
  const headBudget = Math.floor(budget / 3);
  let head = '';
  let used = 0;
  for (const c of chars) {
    if (used + charWidth(c) > headBudget) break;
    head += c;
    used += charWidth(c);
  }
  let tail = '';
  let tailUsed = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!;
    if (used + tailUsed + charWidth(c) > budget) break;
    tail = c + tail;
    tailUsed += charWidth(c);
  }
  return `${head}…${tail}`;
}

/** `█████░░░░░`, `width` columns, `fraction` of them full. */
export function bar(fraction: number, width: number): string {
  const full = Math.max(0, Math.min(width, Math.round(Math.max(0, Math.min(1, fraction)) * width)));
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** What one status line shows: `lead [bar] stats... name`. */
export interface StatusView {
  /** Always shown, first: `43%`, `12/340 files`, `checking the 1.20 GiB already here…`. */
  lead: string;
  /** How full the bar is (0..1); null for no bar. */
  fraction: number | null;
  /** Shown after the bar, most important first: the last ones go first in a narrow terminal. */
  stats: string[];
  /** The file's name: cut in the middle to fit, never dropped while 8 columns are left for it. */
  name: string;
}

const BAR_MIN = 8;
/** A bar this wide is worth cutting a long name for. */
const BAR_GOOD = 16;
const BAR_MAX = 30;
const NAME_MIN = 8;
/** The bar goes before the name is cut below this. */
const NAME_BEFORE_BAR = 16;

/**
 * The view laid out in at most `columns - 3` columns: a line that reaches the last column makes
 * some terminals wrap, and Ctrl-C makes the terminal echo `^C` after it, which must not wrap
 * either (the line could not be cleared then). `lead bar  stat  stat  name`. The name keeps what room it needs, cut in
 * the middle when it must be, and never less than 8 columns while any stat is left to drop; the
 * bar takes up to 30 columns and goes when fewer than 8 are left; in a very narrow terminal the
 * last stats go first.
 */
export function renderStatus(view: StatusView, columns: number): string {
  const width = Math.max(10, columns - 3);
  const stats = [...view.stats];
  const nameWidth = displayWidth(view.name);
  const nameSpace = (w: number) => (view.name ? 2 + w : 0);
  for (;;) {
    const fixed = view.lead + stats.map((s) => `  ${s}`).join('');
    const room = width - displayWidth(fixed);
    if (room < nameSpace(Math.min(nameWidth, NAME_MIN)) && stats.length > 0) {
      stats.pop();
      continue;
    }
    let barWidth = 0;
    if (view.fraction !== null) {
      barWidth = Math.min(BAR_MAX, Math.max(BAR_GOOD, room - 1 - nameSpace(nameWidth)));
      const leftForName = room - 1 - barWidth - nameSpace(0);
      if (view.name && leftForName < Math.min(nameWidth, NAME_BEFORE_BAR)) barWidth = room - 1 - nameSpace(Math.min(nameWidth, NAME_BEFORE_BAR));
      if (!view.name) barWidth = Math.min(BAR_MAX, room - 1);
      if (barWidth < BAR_MIN) barWidth = 0;
    }
    const nameRoom = room - (barWidth > 0 ? barWidth + 1 : 0) - 2;
    const name = view.name ? middleEllipsis(view.name, Math.max(0, nameRoom)) : '';
    const line =
      view.lead +
      (barWidth > 0 ? ` ${bar(view.fraction!, barWidth)}` : '') +
      stats.map((s) => `  ${s}`).join('') +
      (name ? `  ${name}` : '');
    return displayWidth(line) <= width ? line : middleEllipsis(line, width);
  }
}
