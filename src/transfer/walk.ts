/**
 * Walk a local folder depth-first, folders before their contents, names in byte order, one
 * folder's entries in memory at a time (so 100,000 files cost no more than the widest folder).
 * Symlinks are reported as links with their text, never followed: whether one is recreated is
 * the folder transfer's decision (src/transfer/symlinks.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { byUtf8, isPartName, wholeMilliseconds } from '../files/index.js';
import { DEV, entryError, ERRNO, FIELDS, inUtf8Order, INO, MODE, MTIME_MS, readFolderStats, SIZE } from '../files/native-folder.js';
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
const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = fs.constants;

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
 * Each entry is looked at (lstat) in the folder held open, with its name, by the native helper
 * where it is built (native-folder.ts: fstatat, about 1 µs), else by its plain path (the kernel
 * resolves that in about 2.6 µs, a name through /proc/<pid>/fd/N in 4.3; a walk of 10,000
 * files is mostly lstats). A folder swapped while it is walked can then make an entry describe
 * a file outside, so nothing is ever opened on the walk's word: a put opens each file it sends through the folders
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
  // Null: not the folder its parent listed.
  let names: string[] | null = null;
  // Each name's lstat, where the native helper read them with the names (native-folder.ts).
  let looked: Float64Array | null = null;
  let vanished = false;
  try {
    if (FD_DIR !== null) fd = fs.openSync(at, seen === null ? ROOT_FLAGS : FOLDER_FLAGS);
    const now = seen === null ? null : fd !== null ? fs.fstatSync(fd) : fs.lstatSync(folder);
    if (now === null || (now.isDirectory() && now.dev === seen!.dev && now.ino === seen!.ino)) {
      const read = fd !== null ? readFolderStats(fd, folder) : null;
      const sorted = read !== null ? inUtf8Order(read) : null;
      names = sorted !== null ? sorted.names : fs.readdirSync(fd !== null ? `${FD_DIR}${fd}` : folder).sort(byUtf8);
      looked = sorted?.stats ?? null;
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
    yield* entriesOf(root, options, prefix, base, inside, names, looked);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * The entries of one folder, `names` in UTF-8 byte order, as listings give them: `base` + name
 * for messages and to look, `inside` + name to open and read. `looked`: their lstats as the
 * native helper read them with the names (in the same order), else each is looked at here.
 */
function* entriesOf(
  root: string,
  options: WalkOptions,
  prefix: string,
  base: string,
  inside: string,
  names: string[],
  looked: Float64Array | null,
): Generator<LocalEntry> {
  const filter = options.filter?.empty === false ? options.filter : null;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (isOwnTemporary(name)) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    const abs = base + name;
    let mode: number;
    let size: number;
    let mtimeMs: number;
    let dev: number;
    let ino: number;
    if (looked !== null) {
      const at = i * FIELDS;
      if (looked[at + ERRNO] !== 0) {
        options.onSkip?.(rel, entryError(looked, at, abs).message);
        continue;
      }
      mode = looked[at + MODE]!;
      size = looked[at + SIZE]!;
      mtimeMs = looked[at + MTIME_MS]!;
      dev = looked[at + DEV]!;
      ino = looked[at + INO]!;
    } else {
      try {
        ({ mode, size, mtimeMs, dev, ino } = fs.lstatSync(abs));
        // A folder's mode and mtime are sent as they are (a put makes the folder so): looked at
        // again in the folder held, where a folder swapped above it cannot lead elsewhere.
        if ((mode & S_IFMT) === S_IFDIR && inside !== base) ({ mode, size, mtimeMs, dev, ino } = fs.lstatSync(inside + name));
      } catch (err) {
        options.onSkip?.(rel, (err as Error).message);
        continue;
      }
    }
    const kind = mode & S_IFMT;
    const isDir = kind === S_IFDIR;
    const excluded = filter !== null && filter.excludes(rel, isDir);
    if (excluded && !options.markExcluded) continue;
    // One object per entry, whatever its kind: a walk of many files makes many of them.
    const entry: LocalEntry = { rel, abs, type: 'file', size, mtimeMs: wholeMilliseconds(mtimeMs), mode: mode & 0o777, dev, ino };
    if (excluded) entry.excluded = true;
    if (isDir) {
      entry.type = 'dir';
      entry.size = 0;
      yield entry;
      if (!excluded) yield* walkFolder(root, options, rel, inside + name, entry);
    } else if (kind === S_IFREG) {
      yield entry;
    } else if (kind === S_IFLNK) {
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
