/**
 * Walk a local folder depth-first, folders before their contents, names in byte order, one
 * folder's entries in memory at a time (so 100,000 files cost no more than the widest folder).
 * Symlinks are reported as links with their text, never followed: whether one is recreated is
 * the folder transfer's decision (src/transfer/symlinks.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { byUtf8, isPartName, wholeMilliseconds } from '../files/index.js';
import type { PathFilter } from './filter.js';
import { TEMP_LINK_MARK } from './symlinks.js';

export interface LocalEntry {
  /** Relative to the walked folder, '/'-separated. */
  rel: string;
  abs: string;
  type: 'file' | 'dir' | 'link';
  /** Bytes of a file; 0 for a folder or a link. */
  size: number;
  /** Whole milliseconds (floored), as listings carry them. */
  mtimeMs: number;
  mode: number;
  /** Which file it is (lstat): what is opened to send it must be this one (walked-file.ts). */
  dev: number;
  ino: number;
  /** A link's text (what it points to), as it is written. */
  target?: string;
  /** The filter excludes it (only with `markExcluded`); an excluded folder is not entered. */
  excluded?: boolean;
}

export interface WalkOptions {
  /** Told about entries that are skipped (sockets, devices, unreadable ones). */
  onSkip?: (rel: string, why: string) => void;
  /** Entries it excludes are not yielded, and folders it excludes are not entered. */
  filter?: PathFilter;
  /**
   * Yield the entries the filter excludes too, marked `excluded` (a destination's walk: what is
   * excluded there is protected from --delete, and so is the folder that holds it).
   */
  markExcluded?: boolean;
}

/** Names the transfers themselves leave beside their destinations: never part of a tree. */
function isOwnTemporary(name: string): boolean {
  return isPartName(name) || name.includes(TEMP_LINK_MARK);
}

/**
 * A synchronous generator over synchronous calls: a walk of many small files is a stream of
 * tiny calls, each cheaper than a round trip through the thread pool (and each step of an
 * asynchronous generator costs promises of its own).
 */
export function* walkLocal(root: string, options: WalkOptions = {}, prefix = ''): Generator<LocalEntry> {
  const folder = path.join(root, prefix);
  const base = folder.endsWith(path.sep) ? folder : folder + path.sep;
  // Names in UTF-8 byte order, as listings give them.
  let names: string[];
  try {
    names = fs.readdirSync(folder).sort(byUtf8);
  } catch (err) {
    // A folder below the root that vanished, or became something else, since it was seen
    // (rsync: "file has vanished"): its entries are not there to walk. The root must be there.
    const code = (err as NodeJS.ErrnoException).code;
    if (prefix === '' || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw err;
    options.onSkip?.(prefix, 'vanished while the folder was read');
    return;
  }
  const filter = options.filter?.empty === false ? options.filter : null;
  for (const name of names) {
    if (isOwnTemporary(name)) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    const abs = base + name;
    let st;
    try {
      st = fs.lstatSync(abs);
    } catch (err) {
      options.onSkip?.(rel, (err as Error).message);
      continue;
    }
    const isDir = st.isDirectory();
    const excluded = filter !== null && filter.excludes(rel, isDir);
    if (excluded && !options.markExcluded) continue;
    // One object per entry, whatever its kind: a walk of many files makes many of them.
    const entry: LocalEntry = { rel, abs, type: 'file', size: st.size, mtimeMs: wholeMilliseconds(st.mtimeMs), mode: st.mode & 0o777, dev: st.dev, ino: st.ino };
    if (excluded) entry.excluded = true;
    if (isDir) {
      entry.type = 'dir';
      entry.size = 0;
      yield entry;
      if (!excluded) yield* walkLocal(root, options, rel);
    } else if (st.isFile()) {
      yield entry;
    } else if (st.isSymbolicLink()) {
      try {
        entry.target = fs.readlinkSync(abs);
      } catch (err) {
        options.onSkip?.(rel, (err as Error).message);
        continue;
      }
      entry.type = 'link';
      entry.size = 0;
      yield entry;
    } else {
      options.onSkip?.(rel, 'not a regular file, folder or symlink');
    }
  }
}
