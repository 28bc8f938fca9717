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
import { O_DIRECTORY, O_NOFOLLOW, PROC_FD } from '../server/root/folders.js';
import { TEMP_LINK_MARK } from './symlinks.js';
import { joinBase } from './local-file.js';

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
  /**
   * Where the folder is opened, if not at `root` (the name messages and entries' `abs` start
   * with): a put's WalkedFolder.walkAt, so that the walk and the opens after it start from the
   * very same folder (walked-file.ts).
   */
  at?: string;
}

/** Names the transfers themselves leave beside their destinations: never part of a tree. */
function isOwnTemporary(name: string): boolean {
  return isPartName(name) || name.includes(TEMP_LINK_MARK);
}

/**
 * Linux: a folder the walk holds open is read through its descriptor, `${PROC_FD}/N/name` (the
 * kernel looks the name up in the very folder held), as the served root does (see
 * src/server/root/folders.ts). Elsewhere (null) a folder is read by its path once checked.
 */
const FD_DIR = PROC_FD === null ? null : `${PROC_FD}/`;
/** How the walked folder itself is opened, and each folder below it (never through a symlink at its name). */
export const ROOT_FLAGS = fs.constants.O_RDONLY | O_DIRECTORY;
export const FOLDER_FLAGS = ROOT_FLAGS | O_NOFOLLOW;

/**
 * A synchronous generator over synchronous calls: a walk of many small files is a stream of
 * tiny calls, each cheaper than a round trip through the thread pool (and each step of an
 * asynchronous generator costs promises of its own).
 *
 * The folder's own path is the user's (symlinks in it followed once, when the walk starts).
 * Below it, a folder that a local user swaps for a symlink while it is walked is never walked
 * through: each folder is opened without following a symlink at its name, through its parent
 * held open, and must be the folder its parent listed (device and inode); its names are read,
 * and a link's text, through its descriptor. So every name is of an entry inside.
 *
 * Each entry is looked at (lstat) by its plain path: the kernel resolves that in about 2.6 µs,
 * and a name through /proc/<pid>/fd/N in 4.3, and a walk of 10,000 files is mostly lstats.
 * A folder swapped while it is walked can then make an entry describe a file outside, so
 * nothing is ever opened on the walk's word: a put opens each file it sends through the folders
 * held open and requires the very file the walk saw (WalkedFolder, walked-file.ts), and a get
 * writes, removes and reads through its destination's boundary (LocalFolder, local-file.ts).
 */
export function walkLocal(root: string, options: WalkOptions = {}): Generator<LocalEntry> {
  return walkFolder(root, options, '', options.at ?? root, null);
}

/** The folder `prefix`, opened at `at` (inside its parent held open), listed by its parent as `seen`. */
function* walkFolder(root: string, options: WalkOptions, prefix: string, at: string, seen: LocalEntry | null): Generator<LocalEntry> {
  const folder = path.join(root, prefix);
  // Joined as a folder get joins the names it is sent (joinBase): the same path for the same file.
  const base = joinBase(folder);
  let fd: number | null = null;
  // Names in UTF-8 byte order, as listings give them; null: not the folder its parent listed.
  let names: string[] | null = null;
  let vanished = false;
  try {
    if (FD_DIR !== null) fd = fs.openSync(at, seen === null ? ROOT_FLAGS : FOLDER_FLAGS);
    const now = seen === null ? null : fd !== null ? fs.fstatSync(fd) : fs.lstatSync(folder);
    if (now === null || (now.isDirectory() && now.dev === seen!.dev && now.ino === seen!.ino)) {
      names = fs.readdirSync(fd !== null ? `${FD_DIR}${fd}` : folder).sort(byUtf8);
    }
  } catch (err) {
    // A folder below the root that vanished, or became something else (ELOOP: a symlink), since
    // it was seen (rsync: "file has vanished"): its entries are not there to walk. The root
    // must be there.
    const code = (err as NodeJS.ErrnoException).code;
    if (prefix === '' || (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP')) {
      if (fd !== null) fs.closeSync(fd);
      throw err;
    }
    vanished = code === 'ENOENT';
  }
  if (names === null) {
    if (fd !== null) fs.closeSync(fd);
    options.onSkip?.(prefix, vanished ? 'vanished while the folder was read' : 'replaced while the folder was read (not followed)');
    return;
  }
  const inside = fd !== null ? `${FD_DIR}${fd}/` : base;
  try {
    yield* entriesOf(root, options, prefix, base, inside, names);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** The entries of one folder: `base` + name for messages and to look, `inside` + name to open and read. */
function* entriesOf(root: string, options: WalkOptions, prefix: string, base: string, inside: string, names: string[]): Generator<LocalEntry> {
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
      if (!excluded) yield* walkFolder(root, options, rel, inside + name, entry);
    } else if (st.isFile()) {
      yield entry;
    } else if (st.isSymbolicLink()) {
      try {
        entry.target = fs.readlinkSync(inside + name);
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
