/**
 * Folders: put a local tree or get a remote one over one connection, as rsync users expect a
 * sync to behave. One recursive listing of the destination (put) or the source (get) and a
 * local walk are compared entry by entry (compare.ts): a file whose size and mtime match is
 * unchanged and neither end reads it (`checksum` compares contents instead); a file that
 * differs is replaced by the source's version, atomically; `delete` removes what the source no
 * longer has; filters leave paths out; symlinks are recreated when they stay inside the folder
 * and skipped otherwise, never followed. Transfers are pipelined (a window of operations in
 * flight), and small files go in batches (MGET, MPUT). Every entry ends with one outcome:
 * sent, replaced, unchanged, skipped (with its reason) or deleted.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { BadPathError, ForbiddenError, NotFoundError, RemoteError } from '../errors.js';
import type { ListEntry } from '../protocol/index.js';
import { MAX_PATH_BYTES, toSegments } from '../files/relative-path.js';
import { createHasher, hashFileRange, LEGACY_CHECKSUM, type ChecksumName } from '../hash/index.js';
import { walkLocal, type LocalEntry } from '../transfer/walk.js';
import { PathFilter, type FilterRule } from '../transfer/filter.js';
import { linkSkipReason, placeSymlinkSync } from '../transfer/symlinks.js';
import { LocalFolder, statSyncOrNull, syncDirectorySync, type LocalPlace } from '../transfer/local-file.js';
import type { BatchHooks, FetchItem, StoreItem } from './batch.js';
import { utimesSeconds } from '../files/mtime.js';
import { compareEntry, entriesToDelete, folderAttributesDiffer, type TreeEntry, type Verdict } from './compare.js';
import { isRetriable, type ReconnectingClient } from './retry.js';
import type { TcpsendClient } from './client.js';
import type { TransferResult } from './types.js';

/** Files smaller than this go in the one-step, pipelined PUT form. */
const EAGER_PUT_MAX = 1024 * 1024;
/** Operations in flight on the connection at once. */
const WINDOW = 32;
/**
 * Files up to this size go in batches (MGET, MPUT) where the server offers them: a folder
 * of many small files then costs a few requests, not one or two per file.
 */
const BATCH_FILE_MAX = 256 * 1024;
/** At most this many files, and this many bytes of them, per batch. */
const BATCH_ITEMS = 100;
/** Batches in flight on the connection at once: enough to keep it busy; more only queue up on the server. */
const BATCH_WINDOW = 4;
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
  /** The files and bytes the whole tree holds, once the walk or the listing has seen them all. */
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
const SKIP = {
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
function noTransfer(path: string, size: number): TransferResult {
  return { path, size, bytes: 0, checksum: LEGACY_CHECKSUM, digest: '', resumedFrom: 0, skipped: false, seconds: 0 };
}

/** The bookkeeping of one folder transfer: outcomes, counts, skips. */
class TreeRun {
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
    this.options.onFileDone?.({ ...result, rel, outcome, ...(this.dryRun ? { dryRun: true } : {}) });
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
class Window {
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
  async add(item: T, size: number): Promise<void> {
    this.items.push(item);
    this.bytes += size;
    if (this.items.length >= BATCH_ITEMS || this.bytes >= BATCH_BYTES) await this.flush();
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
function batchesOn<T extends { rel: string }>(
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
function requestWritten(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether any name of `rel` starts with a dot (a hidden file, or one inside a hidden folder). */
function isHidden(rel: string): boolean {
  return rel.startsWith('.') || rel.includes('/.');
}

/** Whether `rel` lies inside one of `folders` (a set of rels). */
function isInside(folders: ReadonlySet<string>, rel: string): boolean {
  if (folders.size === 0) return false;
  for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) {
    if (folders.has(rel.slice(0, slash))) return true;
  }
  return false;
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/**
 * Whether the server shares and takes hidden files (serve --dotfiles), asked once and only
 * when a hidden path comes up. The greeting does not say, so a STAT of a hidden name that
 * cannot exist tells: FORBIDDEN without --dotfiles, NOT_FOUND with it.
 */
function dotfilesProbe(client: ReconnectingClient): () => Promise<boolean> {
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
 * --checksum: whether the local file `abs` and the server's `remotePath` (both `size` bytes)
 * hold the same bytes, in the checksum the connection agreed on. The server answers from its
 * hash cache when it can.
 */
async function compareContent(
  client: ReconnectingClient,
  abs: string,
  remotePath: string,
  size: number,
): Promise<{ same: boolean; checksum: ChecksumName; digest: string }> {
  // The same server, the same options: a reconnection chooses the same checksum.
  const { checksum } = await client.current();
  const handle = await fsp.open(abs, 'r');
  const digest = (await hashFileRange(handle, 0, size, createHasher(checksum)).finally(() => handle.close())).digest();
  const remote = await client.run((c) => c.stat(remotePath, { hash: true }));
  return { same: remote.digest === digest, checksum, digest };
}

/** Whether the server takes DELETE: its greeting lists `delete` only under serve --allow-delete. */
function canDeleteOn(client: TcpsendClient): boolean {
  return client.supports('delete');
}

/** Put the folder `localDir` so that `remoteDir` holds its contents. */
export async function putTree(
  client: ReconnectingClient,
  localDir: string,
  remoteDir: string,
  options: TreeOptions = {},
): Promise<TreeSummary> {
  const run = new TreeRun(options);
  const first = await client.current();
  if (options.delete && !canDeleteOn(first)) {
    throw new ForbiddenError(
      "--delete: the server does not delete (its greeting lacks the 'delete' capability: start it with serve --allow-delete; an older tcpsend cannot)",
    );
  }
  const canDelete = canDeleteOn(first);
  const canSymlink = first.supports('symlink');
  const takesDotfiles = dotfilesProbe(client);
  const join = (rel: string) => (rel === '' ? remoteDir : `${remoteDir.replace(/\/+$/, '')}/${rel}`);

  // What is there already: one streamed listing for the whole tree, which the server makes
  // while this side walks its own folder (the two take about as long).
  const remote = new Map<string, ListEntry>();
  const listed = client
    .run(async (c) => {
      remote.clear();
      for await (const entry of c.listStream(remoteDir, { recursive: true, links: true })) remote.set(entry.path, entry);
      return true;
    })
    .catch((err: unknown) => {
      if (err instanceof RemoteError && err.code === NotFoundError.code) return false;
      throw err;
    });
  listed.catch(() => {}); // awaited below, after the walk
  await requestWritten();
  const entries = [...walkLocal(localDir, { filter: run.filter, onSkip: (rel, why) => options.onNotice?.(`skipped ${rel}: ${why}`) })];
  const remoteExists = await listed;
  const top = await fsp.stat(localDir);
  if (!remoteExists && !run.dryRun) await client.run((c) => c.mkdir(remoteDir, { mode: top.mode & 0o777 }));

  const dirs: { rel: string; entry: TreeEntry }[] = [];
  /** Folders whose contents changed: their mtime is set again at the end. */
  const touched = new Set<string>();
  /** Local folders whose contents are not sent (hidden, or the way is blocked): skipped whole. */
  const blocked = new Set<string>();
  /** What the source has, for --delete (only then kept). */
  const seen = options.delete ? new Set<string>() : null;
  /** Destination entries removed to clear the way: what was inside them is gone too. */
  const cleared = new Set<string>();
  const replacing = new Set<string>();
  const window = new Window(WINDOW);
  const batchWindow = new Window(BATCH_WINDOW);

  /**
   * Clear the way for `rel` on the server, where `there` holds something of another kind:
   * DELETE it (a folder only with --delete). False (and the entry skipped, `shown` in the
   * summary) when it cannot go.
   */
  const clearWay = async (rel: string, there: ListEntry, shown: string): Promise<boolean> => {
    if (there.type === 'dir' && !options.delete) {
      run.skip(shown, SKIP.folderInTheWay, true);
      return false;
    }
    if (!canDelete) {
      run.skip(shown, SKIP.notRemovable, true);
      return false;
    }
    cleared.add(rel);
    if (run.dryRun) return true;
    try {
      await client.run((c) => c.delete(join(rel)));
      touched.add(parentOf(rel));
      return true;
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'TCPSEND_ERR_FORBIDDEN') run.skip(shown, SKIP.notRemovable, true);
      else run.fail(shown, err);
      return false;
    }
  };

  /**
   * One file on its own, resuming: the way every file goes that is not in a batch. `existed`:
   * it replaces something; `there`: the file there now, if any.
   */
  const putOne = async (rel: string, abs: string, size: number, existed: boolean, there?: ListEntry) => {
    const target = join(rel);
    try {
      let digest: string | undefined;
      if (options.checksum && there?.type === 'file' && there.size === size) {
        const compared = await compareContent(client, abs, target, size);
        digest = compared.digest;
        if (compared.same) {
          run.done(rel, 'unchanged', { ...noTransfer(target, size), checksum: compared.checksum, digest, skipped: true });
          return;
        }
      }
      if (run.dryRun) {
        run.done(rel, existed ? 'replaced' : 'sent', noTransfer(target, size));
        return;
      }
      const result = await client.run((c) =>
        c.upload(abs, target, {
          overwrite: true, // the source wins; the server must still allow it (--allow-overwrite)
          digest,
          eager: size <= EAGER_PUT_MAX,
          onStart: ({ size: total, resumedFrom }) => options.onFileStart?.(rel, total, resumedFrom),
          onProgress: (done, total) => options.onProgress?.(rel, done, total),
          onNotice: options.onNotice,
        }),
      );
      if (!result.skipped) touched.add(parentOf(rel));
      run.transferred(rel, result, existed);
    } catch (err) {
      run.fail(rel, err);
    }
  };
  const batches =
    first.supports('mput') && !run.dryRun
      ? batchesOn<StoreItem>(batchWindow, client, run, replacing, {
          send: (c, todo, hooks) =>
            c.storeMany(remoteDir, todo, { overwrite: true }, {
              onStart: hooks.onStart,
              onDone: (item, outcome) => {
                if (!(outcome instanceof Error) && !outcome.skipped) touched.add(parentOf(item.rel));
                hooks.onDone(item, outcome);
              },
            }),
          alone: (item) => putOne(item.rel, item.abs, statSyncOrNull(item.abs)?.size ?? 0, replacing.has(item.rel), remote.get(item.rel)),
        })
      : null;

  /**
   * One local entry. Synchronous when it is unchanged (most of a re-run), so that those cost
   * no promise; a promise otherwise.
   */
  const handle = (entry: LocalEntry): Promise<void> | undefined => {
    const { rel } = entry;
    seen?.add(rel);
    if (isInside(blocked, rel)) return undefined;
    if (isHidden(rel)) {
      return takesDotfiles().then((taken) => {
        if (taken) return judge(entry);
        run.skip(entry.type === 'dir' ? `${rel}/` : rel, SKIP.hidden);
        if (entry.type === 'dir') blocked.add(rel);
        return undefined;
      });
    }
    return judge(entry);
  };
  const judge = (entry: LocalEntry): Promise<void> | undefined => {
    const there = remote.get(entry.rel);
    const verdict = compareEntry(entry, there, options);
    if (verdict !== 'unchanged') return act(entry, there, verdict);
    if (entry.type === 'dir') dirs.push({ rel: entry.rel, entry });
    else run.unchanged(entry.rel, join(entry.rel), entry.size);
    return undefined;
  };
  const act = async (entry: LocalEntry, there: ListEntry | undefined, verdict: Verdict): Promise<void> => {
    const { rel } = entry;
    // A link where a file goes is removed first; a server that may not delete has an upload
    // replace it instead (a rename over the name, never a write through the link).
    const putOverLink = entry.type === 'file' && there?.type === 'link' && !canDelete;
    if (verdict === 'in-the-way' && !putOverLink && !(await clearWay(rel, there!, entry.type === 'dir' ? `${rel}/` : rel))) {
      if (entry.type === 'dir') blocked.add(rel);
      return;
    }
    /** Nothing is there now (or, in a dry run, would be). */
    const clear = verdict === 'new' || verdict === 'in-the-way';
    const existed = there !== undefined;
    if (entry.type === 'dir') {
      dirs.push({ rel, entry });
      if (clear) {
        touched.add(parentOf(rel));
        if (!run.dryRun) {
          await window.add(() => client.run((c) => c.mkdir(join(rel), { mode: entry.mode })).catch((err) => run.fail(`${rel}/`, err)));
        }
      }
      return;
    }
    if (verdict === 'keep') return run.skip(rel, SKIP.kept);
    if (entry.type === 'link') {
      const why = linkSkipReason(rel, entry.target!);
      if (why) return run.skip(rel, why);
      if (!canSymlink) return run.skip(rel, SKIP.noSymlinks);
      if (run.dryRun) return run.done(rel, existed ? 'replaced' : 'sent', noTransfer(join(rel), 0));
      await window.add(async () => {
        try {
          // A file or link there is replaced as an upload replaces a file (--allow-overwrite).
          const made = await client.run((c) => c.symlink(join(rel), entry.target!, { overwrite: true }));
          if (made) touched.add(parentOf(rel));
          run.done(rel, made ? (existed ? 'replaced' : 'sent') : 'unchanged', noTransfer(join(rel), 0));
        } catch (err) {
          run.fail(rel, err);
        }
      });
      return;
    }
    if (batches && entry.size <= BATCH_FILE_MAX && verdict !== 'compare-content') {
      if (existed) replacing.add(rel);
      await batches.add({ rel, abs: entry.abs }, entry.size);
      return;
    }
    await window.add(() => putOne(rel, entry.abs, entry.size, existed, clear ? undefined : there));
  };

  const totals = { files: 0, bytes: 0 };
  for (const entry of entries) {
    if (entry.type === 'dir') continue;
    totals.files += 1;
    totals.bytes += entry.size;
  }
  options.onPlan?.(totals);
  for (const entry of entries) {
    const pending = handle(entry);
    if (pending) await pending;
  }
  await batches?.flush();
  await batchWindow.drain();
  await window.drain();

  if (options.delete) {
    const gone = entriesToDelete(
      [...remote.values()].map((entry) => ({ ...entry, rel: entry.path })),
      (rel) => seen!.has(rel) || isInside(cleared, rel),
      (entry) => run.filter.excludes(entry.rel, entry.type === 'dir'),
    );
    for (const entry of gone) {
      const shown = entry.type === 'dir' ? `${entry.rel}/` : entry.rel;
      if (run.dryRun) {
        run.done(shown, 'deleted', noTransfer(join(entry.rel), entry.size ?? 0));
        continue;
      }
      await window.add(async () => {
        try {
          await client.run((c) => c.delete(join(entry.rel)));
          touched.add(parentOf(entry.rel));
          run.done(shown, 'deleted', noTransfer(join(entry.rel), entry.size ?? 0));
        } catch (err) {
          if (err instanceof RemoteError && err.code === 'TCPSEND_ERR_FORBIDDEN') run.skip(shown, SKIP.deleteRefused, true);
          else if (!(err instanceof RemoteError && err.code === NotFoundError.code)) run.fail(shown, err);
        }
      });
    }
    await window.drain();
  }

  // Folder mtimes and modes last, deepest first (adding files to a folder moves its mtime),
  // the folder itself at the very end; only where they differ or the contents changed. (The
  // listing does not describe the listed folder itself: the top one is set when it was made
  // or something in it changed.)
  if (!run.dryRun) {
    const topEntry: TreeEntry = { type: 'dir', size: null, mtimeMs: Math.floor(top.mtimeMs), mode: top.mode & 0o777 };
    const all = [{ rel: '', entry: topEntry }, ...dirs].filter(({ rel }) => !blocked.has(rel));
    for (const { rel, entry } of all.reverse()) {
      const unchanged = rel === '' ? remoteExists : !folderAttributesDiffer(entry, remote.get(rel));
      if (unchanged && !touched.has(rel)) continue;
      await window.add(() => client.run((c) => c.mkdir(join(rel), { mtimeMs: entry.mtimeMs, mode: entry.mode })).catch(() => {}));
    }
    await window.drain();
  }
  return run.finish();
}

/**
 * Check a path a server sent before it touches the local disk: "A client that receives
 * hostile replies (a name like `../x` or `/abs` in a folder listing) writes only inside the
 * destination the user asked for."
 */
export function safeLocalPath(localDir: string, remoteRel: string): string {
  if (remoteRel.startsWith('/')) throw new BadPathError(`the server listed an absolute path '${remoteRel}'`);
  const segments = toSegments(remoteRel);
  if (segments.length === 0) throw new BadPathError(`the server listed an empty path`);
  const full = path.join(localDir, ...segments);
  const rel = path.relative(localDir, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new BadPathError(`the server listed '${remoteRel}', which leads out of '${localDir}'`);
  }
  return full;
}

/**
 * safeLocalPath for the entries of one listing, which names the same folders, and often the
 * same names, over and over. Once a folder's path and a name have passed, `folder/name` passes
 * too: the checks judge each name, and characters no '/' can split. Only the total length is
 * left to check, and anything else (a first sight, an odd shape) takes the full check.
 */
class ListedPaths {
  private readonly folders = new Set<string>();
  private readonly names = new Set<string>();
  constructor(private readonly localDir: string) {}

  resolve(rel: string, isDir: boolean): string {
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    const known = slash < 0 ? this.names.has(name) : slash > 0 && this.folders.has(rel.slice(0, slash)) && this.names.has(name);
    let local: string;
    // A UTF-16 unit is at most 3 bytes of UTF-8: only a long path needs counting.
    if (known && (rel.length * 3 <= MAX_PATH_BYTES || Buffer.byteLength(rel, 'utf8') <= MAX_PATH_BYTES)) local = path.join(this.localDir, rel);
    else {
      local = safeLocalPath(this.localDir, rel);
      if (name !== '' && name !== '.') this.names.add(name);
    }
    if (isDir) this.folders.add(rel);
    return local;
  }
}

/** Get the remote folder `remoteDir` so that `localDir` holds its contents. */
export async function getTree(
  client: ReconnectingClient,
  remoteDir: string,
  localDir: string,
  options: TreeOptions = {},
): Promise<TreeSummary> {
  const opened: { destination: LocalFolder | null } = { destination: null };
  try {
    return await getTreeInto(client, remoteDir, localDir, options, opened);
  } finally {
    opened.destination?.close();
  }
}

/**
 * getTree's work. Files, parts, new folders and folder attributes below `localDir` go through
 * `opened.destination`, the destination's confinement boundary (the names are the server's).
 */
async function getTreeInto(
  client: ReconnectingClient,
  remoteDir: string,
  localDir: string,
  options: TreeOptions,
  opened: { destination: LocalFolder | null },
): Promise<TreeSummary> {
  const run = new TreeRun(options);
  const first = await client.current();
  const join = (rel: string) => `${remoteDir.replace(/\/+$/, '')}/${rel}`;

  // The listing is asked for first: the server makes it while this side walks its folder.
  // It streams in while the downloads run; on a retry it is read again from the start, and
  // files already complete are found unchanged.
  const listing = first.listStream(remoteDir, { recursive: true, links: true })[Symbol.asyncIterator]();
  const firstEntry = listing.next();
  firstEntry.catch(() => {}); // awaited below, after the walk
  await requestWritten();

  // What is here already: one walk, links not followed, excluded paths marked (protected).
  const local = new Map<string, LocalEntry>();
  const listed = new ListedPaths(localDir);
  let created = false;
  if (statSyncOrNull(localDir) === null) {
    if (!run.dryRun) created = (opened.destination = await LocalFolder.open(localDir)).created;
  } else {
    for (const entry of walkLocal(localDir, { filter: run.filter, markExcluded: true })) local.set(entry.rel, entry);
  }
  if (!run.dryRun) opened.destination ??= await LocalFolder.open(localDir);
  const destination = opened.destination;
  // Folders this run created hold nothing yet: their files need no look before they are fetched.
  const fresh = new Set<string>();
  if (created) fresh.add('');
  const dirs: { rel: string; abs: string; entry: ListEntry }[] = [];
  const touched = new Set<string>();
  const blocked = new Set<string>();
  /** What the source has, for --delete (only then kept). */
  const seen = options.delete ? new Set<string>() : null;
  /** Local entries removed to clear the way: what was inside them is gone too. */
  const cleared = new Set<string>();
  const replacing = new Set<string>();
  const window = new Window(WINDOW);
  const batchWindow = new Window(BATCH_WINDOW);

  /** Clear the way for `rel` here, where `there` is of another kind. False (skipped) if it cannot go. */
  const clearWay = async (rel: string, there: LocalEntry): Promise<boolean> => {
    if (there.type === 'dir' && !options.delete) {
      run.skip(`${rel}/`, SKIP.folderInTheWay, true);
      return false;
    }
    cleared.add(rel);
    if (run.dryRun) return true;
    try {
      await destination!.remove(rel);
      touched.add(parentOf(rel));
      return true;
    } catch (err) {
      run.fail(rel, err);
      return false;
    }
  };

  /** One file on its own, resuming: the way every file goes that is not in a batch. */
  const getOne = async (rel: string, dest: LocalPlace, replaces: boolean) => {
    try {
      const result = await client.run((c) =>
        c.download(join(rel), dest, {
          overwrite: true, // the source wins
          syncDirectory: false, // once per folder, below
          onStart: ({ size, resumedFrom }) => options.onFileStart?.(rel, size, resumedFrom),
          onProgress: (done, total) => options.onProgress?.(rel, done, total),
          onNotice: options.onNotice,
        }),
      );
      touched.add(parentOf(rel));
      run.transferred(rel, result, replaces);
    } catch (err) {
      run.fail(rel, err);
    }
  };

  /** --checksum: a same-size file is unchanged when its digest is the server's (from its cache). */
  const sameContent = async (rel: string, dest: string, there: LocalEntry, entry: ListEntry): Promise<boolean> => {
    const { same, checksum, digest } = await compareContent(client, dest, join(rel), there.size);
    if (!same) return false;
    if (there.mtimeMs !== entry.mtimeMs && !run.dryRun) {
      // The same bytes: the source's mtime, so that the next quick check passes.
      const when = utimesSeconds(entry.mtimeMs);
      await fsp.utimes(dest, when, when);
    }
    run.done(rel, 'unchanged', { ...noTransfer(dest, there.size), checksum, digest, skipped: true });
    return true;
  };

  const batches =
    first.supports('mget') && !run.dryRun
      ? batchesOn<FetchItem>(batchWindow, client, run, replacing, {
          send: (c, todo, hooks) =>
            c.fetchMany(remoteDir, todo, {
              onStart: hooks.onStart,
              onDone: (item, outcome) => {
                if (!(outcome instanceof Error)) touched.add(parentOf(item.rel));
                hooks.onDone(item, outcome);
              },
            }),
          alone: (item) => getOne(item.rel, item.dest, replacing.has(item.rel)),
        })
      : null;

  /**
   * One listed entry. Synchronous when it is unchanged (most of a re-run), so that those cost
   * no promise; a promise otherwise.
   */
  const handle = (entry: ListEntry): Promise<void> | undefined => {
    const rel = entry.path;
    let dest: string;
    try {
      dest = listed.resolve(rel, entry.type === 'dir');
    } catch (err) {
      run.fail(rel, err);
      return undefined;
    }
    seen?.add(rel);
    if (isInside(blocked, rel)) return undefined;
    if (run.filter.excludes(rel, entry.type === 'dir')) {
      if (entry.type === 'dir') blocked.add(rel);
      return undefined;
    }
    const there = local.get(rel);
    const verdict = compareEntry(entry, there, options);
    if (verdict !== 'unchanged') return act(entry, dest, there, verdict);
    if (entry.type === 'dir') dirs.push({ rel, abs: dest, entry });
    else run.unchanged(rel, dest, entry.size ?? 0);
    return undefined;
  };
  const act = async (entry: ListEntry, dest: string, there: LocalEntry | undefined, verdict: Verdict): Promise<void> => {
    const rel = entry.path;
    if (verdict === 'in-the-way' && !(await clearWay(rel, there!))) {
      if (entry.type === 'dir') blocked.add(rel);
      return;
    }
    /** Nothing is there now (or, in a dry run, would be). */
    const clear = verdict === 'new' || verdict === 'in-the-way';
    const existed = there !== undefined;
    if (entry.type === 'dir') {
      dirs.push({ rel, abs: dest, entry });
      if (clear) {
        touched.add(parentOf(rel));
        if (destination) {
          try {
            destination.mkdirs(rel);
          } catch (err) {
            blocked.add(rel);
            return run.fail(rel, err);
          }
          fresh.add(rel);
        }
      }
      return;
    }
    if (verdict === 'keep') return run.skip(rel, SKIP.kept);
    if (entry.type === 'link') {
      const why = linkSkipReason(rel, entry.target ?? '');
      if (why) return run.skip(rel, why);
      if (!run.dryRun) {
        try {
          placeSymlinkSync(dest, entry.target!);
          touched.add(parentOf(rel));
        } catch (err) {
          return run.fail(rel, err);
        }
      }
      return run.done(rel, existed ? 'replaced' : 'sent', noTransfer(dest, 0));
    }
    if (verdict === 'compare-content') {
      await window.add(async () => {
        try {
          if (await sameContent(rel, dest, there!, entry)) return;
          if (!destination) run.done(rel, 'replaced', noTransfer(dest, entry.size ?? 0));
          else await getOne(rel, destination.place(rel), true);
        } catch (err) {
          run.fail(rel, err);
        }
      });
      return;
    }
    if (!destination) return run.done(rel, existed ? 'replaced' : 'sent', noTransfer(dest, entry.size ?? 0));
    let place: LocalPlace;
    try {
      place = destination.place(rel);
      if (batches && entry.size !== null && entry.size <= BATCH_FILE_MAX && (fresh.has(parentOf(rel)) || place.partSize() === 0)) {
        if (existed) replacing.add(rel);
        await batches.add({ rel, dest: place }, entry.size);
        return;
      }
    } catch (err) {
      return run.fail(rel, err);
    }
    await window.add(() => getOne(rel, place, existed));
  };

  const totals = { files: 0, bytes: 0 };
  for (let next = await firstEntry; !next.done; next = await listing.next()) {
    if (next.value.type !== 'dir') {
      totals.files += 1;
      totals.bytes += next.value.size ?? 0;
    }
    const pending = handle(next.value);
    if (pending) await pending;
  }
  options.onPlan?.(totals);
  await batches?.flush();
  await batchWindow.drain();
  await window.drain();

  if (options.delete) {
    // Hidden files the server does not share are not in its listing: here they are kept.
    const hiddenKept = [...local.keys()].some(isHidden) && !(await dotfilesProbe(client)());
    const gone = entriesToDelete(
      local.values(),
      (rel) => seen!.has(rel) || isInside(cleared, rel),
      (entry) => entry.excluded === true || (hiddenKept && isHidden(entry.rel)),
    );
    for (const entry of gone) {
      const shown = entry.type === 'dir' ? `${entry.rel}/` : entry.rel;
      try {
        if (destination) await destination.remove(entry.rel);
        touched.add(parentOf(entry.rel));
        run.done(shown, 'deleted', noTransfer(entry.abs, entry.size));
      } catch (err) {
        run.fail(shown, err);
      }
    }
  }

  // The renames are made durable one folder at a time, then the folders get their own mode
  // and mtime, deepest first (writing into a folder moves its mtime); only where something
  // changed or the attributes differ.
  if (destination) {
    destination.sync();
    if (touched.has('')) syncDirectorySync(localDir);
    for (const { rel, abs, entry } of dirs.reverse()) {
      if (blocked.has(rel)) continue;
      const there = local.get(rel);
      if (touched.has(rel)) syncDirectorySync(abs);
      else if (there?.type === 'dir' && !folderAttributesDiffer(entry, there)) continue;
      try {
        // On the folder's descriptor, reached inside: never on a folder a link leads to.
        destination.setAttributes(rel, { mode: entry.mode, mtimeMs: entry.mtimeMs });
      } catch {
        // Gone, or no longer a folder inside (a link put there since): its files said so already.
      }
    }
  }
  return run.finish();
}
