/**
 * What a folder put (tree-put.ts) and a folder get (tree-get.ts) share: the outcome and summary
 * types, the bookkeeping of one run (TreeRun), the skip reasons, the window of operations in
 * flight, batching, and small path helpers. tree.ts is the public face of all three.
 */
import { NotFoundError, RemoteError } from '../errors.js';
import { createHasher, hashFileRange, LEGACY_CHECKSUM, type ChecksumName } from '../hash/index.js';
import { PathFilter, type FilterRule } from '../transfer/filter.js';
import type { ReadableFile } from '../io/index.js';
import type { BatchHooks } from './batch.js';
import { isRetriable, type ReconnectingClient } from './retry.js';
import type { TcpsendClient } from './client.js';
import type { TransferResult } from './types.js';

/** Operations in flight on the connection at once. */
export const WINDOW = 32;
/**
 * Files up to this size go in batches (MGET, MPUT) where the server offers them: a folder
 * of many small files then costs a few requests, not one or two per file.
 */
export const BATCH_FILE_MAX = 256 * 1024;
/** At most this many files, and this many bytes of them, per batch. */
const BATCH_ITEMS = 100;
/** Batches in flight on the connection at once: enough to keep it busy; more only queue up on the server. */
export const BATCH_WINDOW = 4;
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * What became of one entry: its content `sent` to a destination that did not have it,
 * `replaced` a different version there, was `unchanged` (already there, nothing moved),
 * `skipped` by a rule (a server's policy, an exclude, a symlink: `reason` says which), or
 * `deleted` at the destination because the source no longer has it.
 */
export type Outcome = 'sent' | 'replaced' | 'unchanged' | 'skipped' | 'deleted';

export interface EntryDone extends TransferResult {
  /** Relative to the synced folder, '/'-separated. */
  rel: string;
  outcome: Outcome;
  /** Why it was skipped (outcome 'skipped' only). */
  reason?: string;
  /** A --dry-run: what would happen; nothing did. */
  dryRun?: boolean;
}

export interface TreeHooks {
  onFileStart?: (path: string, size: number, resumedFrom: number) => void;
  onProgress?: (path: string, done: number, total: number) => void;
  onFileDone?: (done: EntryDone) => void;
  onFileError?: (rel: string, err: unknown) => void;
  onNotice?: (message: string) => void;
  /**
   * The files and bytes the whole tree holds, once the walk or the listing has seen them all
   * (files may be on their way, or done, already).
   */
  onPlan?: (totals: { files: number; bytes: number }) => void;
}

export interface TreeOptions extends TreeHooks {
  /** Compare the contents of same-size files (SHA-256, the server's from its cache), not their mtimes. */
  checksum?: boolean;
  /** Keep files that are already at the destination, even when they differ. */
  ignoreExisting?: boolean;
  /** Remove what the destination has and the source does not (inside the folder only). */
  delete?: boolean;
  /** Decide and report everything, change nothing. */
  dryRun?: boolean;
  /** --exclude / --include rules, in order (filter.ts). */
  filter?: readonly FilterRule[];
}

/** Skipped paths that share a reason: one line of the summary. */
export interface SkipGroup {
  reason: string;
  paths: string[];
  /**
   * The server (or a conflict) refused what the user asked for, e.g. a file that differs there
   * and may not be replaced: the run exits 4. Policy skips (dotfiles, symlinks) do not.
   */
  refused: boolean;
}

export interface TreeSummary {
  /** Entries that got an outcome other than deleted: files and links. */
  files: number;
  sent: number;
  replaced: number;
  unchanged: number;
  skipped: number;
  deleted: number;
  failed: number;
  bytes: number;
  seconds: number;
  /** The first failure, for the exit status. */
  firstError: unknown;
  /** What was skipped, grouped by reason. */
  skips: SkipGroup[];
  /** A --dry-run: the counts say what would have happened. */
  dryRun?: boolean;
}

export function emptySummary(): TreeSummary {
  return { files: 0, sent: 0, replaced: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0, bytes: 0, seconds: 0, firstError: null, skips: [] };
}

// Reasons for skipping, named once.
// Each reads after "skipped N, " in the summary line that names the paths.
export const SKIP = {
  notReplaced: 'different on the server and not replaced (the server needs --allow-overwrite)',
  kept: 'already there and kept (--ignore-existing)',
  hidden: 'hidden files the server does not take (serve --dotfiles)',
  forbidden: 'refused by the server',
  noSymlinks: 'symlinks the server cannot create (its greeting lacks the symlink capability: an older tcpsend)',
  folderInTheWay: 'a folder is in the way (--delete replaces it)',
  notRemovable: 'something of another kind is in the way on the server and cannot be removed (serve --allow-delete)',
  deleteRefused: 'not deleted: the server does not allow it (serve --allow-delete)',
} as const;

/** A destination path a --dry-run reports with no transfer: the result fields a real one would have. */
export function noTransfer(path: string, size: number): TransferResult {
  return { path, size, bytes: 0, checksum: LEGACY_CHECKSUM, digest: '', resumedFrom: 0, skipped: false, seconds: 0 };
}

/** The bookkeeping of one folder transfer: outcomes, counts, skips. */
export class TreeRun {
  readonly summary = emptySummary();
  readonly filter: PathFilter;
  private readonly started = performance.now();
  private readonly skipGroups = new Map<string, SkipGroup>();

  constructor(readonly options: TreeOptions) {
    this.filter = new PathFilter(options.filter ?? []);
  }

  get dryRun(): boolean {
    return this.options.dryRun === true;
  }

  done(rel: string, outcome: Exclude<Outcome, 'skipped'>, result: TransferResult): void {
    const s = this.summary;
    if (outcome === 'deleted') s.deleted += 1;
    else {
      s.files += 1;
      s[outcome] += 1;
    }
    s.bytes += result.bytes;
    const onFileDone = this.options.onFileDone;
    if (onFileDone === undefined) return;
    // Spelt out, not spread: one object per file of a large folder.
    const { path, size, bytes, checksum, digest, resumedFrom, skipped, seconds } = result;
    const done: EntryDone = { path, size, bytes, checksum, digest, resumedFrom, skipped, seconds, rel, outcome };
    if (this.dryRun) done.dryRun = true;
    onFileDone(done);
  }

  /** Unchanged by the quick check: nothing read, nothing sent (one object: a re-run makes many). */
  unchanged(rel: string, destination: string, size: number): void {
    this.summary.files += 1;
    this.summary.unchanged += 1;
    const done: EntryDone = { path: destination, size, bytes: 0, checksum: LEGACY_CHECKSUM, digest: '', resumedFrom: 0, skipped: true, seconds: 0, rel, outcome: 'unchanged' };
    if (this.dryRun) done.dryRun = true;
    this.options.onFileDone?.(done);
  }

  /** A transfer's result: unchanged if the destination held that content already. */
  transferred(rel: string, result: TransferResult, replacing: boolean): void {
    this.done(rel, result.skipped ? 'unchanged' : replacing ? 'replaced' : 'sent', result);
  }

  skip(rel: string, reason: string, refused = false, size = 0): void {
    this.summary.files += 1;
    this.summary.skipped += 1;
    let group = this.skipGroups.get(reason);
    if (!group) {
      group = { reason, paths: [], refused };
      this.skipGroups.set(reason, group);
      this.summary.skips.push(group);
    }
    group.paths.push(rel);
    this.options.onFileDone?.({ ...noTransfer(rel, size), rel, outcome: 'skipped', reason, ...(this.dryRun ? { dryRun: true } : {}) });
  }

  /**
   * A failed entry. Refusals that concern that one path are skips, named in the summary: a file
   * that differs and may not be replaced (EXISTS: the run exits 4), and a policy refusal
   * (FORBIDDEN, such as a hidden file: not a failure). Anything else is a failure.
   */
  fail(rel: string, err: unknown): void {
    if (err instanceof RemoteError && err.code === 'TCPSEND_ERR_EXISTS') return this.skip(rel, SKIP.notReplaced, true);
    if (err instanceof RemoteError && err.code === 'TCPSEND_ERR_FORBIDDEN') {
      return this.skip(rel, rel.split('/').some((name) => name.startsWith('.')) ? SKIP.hidden : SKIP.forbidden);
    }
    this.summary.files += 1;
    this.summary.failed += 1;
    this.summary.firstError ??= err;
    this.options.onFileError?.(rel, err);
  }

  finish(): TreeSummary {
    if (this.dryRun) this.summary.dryRun = true;
    this.summary.seconds = (performance.now() - this.started) / 1000;
    return this.summary;
  }
}

/** A bounded pool: `add` waits while `limit` tasks run. */
export class Window {
  private running = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task().finally(() => this.running.delete(p));
    this.running.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Gathers small files into batches, and hands each full batch to `send`. */
class BatchCollector<T> {
  private items: T[] = [];
  private bytes = 0;
  constructor(private readonly send: (items: T[]) => Promise<void>) {}
  /** Add `item`; a promise only when that fills the batch and it goes out (wait for it). */
  add(item: T, size: number): Promise<void> | undefined {
    this.items.push(item);
    this.bytes += size;
    if (this.items.length >= BATCH_ITEMS || this.bytes >= BATCH_BYTES) return this.flush();
    return undefined;
  }
  async flush(): Promise<void> {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    await this.send(items);
  }
}

/**
 * Small files gathered into batches that run through `batchWindow`: each batch is sent with
 * `send` and retried as runBatch says; an item to try again alone goes through `alone`.
 * `replacing` holds the items that replace something (their outcome is 'replaced').
 */
export function batchesOn<T extends { rel: string }>(
  batchWindow: Window,
  client: ReconnectingClient,
  run: TreeRun,
  replacing: ReadonlySet<string>,
  how: {
    send: (c: TcpsendClient, todo: readonly T[], hooks: BatchHooks<T>) => Promise<void>;
    alone: (item: T) => Promise<void>;
  },
): BatchCollector<T> {
  return new BatchCollector<T>((items) =>
    batchWindow.add(() =>
      runBatch(client, run, replacing, items, (c, todo, done) =>
        how.send(c, todo, { onStart: (item, size) => run.options.onFileStart?.(item.rel, size, 0), onDone: done }), how.alone),
    ),
  );
}

/**
 * Run one batch with retries: a new attempt carries only the items that have no outcome yet.
 * If the connection cannot be had back, those items fail with its error. An item refused for
 * a reason a new attempt may cure (BUSY: another upload holds its path; CHANGED; a checksum
 * mismatch) is tried again on its own with `alone`, which waits and retries as single
 * transfers do, and reports its own outcome.
 */
async function runBatch<T extends { rel: string }>(
  client: ReconnectingClient,
  run: TreeRun,
  replacing: ReadonlySet<string>,
  items: readonly T[],
  send: (c: TcpsendClient, todo: readonly T[], done: (item: T, outcome: TransferResult | Error) => void) => Promise<void>,
  alone: (item: T) => Promise<void>,
): Promise<void> {
  const finished = new Set<T>();
  const again: T[] = [];
  const done = (item: T, outcome: TransferResult | Error) => {
    finished.add(item);
    if (outcome instanceof RemoteError && isRetriable(outcome)) again.push(item);
    else if (outcome instanceof Error) run.fail(item.rel, outcome);
    else run.transferred(item.rel, outcome, replacing.has(item.rel));
  };
  try {
    await client.run((c) => send(c, items.filter((item) => !finished.has(item)), done));
  } catch (err) {
    for (const item of items) if (!finished.has(item)) done(item, err as Error);
  }
  for (const item of again) await alone(item);
}

/**
 * Let a request just issued reach the socket before a synchronous stretch of work (a local
 * walk): its exchange takes a few promise steps, all done by the next turn of the event loop.
 */
export function requestWritten(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Entries of a local walk taken between two turns of the event loop (walkInTurns). */
const WALK_TURN = 256;

/**
 * Take every entry of a local walk (waiting for what `take` returns, if anything), letting the
 * event loop turn every WALK_TURN entries. The listing the server streams meanwhile is read as
 * it comes: left in the socket, it would fill the kernel's buffers within a few hundred KiB (a
 * 10,000-file listing is 600 KiB), and the server would wait for the walk to end before it
 * listed the rest.
 */
export async function walkInTurns<T>(entries: Iterable<T>, take: (entry: T) => Promise<void> | undefined | void): Promise<void> {
  let count = 0;
  for (const entry of entries) {
    const pending = take(entry);
    if (pending) await pending;
    if (++count % WALK_TURN === 0) await requestWritten();
  }
}

/** Whether any name of `rel` starts with a dot (a hidden file, or one inside a hidden folder). */
export function isHidden(rel: string): boolean {
  return rel.startsWith('.') || rel.includes('/.');
}

/** Whether `rel` lies inside one of `folders` (a set of rels). */
export function isInside(folders: ReadonlySet<string>, rel: string): boolean {
  if (folders.size === 0) return false;
  for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) {
    if (folders.has(rel.slice(0, slash))) return true;
  }
  return false;
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/**
 * Whether the server shares and takes hidden files (serve --dotfiles), asked once and only
 * when a hidden path comes up. The greeting does not say, so a STAT of a hidden name that
 * cannot exist tells: FORBIDDEN without --dotfiles, NOT_FOUND with it.
 */
export function dotfilesProbe(client: ReconnectingClient): () => Promise<boolean> {
  let answer: Promise<boolean> | null = null;
  return () =>
    (answer ??= client.run((c) => c.stat('.tcpsend-dotfiles-probe')).then(
      () => true,
      (err: unknown) => {
        if (err instanceof RemoteError && err.code === NotFoundError.code) return true;
        if (err instanceof RemoteError) return false;
        throw err;
      },
    ));
}

/**
 * --checksum: whether the local `file` (opened by the caller, through the destination's
 * boundary or as the walk saw it) and the server's `remotePath` (both `size` bytes) hold the
 * same bytes, in the checksum the connection agreed on. The server answers from its hash
 * cache when it can.
 */
export async function compareContent(
  client: ReconnectingClient,
  file: ReadableFile,
  remotePath: string,
  size: number,
): Promise<{ same: boolean; checksum: ChecksumName; digest: string }> {
  // The same server, the same options: a reconnection chooses the same checksum.
  const { checksum } = await client.current();
  const digest = (await hashFileRange(file, 0, size, createHasher(checksum))).digest();
  const remote = await client.run((c) => c.stat(remotePath, { hash: true }));
  return { same: remote.digest === digest, checksum, digest };
}
