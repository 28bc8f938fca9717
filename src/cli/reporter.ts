/**
 * What a command tells its user while it works: progress bars on a terminal (cli-progress,
 * stderr, only when stderr is a TTY), plain lines otherwise, or NDJSON events on stdout with
 * --json (docs/cli.md has the event schema).
 */
import cliProgress from 'cli-progress';
import type { Writable } from 'node:stream';
import type { TreeSummary } from '../client/tree.js';
import { TcpsendError } from '../errors.js';

export interface FileDone {
  path: string;
  size: number;
  /** Bytes that crossed the network this time. */
  bytes: number;
  sha256: string;
  seconds: number;
  skipped: boolean;
  resumedFrom: number;
}

/** A transfer's totals, as a folder transfer counts them. */
export type Summary = Omit<TreeSummary, 'firstError'>;

export interface Reporter {
  start(info: { op: string; target: string; files?: number | null; bytes?: number | null }): void;
  fileStart(path: string, size: number, resumedFrom: number): void;
  progress(path: string, done: number, total: number): void;
  fileDone(done: FileDone): void;
  notice(message: string): void;
  error(err: unknown, path?: string): void;
  summary(summary: Summary): void;
  /** Plain output that is the command's result (ls): stdout, even with --quiet. */
  result(line: string): void;
  close(): void;
}

export interface ReporterStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

import { formatBytes } from '../text/bytes.js';

export { formatBytes };

function errorFields(err: unknown): { code: string; message: string } {
  if (err instanceof TcpsendError) return { code: err.code, message: err.message };
  return { code: 'TCPSEND_ERR_GENERIC', message: err instanceof Error ? err.message : String(err) };
}

/** NDJSON on stdout: one event per line; progress at most every 250 ms per file. */
export class JsonReporter implements Reporter {
  private lastProgress = new Map<string, number>();
  constructor(private readonly out: Writable) {}

  private emit(event: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify({ ...event, time: new Date().toISOString() })}\n`);
  }

  start(info: { op: string; target: string; files?: number | null; bytes?: number | null }): void {
    this.emit({ event: 'start', ...info });
  }
  fileStart(path: string, size: number, resumedFrom: number): void {
    this.emit({ event: 'file_start', path, size, resumed_from: resumedFrom });
  }
  progress(path: string, done: number, total: number): void {
    const now = Date.now();
    if (done < total && now - (this.lastProgress.get(path) ?? 0) < 250) return;
    this.lastProgress.set(path, now);
    this.emit({ event: 'progress', path, bytes: done, total });
  }
  fileDone(done: FileDone): void {
    this.lastProgress.delete(done.path);
    this.emit({
      event: 'file_done',
      path: done.path,
      size: done.size,
      bytes: done.bytes,
      sha256: done.sha256,
      seconds: Number(done.seconds.toFixed(3)),
      status: done.skipped ? 'skipped' : 'sent',
      resumed_from: done.resumedFrom,
    });
  }
  notice(message: string): void {
    this.emit({ event: 'notice', message });
  }
  error(err: unknown, path?: string): void {
    this.emit({ event: 'error', ...errorFields(err), ...(path === undefined ? {} : { path }) });
  }
  summary(summary: Summary): void {
    // Only the summary's own fields: callers pass a TreeSummary, whose firstError (an error
    // object) is internal and would otherwise leak into the event.
    const { files, sent, skipped, failed, bytes, seconds } = summary;
    this.emit({ event: 'summary', files, sent, skipped, failed, bytes, seconds: Number(seconds.toFixed(3)) });
  }
  result(line: string): void {
    this.emit({ event: 'result', line });
  }
  close(): void {}
}

/** For a person: bars on a TTY, one line per file otherwise; --quiet keeps only errors. */
export class HumanReporter implements Reporter {
  private readonly bars: cliProgress.MultiBar | null;
  private fileBar: cliProgress.SingleBar | null = null;
  private totalBar: cliProgress.SingleBar | null = null;
  private totals = { files: 0, bytes: 0, filesDone: 0, bytesDone: 0 };
  private readonly fileProgress = new Map<string, number>();
  /** Lines handed to the bars since their last redraw: cli-progress drops these on stop(). */
  private unflushed: string[] = [];

  constructor(
    private readonly streams: ReporterStreams,
    private readonly quiet: boolean,
  ) {
    const tty = Boolean(streams.stderr.isTTY) && !quiet && !process.env.CI;
    this.bars = tty
      ? new cliProgress.MultiBar(
          {
            stream: streams.stderr,
            format: ' {bar} {percentage}% | {done}/{size} | {rate} | ETA {eta_formatted} | {name}',
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
            fps: 8,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    // Each redraw writes out every line logged so far.
    this.bars?.on('redraw-pre', () => {
      this.unflushed = [];
    });
  }

  private line(text: string): void {
    if (this.bars) {
      this.bars.log(`${text}\n`);
      this.unflushed.push(`${text}\n`);
    } else this.streams.stderr.write(`${text}\n`);
  }

  start(info: { op: string; target: string; files?: number | null; bytes?: number | null }): void {
    this.totals = { files: info.files ?? 0, bytes: info.bytes ?? 0, filesDone: 0, bytesDone: 0 };
    if (this.bars && info.files && info.files > 1) {
      this.totalBar = this.bars.create(info.bytes ?? 0, 0, this.payload(0, info.bytes ?? 0, `0/${info.files} files`));
    }
  }

  private payload(done: number, size: number, name: string, seconds?: number) {
    const rate = seconds && seconds > 0 ? `${formatBytes(done / seconds)}/s` : '';
    return { done: formatBytes(done), size: formatBytes(size), rate, name };
  }

  private started = new Map<string, { at: number; from: number }>();

  fileStart(path: string, size: number, resumedFrom: number): void {
    this.started.set(path, { at: performance.now(), from: resumedFrom });
    if (resumedFrom > 0) this.notice(`resuming ${path} from ${formatBytes(resumedFrom)}`);
    if (!this.bars) return;
    this.fileBar?.stop();
    if (this.fileBar) this.bars.remove(this.fileBar);
    this.fileBar = this.bars.create(size, resumedFrom, this.payload(resumedFrom, size, path));
  }

  progress(path: string, done: number, total: number): void {
    if (!this.bars) return;
    const s = this.started.get(path);
    const seconds = s ? (performance.now() - s.at) / 1000 : 0;
    this.fileBar?.update(done, this.payload(done - (s?.from ?? 0), total, path, seconds));
    const before = this.fileProgress.get(path) ?? s?.from ?? 0;
    this.fileProgress.set(path, done);
    this.totals.bytesDone += done - before;
    this.totalBar?.update(this.totals.bytesDone, this.payload(this.totals.bytesDone, this.totals.bytes, `${this.totals.filesDone}/${this.totals.files} files`));
  }

  fileDone(done: FileDone): void {
    this.started.delete(done.path);
    this.fileProgress.delete(done.path);
    this.totals.filesDone += 1;
    if (this.fileBar && this.bars) {
      this.fileBar.stop();
      this.bars.remove(this.fileBar);
      this.fileBar = null;
    }
    if (this.quiet) return;
    const sha = done.sha256.slice(0, 16);
    if (done.skipped) this.line(`= ${done.path}: already there, identical (sha256 ${sha}…)`);
    else {
      // A rate over a few KiB measures latency, not throughput: shown for real transfers only.
      const rate = done.seconds > 0 && done.bytes >= 1024 * 1024 ? `, ${formatBytes(done.bytes / done.seconds)}/s` : '';
      const resumed = done.resumedFrom > 0 ? `, resumed at ${formatBytes(done.resumedFrom)}` : '';
      this.line(`✓ ${done.path}: ${formatBytes(done.size)}${resumed}${rate}, sha256 ${sha}… verified`);
    }
  }

  notice(message: string): void {
    if (!this.quiet) this.line(`tcpsend: ${message}`);
  }

  error(err: unknown, path?: string): void {
    const { message } = errorFields(err);
    this.line(`tcpsend: ${path ? `${path}: ` : ''}${message}`);
  }

  summary(s: Summary): void {
    // One file has said all there is to say in its own line.
    if (this.quiet || (s.files === 1 && s.failed === 0)) return;
    const parts = [`${s.sent} sent`, `${s.skipped} already identical`];
    if (s.failed) parts.push(`${s.failed} failed`);
    this.line(`${s.files} ${s.files === 1 ? 'file' : 'files'}: ${parts.join(', ')}; ${formatBytes(s.bytes)} in ${s.seconds.toFixed(2)} s`);
  }

  result(line: string): void {
    this.streams.stdout.write(`${line}\n`);
  }

  close(): void {
    if (!this.bars) return;
    this.bars.stop();
    // The last file's line and the summary usually come after the last redraw (or before any:
    // nothing to send); without this a terminal would show nothing at all for them.
    for (const text of this.unflushed.splice(0)) this.streams.stderr.write(text);
  }
}
