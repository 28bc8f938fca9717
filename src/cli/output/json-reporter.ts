/** --json: the Reporter as NDJSON events on stdout (docs/cli.md has the schema). */
import type { FileDone, Reporter, StartInfo, Summary } from '../reporter.js';
import type { JsonEmitter } from './json.js';
import { InterruptedError } from '../../errors.js';
import { errorFields } from './messages.js';

/** Progress and checking events: at most one per file every this many ms (the last always). */
const THROTTLE_MS = 250;

export class JsonReporter implements Reporter {
  private readonly last = new Map<string, number>();
  private muted = false;

  constructor(private readonly json: JsonEmitter) {}

  private throttled(key: string, done: number, total: number): boolean {
    const now = Date.now();
    if (done < total && now - (this.last.get(key) ?? 0) < THROTTLE_MS) return true;
    this.last.set(key, now);
    return false;
  }

  start(info: StartInfo): void {
    this.json.emit('start', { op: info.op, target: info.target, files: info.files ?? null, bytes: info.bytes ?? null });
  }
  plan(totals: { files: number; bytes: number }): void {
    this.json.emit('plan', { files: totals.files, bytes: totals.bytes });
  }
  checking(path: string, done: number, total: number): void {
    if (this.throttled(`checking:${path}`, done, total)) return;
    this.json.emit('checking', { path, bytes: done, total });
  }
  fileStart(path: string, size: number, resumedFrom: number): void {
    this.last.delete(`checking:${path}`);
    this.json.emit('file_start', { path, size, resumed_from: resumedFrom });
  }
  progress(path: string, done: number, total: number): void {
    if (this.throttled(path, done, total)) return;
    this.json.emit('progress', { path, bytes: done, total });
  }
  fileDone(done: FileDone): void {
    this.last.delete(done.path);
    this.json.emit('file_done', {
      path: done.path,
      size: done.size,
      bytes: done.bytes,
      checksum: done.checksum,
      digest: done.digest,
      seconds: Number(done.seconds.toFixed(3)),
      // 0.1's two values, kept for scripts: did the content cross the network or not.
      status: done.outcome === 'sent' || done.outcome === 'replaced' ? 'sent' : 'skipped',
      outcome: done.outcome,
      ...(done.reason === undefined ? {} : { reason: done.reason }),
      resumed_from: done.resumedFrom,
      ...(done.dryRun ? { dry_run: true } : {}),
    });
  }
  notice(message: string): void {
    if (!this.muted) this.json.emit('notice', { message });
  }
  error(err: unknown, path?: string): void {
    if (this.muted && !(err instanceof InterruptedError)) return;
    this.json.emit('error', { ...errorFields(err), ...(path === undefined ? {} : { path }) });
  }
  summary(s: Summary): void {
    this.json.emit('summary', {
      files: s.files,
      // 0.1's two counts, kept for scripts: content that crossed, and files that needed nothing.
      sent: s.sent + s.replaced,
      skipped: s.unchanged + s.skipped,
      failed: s.failed,
      bytes: s.bytes,
      seconds: Number(s.seconds.toFixed(3)),
      outcomes: { sent: s.sent, replaced: s.replaced, unchanged: s.unchanged, skipped: s.skipped, deleted: s.deleted },
      ...(s.dryRun ? { dry_run: true } : {}),
    });
  }
  result(line: string): void {
    this.json.emit('result', { line });
  }
  /** The interrupted error event still comes (from the command); per-file ones stop here. */
  interrupt(): void {
    this.muted = true;
  }
  close(): void {}
}
