import type { ChecksumName } from '../hash/index.js';
/**
 * What a command tells its user while it works. Two kinds: for a person (output/human.ts: a
 * status line on a terminal, plain lines otherwise) and for a script (output/json-reporter.ts:
 * NDJSON events through the one JsonEmitter). docs/cli.md describes both.
 */
import { emptySummary as emptyTreeSummary, type Outcome, type SkipGroup, type TreeSummary } from '../client/tree.js';

export { formatBytes } from './output/progress.js';

/** What became of one file (the folder transfer's outcomes, src/client/tree.ts). */
export type FileOutcome = Outcome;

export interface FileDone {
  /** Where the file is: the local path for get, the path on the server for put. */
  path: string;
  size: number;
  /** Bytes that crossed the network this time. */
  bytes: number;
  /** The algorithm of `digest`, the whole file's checksum, verified on both ends. */
  checksum: ChecksumName;
  digest: string;
  seconds: number;
  resumedFrom: number;
  outcome: FileOutcome;
  /** Why a file was skipped. */
  reason?: string;
  /** --dry-run: what would happen; nothing did. */
  dryRun?: boolean;
}

/**
 * A run's totals: one count per outcome, and the failures, as a folder transfer counts them
 * (TreeSummary); the first error stays with the command, and a single file has no skips.
 */
export type Summary = Omit<TreeSummary, 'firstError' | 'skips'> & { skips?: readonly SkipGroup[] };

/** No files yet: a command that moves several files and folders adds each one's totals in. */
export function emptySummary(): Summary {
  const { firstError: _first, ...totals } = emptyTreeSummary();
  return totals;
}

/** Add `part` into `total` (several files and folders in one command); skips of one reason stay one line. */
export function addSummary(total: Summary, part: Summary): void {
  for (const key of ['files', 'sent', 'replaced', 'unchanged', 'skipped', 'deleted', 'failed', 'bytes'] as const) total[key] += part[key];
  if (part.dryRun) total.dryRun = true;
  if (!part.skips?.length) return;
  const skips = [...(total.skips ?? [])].map((group) => ({ ...group, paths: [...group.paths] }));
  for (const group of part.skips) {
    const same = skips.find((g) => g.reason === group.reason);
    if (same) same.paths.push(...group.paths);
    else skips.push({ ...group, paths: [...group.paths] });
  }
  total.skips = skips;
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
