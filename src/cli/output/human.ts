/**
 * Output for a person, on stderr. On a terminal, one status line redrawn in place: for one
 * file its bar, bytes, rate and ETA; for a folder one overall bar (files done of total, bytes,
 * rate, ETA) and the name of the file moving now. Elsewhere (a pipe, a log, CI) plain lines.
 * Per-file lines: on a terminal only with --verbose; elsewhere for the files that moved (every
 * file with --verbose). A folder ends with one summary line. --quiet keeps only errors.
 */
import type { Writable } from 'node:stream';
import type { SkipGroup } from '../../client/tree.js';
import type { FileDone, Reporter, StartInfo, Summary } from '../reporter.js';
import { describe, writeLine } from './messages.js';
import { formatBytes, formatBytesOf, formatDuration, formatElapsed, RateMeter, renderStatus, type StatusView } from './progress.js';
import { StatusLine, type TtyStream } from './status-line.js';

export interface HumanStreams {
  stdout: Writable;
  stderr: TtyStream;
}

export interface HumanOptions {
  quiet: boolean;
  verbose: boolean;
  /** Draw a status line (stderr is a terminal, not CI, not --quiet). */
  live: boolean;
}

interface Moving {
  size: number;
  /** Bytes of the file done, its resumed part included. */
  done: number;
  resumedFrom: number;
}

/** Redraws while nothing is reported either, so that a stall shows as a falling rate. */
const TICK_MS = 250;

export class HumanReporter implements Reporter {
  private readonly status: StatusLine | null;
  private ticker: NodeJS.Timeout | null = null;
  private folder = false;
  private op: 'get' | 'put' = 'get';
  private planned = { files: 0, bytes: 0, known: false };
  private finished = { files: 0, bytes: 0 };
  private readonly moving = new Map<string, Moving>();
  /** Bytes that crossed the network in this run: what the rate measures. */
  private moved = 0;
  private meter = new RateMeter();
  private current = '';
  private checkingState: { path: string; done: number; total: number } | null = null;
  private muted = false;

  constructor(
    private readonly streams: HumanStreams,
    private readonly options: HumanOptions,
  ) {
    this.status = options.live ? new StatusLine(streams.stderr) : null;
  }

  private line(text: string): void {
    if (this.status) {
      this.status.clear();
      writeLine(this.streams.stderr, text);
      this.redraw(true);
    } else writeLine(this.streams.stderr, text);
  }

  start(info: StartInfo): void {
    this.op = info.op;
    this.folder = info.files !== 1;
    if (info.files != null && info.bytes != null) this.planned = { files: info.files, bytes: info.bytes, known: true };
    if (this.status && !this.ticker) {
      this.ticker = setInterval(() => this.redraw(true), TICK_MS);
      this.ticker.unref();
    }
  }

  plan(totals: { files: number; bytes: number }): void {
    this.planned = { ...totals, known: true };
    this.redraw(true);
  }

  checking(path: string, done: number, total: number): void {
    this.checkingState = { path, done, total };
    this.redraw(done >= total);
  }

  fileStart(path: string, size: number, resumedFrom: number): void {
    // Only a status line shows the files moving: without one (a pipe, --quiet) nothing is
    // kept per file, which a folder of many small files would pay for each of them.
    if (this.status) {
      // The time spent checking a held part moved no bytes: it is no part of the rate.
      if (this.checkingState || !this.folder) this.meter = new RateMeter();
      this.checkingState = null;
      this.moving.set(path, { size, done: resumedFrom, resumedFrom });
      this.current = path;
    }
    if (resumedFrom > 0 && !this.options.quiet) this.line(`tcpsend: resuming ${path} from ${formatBytes(resumedFrom)}`);
    this.redraw(true);
  }

  progress(path: string, done: number, total: number): void {
    if (!this.status) return;
    const m = this.moving.get(path);
    if (m) {
      this.moved += Math.max(0, done - m.done);
      m.done = done;
      m.size = total;
    }
    this.redraw(false);
  }

  fileDone(done: FileDone): void {
    if (this.status) {
      // Bytes of it not yet seen in progress (a small file may report none before it is done).
      const m = this.moving.get(done.path);
      this.moved += Math.max(0, done.bytes - (m ? m.done - m.resumedFrom : 0));
      this.moving.delete(done.path);
      // A deletion at the destination is no file of the source: it does not count towards the total.
      if (done.outcome !== 'deleted') {
        this.finished.files += 1;
        this.finished.bytes += done.size;
      }
    }
    // One file: its bar has nothing more to show, and its line says how it went.
    if (!this.folder) this.stopStatus();
    if (this.options.quiet || this.muted) return this.redraw(true);
    // A dry run's lines are what it was asked for (skipped files are named in the summary).
    if (done.dryRun) {
      if (done.outcome !== 'unchanged' && done.outcome !== 'skipped') this.line(`would ${DRY_RUN_VERB[done.outcome]} ${done.path}`);
      return this.redraw(true);
    }
    // Not forced: the files of a folder come far faster than a terminal can show (10,000
    // unchanged ones in a fraction of a second), and the ticker draws the line meanwhile.
    const quietOne = this.folder && (this.status !== null || done.outcome === 'unchanged');
    if (quietOne && !this.options.verbose) return this.redraw(false);
    this.line(this.doneLine(done));
  }

  private doneLine(done: FileDone): string {
    const sha = done.digest ? `${done.checksum} ${done.digest.slice(0, 16)}…` : '';
    switch (done.outcome) {
      case 'unchanged':
        return `= ${done.path}: already there, identical${sha ? ` (${sha})` : ''}`;
      case 'skipped':
        return `- ${done.path}: skipped${done.reason ? ` (${done.reason})` : ''}`;
      case 'deleted':
        return `✗ ${done.path}: deleted`;
      default: {
        // A rate over a few KiB measures latency, not throughput: shown for real transfers only.
        const rate = done.seconds > 0 && done.bytes >= 1024 * 1024 ? `, ${formatBytes(done.bytes / done.seconds)}/s` : '';
        const resumed = done.resumedFrom > 0 ? `, resumed at ${formatBytes(done.resumedFrom)}` : '';
        const replaced = done.outcome === 'replaced' ? ', replaced' : '';
        return `✓ ${done.path}: ${formatBytes(done.size)}${resumed}${replaced}${rate}, ${sha} verified`;
      }
    }
  }

  notice(message: string): void {
    if (!this.options.quiet && !this.muted) this.line(`tcpsend: ${message}`);
  }

  error(err: unknown, path?: string): void {
    if (this.muted) return;
    this.line(`tcpsend: ${path ? `${path}: ` : ''}${describe(err)}`);
  }

  summary(s: Summary): void {
    this.stopStatus();
    // One file has said all there is to say in its own line.
    if (this.options.quiet || this.muted || (!this.folder && s.files === 1 && s.failed === 0)) return;
    writeLine(this.streams.stderr, `${s.dryRun ? 'dry run, nothing changed: ' : ''}${summaryLine(s, this.op)}`);
    for (const group of s.skips ?? []) writeLine(this.streams.stderr, skipLine(group));
  }

  result(line: string): void {
    writeLine(this.streams.stdout, line);
  }

  interrupt(): void {
    this.muted = true;
    this.stopStatus();
  }

  close(): void {
    this.stopStatus();
  }

  private stopStatus(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.status?.stop();
  }

  private redraw(force: boolean): void {
    if (!this.status || this.muted || this.ticker === null) return;
    if (!this.checkingState) this.meter.sample(this.moved, performance.now() / 1000);
    if (!force && !this.status.due()) return;
    const view = this.view();
    if (view) this.status.draw(renderStatus(view, this.status.columns), force);
  }

  private view(): StatusView | null {
    const rate = this.meter.bytesPerSecond;
    // Fixed widths, so that the line does not shift as the numbers come and go.
    const rateText = (rate === null ? '…' : `${formatBytes(rate)}/s`).padStart(11);
    const etaText = (eta: number | null) => `ETA ${eta === null ? '--' : formatDuration(eta)}`.padEnd(9);
    const check = this.checkingState;
    if (check) {
      const pct = check.total > 0 ? Math.floor((check.done / check.total) * 100) : 100;
      return { lead: `checking the ${formatBytes(check.total)} ${this.op === 'put' ? 'the server already has' : 'already here'}… ${pct}%`, fraction: check.total > 0 ? check.done / check.total : 1, stats: [], name: check.path };
    }
    if (!this.folder) {
      const m = this.moving.get(this.current);
      if (!m) return null;
      const pct = m.size > 0 ? Math.floor((m.done / m.size) * 100) : 100;
      const eta = this.meter.eta(m.size - m.done);
      return {
        lead: `${String(pct).padStart(3)}%`,
        fraction: m.size > 0 ? m.done / m.size : 1,
        stats: [formatBytesOf(m.done, m.size), rateText, etaText(eta)],
        name: this.current,
      };
    }
    let inFlight = 0;
    for (const m of this.moving.values()) inFlight += m.done;
    const bytesDone = this.finished.bytes + inFlight;
    const files = this.planned.known ? `${this.finished.files}/${this.planned.files} files` : `${this.finished.files} files`;
    const bytes = this.planned.known ? formatBytesOf(bytesDone, this.planned.bytes) : formatBytes(bytesDone);
    const eta = this.planned.known ? this.meter.eta(this.planned.bytes - bytesDone) : null;
    const stats = [bytes, rateText];
    if (this.planned.known) stats.push(etaText(eta));
    const current = this.moving.has(this.current) ? this.current : [...this.moving.keys()].at(-1) ?? '';
    return {
      lead: files,
      fraction: this.planned.known ? (this.planned.bytes > 0 ? bytesDone / this.planned.bytes : this.finished.files / Math.max(1, this.planned.files)) : null,
      stats,
      name: current,
    };
  }
}

/** Paths a summary line of skipped files names, at most. */
const SKIPS_NAMED = 10;

const DRY_RUN_VERB = { sent: 'send', replaced: 'replace', deleted: 'delete' } as const;

/** `tcpsend: skipped 2, hidden files the server does not take (serve --dotfiles): .DS_Store, .git/` */
export function skipLine(group: SkipGroup): string {
  const named = group.paths.slice(0, SKIPS_NAMED).join(', ');
  const more = group.paths.length > SKIPS_NAMED ? ` and ${group.paths.length - SKIPS_NAMED} more` : '';
  return `tcpsend: skipped ${group.paths.length}, ${group.reason}: ${named}${more}`;
}

/**
 * `12 files: 3 received, 1 replaced, 2 deleted, 5 already identical, 1 skipped; 4.20 MiB in
 * 2.10 s, 2.00 MiB/s`. Sent and identical are always named; the others when there are any.
 */
export function summaryLine(s: Summary, op: 'get' | 'put'): string {
  const parts = [`${s.sent} ${op === 'get' ? 'received' : 'sent'}`];
  if (s.replaced) parts.push(`${s.replaced} replaced`);
  if (s.deleted) parts.push(`${s.deleted} deleted`);
  parts.push(`${s.unchanged} already identical`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  if (s.failed) parts.push(`${s.failed} failed`);
  const rate = s.seconds > 0 && s.bytes >= 1024 * 1024 ? `, ${formatBytes(s.bytes / s.seconds)}/s` : '';
  return `${s.files} ${s.files === 1 ? 'file' : 'files'}: ${parts.join(', ')}; ${formatBytes(s.bytes)} in ${formatElapsed(s.seconds)}${rate}`;
}
