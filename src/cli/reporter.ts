/**
 * What a command tells its user while it works. Two kinds: for a person (output/human.ts: a
 * status line on a terminal, plain lines otherwise) and for a script (output/json-reporter.ts:
 * NDJSON events through the one JsonEmitter). docs/cli.md describes both.
 */
export { formatBytes } from './output/progress.js';

/**
 * What became of one file: its content `sent` to a destination that did not have it,
 * `replaced` a different version there, was `unchanged` (already there, nothing moved),
 * `skipped` by a rule (a server's policy, an exclude, a symlink: `reason` says which), or
 * `deleted` at the destination because the source no longer has it.
 */
export type FileOutcome = 'sent' | 'replaced' | 'unchanged' | 'skipped' | 'deleted';

export interface FileDone {
  /** Where the file is: the local path for get, the path on the server for put. */
  path: string;
  size: number;
  /** Bytes that crossed the network this time. */
  bytes: number;
  sha256: string;
  seconds: number;
  resumedFrom: number;
  outcome: FileOutcome;
  /** Why a file was skipped. */
  reason?: string;
}

/** A run's totals: one count per outcome, and the failures. */
export interface Summary {
  /** Every file the run looked at except the deleted ones: sent + replaced + unchanged + skipped + failed. */
  files: number;
  sent: number;
  replaced: number;
  unchanged: number;
  skipped: number;
  deleted: number;
  failed: number;
  bytes: number;
  seconds: number;
}

export function emptySummary(): Summary {
  return { files: 0, sent: 0, replaced: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0, bytes: 0, seconds: 0 };
}

export interface StartInfo {
  op: 'get' | 'put';
  target: string;
  /** Files and bytes to go, when known up front (a single file: 1 and its size). */
  files?: number | null;
  bytes?: number | null;
}

export interface Reporter {
  start(info: StartInfo): void;
  /** The totals of a folder transfer, once known (they may come after start). */
  plan(totals: { files: number; bytes: number }): void;
  /** Hashing the `total` bytes of a partial file already held, before resuming: `done` so far. */
  checking(path: string, done: number, total: number): void;
  fileStart(path: string, size: number, resumedFrom: number): void;
  progress(path: string, done: number, total: number): void;
  fileDone(done: FileDone): void;
  notice(message: string): void;
  error(err: unknown, path?: string): void;
  summary(summary: Summary): void;
  /** Plain output that is the command's result (ls): stdout, even with --quiet. */
  result(line: string): void;
  /**
   * Ctrl-C: take the progress display away and say nothing more about single files (each one
   * in flight is about to fail with the cut connection); the command then says one line.
   */
  interrupt(): void;
  close(): void;
}
