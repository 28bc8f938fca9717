/**
 * Folders: put a local tree or get a remote one over one connection, pipelined (a window of
 * operations in flight, so no file waits a round trip for the previous one), skipping files
 * that are already identical, and keeping relative paths, mtimes, modes and empty folders.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { BadPathError, NotFoundError, RemoteError } from '../errors.js';
import type { ListEntry } from '../protocol/index.js';
import { toSegments } from '../files/relative-path.js';
import { hashFileRange } from '../transfer/sha256.js';
import { walkLocal } from '../transfer/walk.js';
import { LocalFolder, statSyncOrNull, type LocalPlace } from '../transfer/local-file.js';
import type { BatchHooks, FetchItem, StoreItem } from './batch.js';
import { isRetriable, type ReconnectingClient } from './retry.js';
import type { TcpsendClient } from './client.js';
import type { TransferResult } from './types.js';

/** Files smaller than this go in the one-step, pipelined PUT form. */
const EAGER_PUT_MAX = 1024 * 1024;
/** Operations in flight on the connection at once. */
const WINDOW = 32;
/**
 * New files up to this size go in batches (MGET, MPUT) where the server offers them: a folder
 * of many small files then costs a few requests, not one or two per file.
 */
const BATCH_FILE_MAX = 256 * 1024;
/** At most this many files, and this many bytes of them, per batch. */
const BATCH_ITEMS = 100;
/** Batches in flight on the connection at once: enough to keep it busy; more only queue up on the server. */
const BATCH_WINDOW = 4;
const BATCH_BYTES = 4 * 1024 * 1024;

export interface TreeHooks {
  onFileStart?: (path: string, size: number, resumedFrom: number) => void;
  onProgress?: (path: string, done: number, total: number) => void;
  onFileDone?: (result: TransferResult & { rel: string }) => void;
  onFileError?: (rel: string, err: unknown) => void;
  onNotice?: (message: string) => void;
  /** The files and bytes the whole tree holds, once the walk or the listing has seen them all. */
  onPlan?: (totals: { files: number; bytes: number }) => void;
}

export interface TreeOptions extends TreeHooks {
  overwrite?: boolean;
}

export interface TreeSummary {
  files: number;
  sent: number;
  skipped: number;
  failed: number;
  bytes: number;
  seconds: number;
  /** The first failure, for the exit status. */
  firstError: unknown;
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
 */
function batchesOn<T extends { rel: string }>(
  batchWindow: Window,
  client: ReconnectingClient,
  summary: TreeSummary,
  hooks: TreeHooks,
  how: {
    send: (c: TcpsendClient, todo: readonly T[], hooks: BatchHooks<T>) => Promise<void>;
    alone: (item: T) => Promise<void>;
  },
): BatchCollector<T> {
  return new BatchCollector<T>((items) =>
    batchWindow.add(() =>
      runBatch(client, summary, hooks, items, (c, todo, done) =>
        how.send(c, todo, { onStart: (item, size) => hooks.onFileStart?.(item.rel, size, 0), onDone: done }), how.alone),
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
  summary: TreeSummary,
  hooks: TreeHooks,
  items: readonly T[],
  send: (c: TcpsendClient, todo: readonly T[], done: (item: T, outcome: TransferResult | Error) => void) => Promise<void>,
  alone: (item: T) => Promise<void>,
): Promise<void> {
  const finished = new Set<T>();
  const again: T[] = [];
  const done = (item: T, outcome: TransferResult | Error) => {
    finished.add(item);
    if (outcome instanceof RemoteError && isRetriable(outcome)) again.push(item);
    else record(summary, hooks, item.rel, outcome, !(outcome instanceof Error));
  };
  try {
    await client.run((c) => send(c, items.filter((item) => !finished.has(item)), done));
  } catch (err) {
    for (const item of items) if (!finished.has(item)) done(item, err as Error);
  }
  for (const item of again) await alone(item);
}

function newSummary(): TreeSummary {
  return { files: 0, sent: 0, skipped: 0, failed: 0, bytes: 0, seconds: 0, firstError: null };
}

function record(summary: TreeSummary, hooks: TreeHooks, rel: string, outcome: TransferResult | unknown, ok: boolean): void {
  summary.files += 1;
  if (ok) {
    const result = outcome as TransferResult;
    if (result.skipped) summary.skipped += 1;
    else summary.sent += 1;
    summary.bytes += result.bytes;
    hooks.onFileDone?.({ ...result, rel });
  } else {
    summary.failed += 1;
    summary.firstError ??= outcome;
    hooks.onFileError?.(rel, outcome);
  }
}

/** Put the folder `localDir` so that `remoteDir` holds its contents. */
export async function putTree(
  client: ReconnectingClient,
  localDir: string,
  remoteDir: string,
  options: TreeOptions = {},
): Promise<TreeSummary> {
  const started = performance.now();
  const summary = newSummary();
  // What is there already, to know which files need a hash comparison at all.
  const remote = new Map<string, { type: string; size: number | null }>();
  try {
    await client.run(async (c) => {
      remote.clear();
      for await (const entry of c.listStream(remoteDir, { recursive: true })) {
        remote.set(entry.path, { type: entry.type, size: entry.size });
      }
    });
  } catch (err) {
    if (!(err instanceof RemoteError && err.code === NotFoundError.code)) throw err;
  }
  const top = await fsp.stat(localDir);
  await client.run((c) => c.mkdir(remoteDir, { mode: top.mode & 0o777 }));

  const dirs: { remote: string; mtimeMs: number; mode: number }[] = [];
  const window = new Window(WINDOW);
  const batchWindow = new Window(BATCH_WINDOW);
  const join = (rel: string) => `${remoteDir.replace(/\/+$/, '')}/${rel}`;
  /** One file on its own, resuming: the way every file goes that is not in a batch. */
  const putOne = async (rel: string, abs: string, size: number, there?: { type: string; size: number | null }) => {
    const target = join(rel);
    try {
      // Same size there: compare hashes first, with a STAT that pipelines like any other
      // request, so a re-run over an unchanged tree moves no file and waits no round trips.
      let sha256: string | undefined;
      if (there?.type === 'file' && there.size === size) {
        const handle = await fsp.open(abs, 'r');
        sha256 = (await hashFileRange(handle, 0, size).finally(() => handle.close())).digest('hex');
        const remoteStat = await client.run((c) => c.stat(target, { hash: true }));
        if (remoteStat.sha256 === sha256) {
          record(summary, options, rel, { path: target, size, bytes: 0, sha256, resumedFrom: 0, skipped: true, seconds: 0 }, true);
          return;
        }
      }
      const result = await client.run((c) =>
        c.upload(abs, target, {
          overwrite: options.overwrite,
          sha256,
          eager: there === undefined && size <= EAGER_PUT_MAX,
          onStart: ({ size: total, resumedFrom }) => options.onFileStart?.(rel, total, resumedFrom),
          onProgress: (done, total) => options.onProgress?.(rel, done, total),
          onNotice: options.onNotice,
        }),
      );
      record(summary, options, rel, result, true);
    } catch (err) {
      record(summary, options, rel, err, false);
    }
  };
  const batches = (await client.current()).supports('mput')
    ? batchesOn<StoreItem>(batchWindow, client, summary, options, {
        send: (c, todo, hooks) => c.storeMany(remoteDir, todo, { overwrite: options.overwrite }, hooks),
        alone: (item) => putOne(item.rel, item.abs, statSyncOrNull(item.abs)?.size ?? 0),
      })
    : null;
  const totals = { files: 0, bytes: 0 };
  for await (const entry of walkLocal(localDir, { onSkip: (rel, why) => options.onNotice?.(`skipped ${rel}: ${why}`) })) {
    const target = join(entry.rel);
    if (entry.type !== 'dir') {
      totals.files += 1;
      totals.bytes += entry.size;
    }
    if (entry.type === 'dir') {
      dirs.push({ remote: target, mtimeMs: entry.mtimeMs, mode: entry.mode });
      if (remote.get(entry.rel)?.type !== 'dir') {
        await window.add(() => client.run((c) => c.mkdir(target, { mode: entry.mode })).catch((err) => record(summary, options, entry.rel, err, false)));
      }
      continue;
    }
    const there = remote.get(entry.rel);
    if (batches && there === undefined && entry.size <= BATCH_FILE_MAX) {
      await batches.add({ rel: entry.rel, abs: entry.abs }, entry.size);
      continue;
    }
    await window.add(() => putOne(entry.rel, entry.abs, entry.size, there));
  }
  options.onPlan?.(totals);
  await batches?.flush();
  await batchWindow.drain();
  await window.drain();
  // Folder mtimes last, deepest first (adding files to a folder moves its mtime), the folder
  // itself at the very end.
  dirs.push({ remote: remoteDir, mtimeMs: Math.trunc(top.mtimeMs), mode: top.mode & 0o777 });
  dirs.reverse();
  for (const dir of dirs) {
    await window.add(() => client.run((c) => c.mkdir(dir.remote, { mtimeMs: dir.mtimeMs, mode: dir.mode })).catch(() => {}));
  }
  await window.drain();
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
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

/** Get the remote folder `remoteDir` so that `localDir` holds its contents. */
export async function getTree(
  client: ReconnectingClient,
  remoteDir: string,
  localDir: string,
  options: TreeOptions = {},
): Promise<TreeSummary> {
  const started = performance.now();
  // Every write below localDir goes through this boundary (the names are the server's).
  const destination = await LocalFolder.open(localDir);
  try {
    return await getTreeInto(client, remoteDir, destination, options, started);
  } finally {
    destination.close();
  }
}

async function getTreeInto(
  client: ReconnectingClient,
  remoteDir: string,
  destination: LocalFolder,
  options: TreeOptions,
  started: number,
): Promise<TreeSummary> {
  const localDir = destination.path;
  const summary = newSummary();
  // Folders this run created hold nothing yet: their files need no look before they are fetched.
  const fresh = new Set<string>();
  if (destination.created) fresh.add(localDir);
  const dirs: { rel: string; entry: ListEntry }[] = [];
  const window = new Window(WINDOW);
  const batchWindow = new Window(BATCH_WINDOW);
  const join = (rel: string) => `${remoteDir.replace(/\/+$/, '')}/${rel}`;
  /** One file on its own, resuming: the way every file goes that is not in a batch. */
  const getOne = async (rel: string, local: LocalPlace) => {
    try {
      const result = await client.run((c) =>
        c.download(join(rel), local, {
          overwrite: options.overwrite,
          syncDirectory: false, // once per folder, below
          onStart: ({ size, resumedFrom }) => options.onFileStart?.(rel, size, resumedFrom),
          onProgress: (done, total) => options.onProgress?.(rel, done, total),
          onNotice: options.onNotice,
        }),
      );
      record(summary, options, rel, result, true);
    } catch (err) {
      record(summary, options, rel, err, false);
    }
  };
  const first = await client.current();
  // New small files (nothing there yet, not even a partial file) go in MGET batches.
  const batches = first.supports('mget')
    ? batchesOn<FetchItem>(batchWindow, client, summary, options, {
        send: (c, todo, hooks) => c.fetchMany(remoteDir, todo, hooks),
        alone: (item) => getOne(item.rel, item.dest),
      })
    : null;
  // The listing streams in while the downloads run; on a retry it is read again from the
  // start, and files already complete are skipped as identical.
  const entries = first.listStream(remoteDir, { recursive: true });
  const totals = { files: 0, bytes: 0 };
  for await (const entry of entries) {
    if (entry.type === 'file') {
      totals.files += 1;
      totals.bytes += entry.size ?? 0;
    }
    let local: string;
    let place: LocalPlace | null = null;
    try {
      local = safeLocalPath(localDir, entry.path);
      if (entry.type === 'dir') {
        if (destination.mkdirs(entry.path) || fresh.has(path.dirname(local))) fresh.add(local);
        dirs.push({ rel: entry.path, entry });
        continue;
      }
      place = destination.place(entry.path);
      if (
        batches &&
        entry.size !== null &&
        entry.size <= BATCH_FILE_MAX &&
        (fresh.has(path.dirname(local)) || (place.existing() === null && place.partSize() === 0))
      ) {
        await batches.add({ rel: entry.path, dest: place }, entry.size);
        continue;
      }
    } catch (err) {
      record(summary, options, entry.path, err, false);
      continue;
    }
    const one = place;
    await window.add(() => getOne(entry.path, one));
  }
  options.onPlan?.(totals);
  await batches?.flush();
  await batchWindow.drain();
  await window.drain();
  // The renames are made durable one folder at a time, then the folders get their own mode
  // and mtime, deepest first (writing into a folder moves its mtime).
  destination.sync();
  for (const { rel, entry } of dirs.reverse()) {
    try {
      destination.setAttributes(rel, { mode: entry.mode, mtimeMs: entry.mtimeMs });
    } catch {
      // Gone, or no longer a folder inside (a link put there since): its files said so already.
    }
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
