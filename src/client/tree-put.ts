/** Folder put: putTree sends a local folder so that a remote one holds its contents (see tree.ts). */
import type { Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import { ForbiddenError, NotFoundError, RemoteError } from '../errors.js';
import { joinItemPath, type ListEntry } from '../protocol/index.js';
import { walkLocal, type LocalEntry } from '../transfer/walk.js';
import { linkSkipReason } from '../transfer/symlinks.js';
import { WalkedFolder, type FileIdentity } from '../transfer/walked-file.js';
import type { StoreItem } from './batch.js';
import { compareEntry, entriesToDelete, folderAttributesDiffer, type TreeEntry, type Verdict } from './compare.js';
import type { ReconnectingClient } from './retry.js';
import type { TcpsendClient } from './client.js';
import {
  BATCH_FILE_MAX,
  BATCH_WINDOW,
  batchesOn,
  compareContent,
  dotfilesProbe,
  isHidden,
  isInside,
  noTransfer,
  parentOf,
  requestWritten,
  SKIP,
  TreeRun,
  Window,
  WINDOW,
  walkInTurns,
  type TreeOptions,
  type TreeSummary,
} from './tree-run.js';

/** Files smaller than this go in the one-step, pipelined PUT form. */
const EAGER_PUT_MAX = 1024 * 1024;

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
  // The folder walked, held open: every file sent is opened through it (walked-file.ts).
  const source = WalkedFolder.open(localDir);
  try {
    return await putTreeFrom(client, source, remoteDir, options);
  } finally {
    source.close();
  }
}

/** putTree's work, from the folder `source`. */
async function putTreeFrom(
  client: ReconnectingClient,
  source: WalkedFolder,
  remoteDir: string,
  options: TreeOptions,
): Promise<TreeSummary> {
  const localDir = source.path;
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
  const remoteBase = joinItemPath(remoteDir, '');
  const join = (rel: string) => (rel === '' ? remoteDir : remoteBase + rel);

  // What is there already: one streamed listing for the whole tree, which the server makes
  // while this side walks its own folder (the two take about as long).
  const remote = new Map<string, ListEntry>();
  const listed = client
    .run(async (c) => {
      remote.clear();
      for await (const batch of c.listBatches(remoteDir, { recursive: true, links: true })) {
        for (const entry of batch) remote.set(entry.path, entry);
      }
      return true;
    })
    .catch((err: unknown) => {
      if (err instanceof RemoteError && err.code === NotFoundError.code) return false;
      throw err;
    });
  listed.catch(() => {}); // awaited below, while the walk goes on
  let listingIn = false;
  listed.then(
    () => (listingIn = true),
    () => (listingIn = true),
  );
  await requestWritten();
  /** Set once the listing is in (begin, below). */
  let remoteExists = false;
  let top: Stats | null = null;

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
   * One file on its own, resuming: the way every file goes that is not in a batch. `seen`:
   * which file the walk found (only that one is read); `existed`: it replaces something;
   * `there`: the file there now, if any.
   */
  const putOne = async (rel: string, abs: string, seen: FileIdentity, size: number, existed: boolean, there?: ListEntry) => {
    const walked = { folder: source, rel, seen };
    const target = join(rel);
    try {
      let digest: string | undefined;
      if (options.checksum && there?.type === 'file' && there.size === size) {
        const file = await source.open(rel, seen);
        const compared = await compareContent(client, file, target, size).finally(() => file.close());
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
          walked,
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
          alone: (item) => putOne(item.rel, item.abs, item.walked!.seen, item.walked!.seen.size, replacing.has(item.rel), remote.get(item.rel)),
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
  /** A small file to send goes into a batch: a promise only when the batch is full and goes out. */
  const batchFile = (entry: LocalEntry, existed: boolean): Promise<void> | undefined => {
    if (existed) replacing.add(entry.rel);
    return batches!.add({ rel: entry.rel, abs: entry.abs, walked: { folder: source, rel: entry.rel, seen: entry } }, entry.size);
  };
  const judge = (entry: LocalEntry): Promise<void> | undefined => {
    const there = remote.get(entry.rel);
    const verdict = compareEntry(entry, there, options);
    if ((verdict === 'new' || verdict === 'replace') && batches && entry.type === 'file' && entry.size <= BATCH_FILE_MAX) {
      return batchFile(entry, there !== undefined);
    }
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
      await batchFile(entry, existed);
      return;
    }
    const sendAlone = () => window.add(() => putOne(rel, entry.abs, entry, entry.size, existed, clear ? undefined : there));
    if (walking && !run.dryRun) afterWalk.push(sendAlone);
    else await sendAlone();
  };
  /**
   * While the walk goes on, only small files go out (in batches, as it finds them); a file
   * sent on its own (a large one, or one --checksum compares) waits for the end of the walk,
   * when the totals are known (onPlan). A dry run, which sends nothing, says what it would do
   * in the walk's order.
   */
  let walking = true;
  const afterWalk: (() => Promise<void>)[] = [];

  const totals = { files: 0, bytes: 0 };
  const take = (entry: LocalEntry): Promise<void> | undefined => {
    if (entry.type !== 'dir') {
      totals.files += 1;
      totals.bytes += entry.size;
    }
    return handle(entry);
  };
  // The walk goes on while the listing comes in. Once the listing is in (and the folder is
  // there on the server), each entry is handled as the walk finds it: the first files go out
  // while the rest of the tree is still being walked, and the server stores them meanwhile.
  let ready = false;
  const begin = async (early: readonly LocalEntry[]) => {
    remoteExists = await listed;
    const stats = (top = await fsp.stat(localDir));
    if (!remoteExists && !run.dryRun) await client.run((c) => c.mkdir(remoteDir, { mode: stats.mode & 0o777 }));
    ready = true;
    for (const entry of early) {
      const pending = take(entry);
      if (pending) await pending;
    }
  };
  const early: LocalEntry[] = [];
  try {
    await walkInTurns(walkLocal(localDir, { at: source.walkAt, filter: run.filter, onSkip: (rel, why) => options.onNotice?.(`skipped ${rel}: ${why}`) }), (entry) => {
      if (ready) return take(entry);
      early.push(entry);
      return listingIn ? begin(early.splice(0)) : undefined;
    });
  } catch (err) {
    // The walk failed part-way (a folder it may not read): nothing more is started, what is
    // on its way finishes before the run fails with the walk's error.
    await batchWindow.drain().catch(() => {});
    await window.drain().catch(() => {});
    throw err;
  }
  if (!ready) await begin(early);
  walking = false;
  options.onPlan?.(totals);
  for (const sendAlone of afterWalk.splice(0)) await sendAlone();
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
    const topEntry: TreeEntry = { type: 'dir', size: null, mtimeMs: Math.floor(top!.mtimeMs), mode: top!.mode & 0o777 };
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
