/** Folder get: getTree fetches a remote folder so that a local one holds its contents, writing only inside it (see tree.ts). */
import path from 'node:path';
import { BadPathError } from '../errors.js';
import { joinItemPath, type ListEntry } from '../protocol/index.js';
import { MAX_PATH_BYTES, toSegments } from '../files/relative-path.js';
import { walkLocal, type LocalEntry } from '../transfer/walk.js';
import { linkSkipReason } from '../transfer/symlinks.js';
import { joinBase, LocalFolder, statSyncOrNull, type LocalPlace } from '../transfer/local-file.js';
import type { FetchItem } from './batch.js';
import { compareEntry, entriesToDelete, folderAttributesDiffer, type Verdict } from './compare.js';
import type { ReconnectingClient } from './retry.js';
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
  /** `localDir` normalised, with a separator: a checked `rel` is joined by concatenation. */
  private readonly base: string;
  constructor(private readonly localDir: string) {
    this.base = joinBase(localDir);
  }

  resolve(rel: string, isDir: boolean): string {
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    const known = slash < 0 ? this.names.has(name) : slash > 0 && this.folders.has(rel.slice(0, slash)) && this.names.has(name);
    let local: string;
    // A UTF-16 unit is at most 3 bytes of UTF-8: only a long path needs counting.
    // Every name in it checked (none empty, '.' or '..'): path.join would give the same.
    if (known && (rel.length * 3 <= MAX_PATH_BYTES || Buffer.byteLength(rel, 'utf8') <= MAX_PATH_BYTES)) local = this.base + rel;
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
  const remoteBase = joinItemPath(remoteDir, '');
  const join = (rel: string) => remoteBase + rel;

  // The listing is asked for first: the server makes it while this side walks its folder.
  // It streams in while the downloads run; on a retry it is read again from the start, and
  // files already complete are found unchanged.
  const listing = first.listBatches(remoteDir, { recursive: true, links: true })[Symbol.asyncIterator]();
  const firstBatch = listing.next();
  firstBatch.catch(() => {}); // awaited below, after the walk
  await requestWritten();

  // What is here already: one walk, links not followed, excluded paths marked (protected).
  const local = new Map<string, LocalEntry>();
  const listed = new ListedPaths(localDir);
  let created = false;
  if (statSyncOrNull(localDir) === null) {
    if (!run.dryRun) created = (opened.destination = await LocalFolder.open(localDir)).created;
  } else {
    await walkInTurns(walkLocal(localDir, { filter: run.filter, markExcluded: true }), (entry) => {
      local.set(entry.rel, entry);
    });
  }
  // A dry run writes nothing, but --checksum reads what is here through the boundary too.
  if (!run.dryRun || (options.checksum && local.size > 0)) opened.destination ??= await LocalFolder.open(localDir);
  const destination = run.dryRun ? null : opened.destination;
  const reading = opened.destination;
  // Folders this run created hold nothing yet: their files need no look before they are fetched.
  const fresh = new Set<string>();
  if (created) fresh.add('');
  const dirs: { rel: string; entry: ListEntry }[] = [];
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

  /**
   * --checksum: a same-size file is unchanged when its digest is the server's (from its cache).
   * It is read through the boundary, and the date set on the very descriptor read.
   */
  const sameContent = async (rel: string, dest: string, there: LocalEntry, entry: ListEntry): Promise<boolean> => {
    const place = reading!.place(rel);
    const file = place.openExisting();
    try {
      const { same, checksum, digest } = await compareContent(client, file, join(rel), there.size);
      if (!same) return false;
      // The same bytes: the source's mtime, so that the next quick check passes.
      if (there.mtimeMs !== entry.mtimeMs && !run.dryRun) place.setMtime(file, entry.mtimeMs);
      run.done(rel, 'unchanged', { ...noTransfer(dest, there.size), checksum, digest, skipped: true });
      return true;
    } finally {
      file.close();
    }
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
    const there = local.get(rel);
    // A path the local walk found names a place inside the destination already (its `abs` is
    // the same join): only the others need the checks.
    let dest: string;
    try {
      dest = there?.abs ?? listed.resolve(rel, entry.type === 'dir');
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
    const verdict = compareEntry(entry, there, options);
    if (verdict !== 'unchanged') return act(entry, dest, there, verdict);
    if (entry.type === 'dir') dirs.push({ rel, entry });
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
      dirs.push({ rel, entry });
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
          destination!.placeSymlink(rel, entry.target!);
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
  for (let next = await firstBatch; !next.done; next = await listing.next()) {
    for (const entry of next.value) {
      if (entry.type !== 'dir') {
        totals.files += 1;
        totals.bytes += entry.size ?? 0;
      }
      const pending = handle(entry);
      if (pending) await pending;
    }
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
    for (const rel of touched) {
      try {
        destination.touch(rel);
      } catch {
        // Gone, or no longer a folder inside (a link put there since): nothing of ours to sync there.
      }
    }
    destination.sync();
    for (const { rel, entry } of dirs.reverse()) {
      if (blocked.has(rel)) continue;
      const there = local.get(rel);
      if (!touched.has(rel) && there?.type === 'dir' && !folderAttributesDiffer(entry, there)) continue;
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
