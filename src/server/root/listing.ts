/**
 * Listing a folder of the Root, streamed: depth first, each folder before its contents, names
 * in UTF-8 byte order within a folder. Partial files, names toSegments refuses, other file
 * types and symlinks that lead out of the root are left out. A symlink inside the root is
 * listed as what it points to (or, asked with `links`, as a link), but a symlinked folder is
 * not descended into, so there are no loops. Each folder is reached through its parent (held
 * open on Linux), so the cost per folder does not grow with the depth, and the depth walked
 * is bounded (MAX_LIST_DEPTH).
 *
 * Memory is bounded too (issue 14, finding 4: twenty listings of a folder of 200,000 names
 * held over 600 MB): entries go out in batches of BATCH_ENTRIES as the client takes them, and
 * a folder of more than SORTED_FOLDER_MAX names is listed in the order the file system gives,
 * as it is read, instead of being read whole and sorted.
 */
import path from 'node:path';
import { NotDirectoryError } from '../../errors.js';
import type { FolderScope, Folder } from './folders.js';
import { quoteRequestPath } from '../../files/quote-path.js';
import { byUtf8 } from '../../files/utf8-order.js';
import { infoOf, type Entry, type FileInfo, type Root } from './root.js';
import type { TimeSlice } from './time-slice.js';
import type { DirLike, StatsLike } from './fs-port.js';
import { ERRNO, FIELDS, inUtf8Order, LookedStats, readFolderStats } from '../../files/native-folder.js';

export interface ListEntry {
  /** Relative to the listed folder, '/'-separated. */
  path: string;
  type: 'file' | 'dir' | 'link';
  /** Bytes; null for a folder or a link. */
  size: number | null;
  mtimeMs: number;
  mode: number;
  /** For a link: its target, relative, as stored (it resolves inside the root). */
  target?: string;
}

export interface ListOptions {
  recursive?: boolean;
  /** List symlinks whose target is relative and stays inside as `type=link`, not as what they lead to. */
  links?: boolean;
}

/**
 * Folders deeper than this below the listed one are listed but not descended into: a tree
 * 1,000 levels deep once cost seconds of server time per listing. A client lists them on their own.
 */
export const MAX_LIST_DEPTH = 256;

/**
 * A batch holds at most this many entries: a folder of 200,000 names is not turned into
 * 200,000 entries (and their text) at once, but streamed as the client takes it.
 */
const BATCH_ENTRIES = 512;

/**
 * A folder of up to this many names is listed sorted (in UTF-8 byte order); a bigger one in
 * the order the file system gives, so that a listing never holds more names than this per
 * folder level (docs/protocol.md, LIST).
 */
export const SORTED_FOLDER_MAX = 10_000;

/**
 * The listing in batches: each batch the entries listed in one go, in order (a folder's
 * entries up to the first subfolder, that subfolder's own, and so on). Entries are listed
 * synchronously, a batch at a time: a promise per entry cost more than the lstat.
 */
export async function* listFolder(root: Root, requestPath: string, options: ListOptions = {}): AsyncGenerator<ListEntry[], void, undefined> {
  const scope = root.newScope();
  try {
    const segments = root.segments(requestPath);
    const folder = root.folder(segments, scope);
    const shown = segments.join('/');
    const folderAt = root.self(folder, scope, shown);
    const info = infoOf(root.fs.statSync(folderAt), requestPath);
    if (info.type !== 'dir') throw new NotDirectoryError(`${quoteRequestPath(requestPath)} is a file, not a folder`);
    yield* walk({ root, options, scope, slice: root.workSlice }, folder, shown, '', 0);
  } finally {
    scope.close();
  }
}

/** What every level of one listing shares. */
interface Walk {
  root: Root;
  options: ListOptions;
  scope: FolderScope;
  slice: TimeSlice;
}

async function* walk(w: Walk, folder: Folder, shown: string, prefix: string, depth: number): AsyncGenerator<ListEntry[], void, undefined> {
  const { root, scope, options, slice } = w;
  let names: FolderNames;
  try {
    names = readNames(root, root.self(folder, scope, shown), folder, shown);
  } catch (err) {
    if (depth === 0) throw err;
    return; // A subfolder that vanished or cannot be read: list the rest.
  }
  // The lstats the native helper read with the names, by their place in `names.first`.
  const looked = names.looked;
  let index = 0;
  let batch: ListEntry[] = [];
  try {
    for (const name of eachName(names)) {
      const at = index++ * FIELDS;
      if (!root.listable(name)) continue;
      if (batch.length >= BATCH_ENTRIES) {
        yield batch;
        batch = [];
      }
      if (slice.due()) {
        if (batch.length > 0) yield batch;
        batch = [];
        await slice.yieldIfDue();
      }
      const childShown = shown === '' ? name : `${shown}/${name}`;
      const entryPath = prefix + name;
      let described: { entry: ListEntry; folder: boolean } | null;
      try {
        if (looked !== null && at < looked.length && looked[at + ERRNO] !== 0) continue; // gone since readdir
        const stats = looked !== null && at < looked.length ? new LookedStats(looked, at) : undefined;
        described = describe(root, folder, name, childShown, entryPath, options, scope, stats);
      } catch {
        continue; // Gone since readdir, a dangling symlink, or one that leads out: not listed.
      }
      if (described === null) continue;
      batch.push(described.entry);
      if (options.recursive === true && described.folder && depth + 1 < MAX_LIST_DEPTH) {
        let child: Folder;
        try {
          child = root.child(folder, name, childShown, scope);
        } catch {
          continue; // Swapped or gone since it was seen: not descended into.
        }
        yield batch;
        batch = [];
        yield* walk(w, child, childShown, `${entryPath}/`, depth + 1);
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    names.rest?.closeSync();
  }
}

/** A folder's names: all of them, sorted; or, for a huge folder, the first ones read and the folder left open for the rest. */
interface FolderNames {
  first: string[];
  rest: DirLike | null;
  /** Where the native helper read the folder: the lstat of each name in `first`, FIELDS numbers each, in that order. */
  looked: Float64Array | null;
}

function nameOf(name: { name: string | Buffer } | string | Buffer): string {
  return typeof name === 'string' ? name : Buffer.isBuffer(name) ? name.toString('utf8') : String(name.name);
}

function readNames(root: Root, at: string, folder: Folder, shown: string): FolderNames {
  // A folder held open with node's own fs, of at most SORTED_FOLDER_MAX names: its names and
  // their lstats in one call (fstatat in the folder held), where the native helper is built.
  const read = root.kernelFds && folder.fd !== undefined ? readFolderStats(folder.fd, shown, SORTED_FOLDER_MAX) : null;
  if (read !== null) {
    const sorted = inUtf8Order(read);
    return { first: sorted.names, rest: null, looked: sorted.stats };
  }
  if (root.fs.opendirSync === undefined) {
    // Names only (each is lstat'ed below): a Dirent per entry cost as much as the readdir.
    return { first: root.fs.readdirSync(at).map(nameOf).sort(byUtf8), rest: null, looked: null };
  }
  const dir = root.fs.opendirSync(at, { bufferSize: 256 });
  const first: string[] = [];
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      first.push(nameOf(entry));
      if (first.length > SORTED_FOLDER_MAX) return { first, rest: dir, looked: null };
    }
  } catch (err) {
    dir.closeSync();
    throw err;
  }
  dir.closeSync();
  return { first: first.sort(byUtf8), rest: null, looked: null };
}

function* eachName(names: FolderNames): Generator<string, void, undefined> {
  const first = names.first;
  names.first = []; // let go of them as the rest is read
  yield* first;
  if (names.rest === null) return;
  for (let entry = names.rest.readSync(); entry !== null; entry = names.rest.readSync()) yield nameOf(entry);
}


/** One listed entry, or null if it is not to be listed; `folder` when it is a real folder to descend into. */
function describe(
  root: Root,
  folder: Folder,
  name: string,
  shown: string,
  entryPath: string,
  options: ListOptions,
  scope: FolderScope,
  /** Its lstat, if read already (with the folder's names). */
  looked?: StatsLike,
): { entry: ListEntry; folder: boolean } | null {
  const stats = looked ?? root.fs.lstatSync(root.at(folder, name, scope, shown));
  if (stats === undefined) return null;
  if (stats.isSymbolicLink()) {
    const entry: Entry = { folder, name, shown, stats };
    if (options.links === true) {
      const target = insideTarget(root, folder, name, scope, shown);
      if (target !== null) {
        return { entry: { path: entryPath, type: 'link', size: null, mtimeMs: infoMs(stats), mode: Number(stats.mode) & 0o777, target }, folder: false };
      }
    }
    const { stats: real } = root.followed(entry, scope);
    if (!real.isFile() && !real.isDirectory()) return null;
    return { entry: toEntry(entryPath, infoOf(real, shown)), folder: false };
  }
  if (!stats.isFile() && !stats.isDirectory()) return null;
  const info = infoOf(stats, shown);
  return { entry: toEntry(entryPath, info), folder: info.type === 'dir' };
}

function infoMs(stats: { mtimeMs: number | bigint }): number {
  return Math.floor(Number(stats.mtimeMs));
}

/**
 * A symlink's target, if it is relative and, resolved from the link's folder, stays inside the
 * root (lexically, and through the symlinks it passes where it exists); else null.
 */
export function insideTarget(root: Root, folder: Folder, name: string, scope: FolderScope, shown: string): string | null {
  const target = String(root.fs.readlinkSync(root.at(folder, name, scope, shown)));
  if (target === '' || path.isAbsolute(target) || target.includes('\\')) return null;
  const lexical = path.resolve(folder.path, target);
  if (!root.contains(lexical) || lexical === root.rootPath) return null;
  try {
    root.followed({ folder, name, shown, stats: undefined }, scope);
  } catch (err) {
    // Leads nowhere (yet): its text alone decides. Leads out, or to a partial file: not a link to list.
    if ((err as { code?: string }).code !== 'TCPSEND_ERR_NOT_FOUND') return null;
  }
  return target;
}

function toEntry(entryPath: string, info: FileInfo): ListEntry {
  return { path: entryPath, type: info.type, size: info.type === 'file' ? info.size : null, mtimeMs: info.mtimeMs, mode: info.mode };
}
