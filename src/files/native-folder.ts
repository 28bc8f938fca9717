/**
 * A folder's names with the lstat of each, in one call, and openat and renameat, through
 * tcpsend's native helper (native/folder.c: the *at() calls on folders held open; `npm run
 * build` compiles it into dist/native/folder.node where there is a C compiler). Node has no fstatat:
 * from JavaScript each entry is an lstat of a path the kernel resolves again (through
 * /proc/<pid>/fd/N 4.2 µs, a plain path 2.6) and a Stats object with four Dates, and a walk of
 * 10,000 files is mostly that. The helper is a faster way to do the same reads: where it is not
 * built or does not load (another platform, the single executable, a build without a
 * compiler), readFolderStats gives null and callers read the plain way, with the same results
 * (test/files/native-folder.test.ts holds the two to each other).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import util from 'node:util';
import { byUtf8 } from './utf8-order.js';

/** Numbers per name in FolderStats.stats, and where each one is. */
export const FIELDS = 8;
export const MODE = 0;
export const SIZE = 1;
export const MTIME_MS = 2;
export const CTIME_MS = 3;
export const DEV = 4;
export const INO = 5;
export const NLINK = 6;
/** The errno of an entry's failed lstat (it vanished since the folder was read), else 0. */
export const ERRNO = 7;

export interface FolderStats {
  /** As fs.readdirSync gives them (not sorted; no '.' or '..'). */
  names: string[];
  /** FIELDS numbers per name, in the order of `names`. */
  stats: Float64Array;
}

interface NativeFolder {
  readonly FIELDS: number;
  readFolder(fd: number, max: number): [string[], Float64Array] | null;
  openAt(dirfd: number, name: string, flags: number, mode: number): number;
  renameAt(fromDirfd: number, fromName: string, toDirfd: number, toName: string): void;
}

/**
 * Where the helper is, by where this code runs: dist/native/ beside the CLI bundle
 * (dist/tcpsend-cli.cjs), one folder up from dist/files/native-folder.js, and, for the tests
 * that run src/ as it is, in the build beside src/. Nowhere else: not beside a single
 * executable (which carries none) or any other file this code was bundled into, where a
 * `folder.node` found would be anyone's. (`self`: this code's own file; exported for a test.)
 */
export function helperPath(self = fileURLToPath(import.meta.url)): string | null {
  if (self === process.execPath) return null; // the single executable, whatever its name
  const here = path.dirname(self);
  switch (path.basename(self)) {
    case 'tcpsend-cli.cjs':
      return path.join(here, 'native', 'folder.node');
    case 'native-folder.js':
      return path.join(here, '..', 'native', 'folder.node');
    case 'native-folder.ts':
      return path.join(here, '..', '..', 'dist', 'native', 'folder.node');
    default:
      return null;
  }
}

/** The helper, or null if it is not where this layout keeps it, does not load, or is of another layout. */
function load(): NativeFolder | null {
  const file = helperPath();
  if (file === null || !fs.existsSync(file)) return null;
  try {
    const helper = createRequire(import.meta.url)(file) as NativeFolder;
    return helper.FIELDS === FIELDS && typeof helper.readFolder === 'function' && typeof helper.openAt === 'function' && typeof helper.renameAt === 'function'
      ? helper
      : null;
  } catch {
    return null; // built for another platform or C library: the plain way
  }
}

const loaded = load();
let native = loaded;

/** Whether folders are read through the helper in this process. */
export function nativeFolderReads(): boolean {
  return native !== null;
}

/** @internal Tests: read folders the plain way (false) or through the helper if it loaded (true); whether it is used now. */
export function useNativeFolderReads(on: boolean): boolean {
  native = on ? loaded : null;
  return native !== null;
}

/**
 * The names in the folder held open as `fd`, each with its lstat (fstatat, no symlink
 * followed): null where the helper is not used, or when the folder holds more than `max` names.
 * An error reading the folder itself is thrown as Node words one (code, errno, syscall, path).
 */
export function readFolderStats(fd: number, shown: string, max = Number.MAX_SAFE_INTEGER): FolderStats | null {
  if (native === null) return null;
  let read: [string[], Float64Array] | null;
  try {
    read = native.readFolder(fd, max);
  } catch (err) {
    throw asSystemError(err, 'scandir', shown);
  }
  return read === null ? null : { names: read[0], stats: read[1] };
}

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } = fs.constants;

/** One entry's lstat from FolderStats.stats (at offset `at`), read as an fs.Stats is. */
export class LookedStats {
  constructor(
    private readonly stats: Float64Array,
    private readonly at: number,
  ) {}
  get mode(): number {
    return this.stats[this.at + MODE]!;
  }
  get size(): number {
    return this.stats[this.at + SIZE]!;
  }
  get mtimeMs(): number {
    return this.stats[this.at + MTIME_MS]!;
  }
  get ctimeMs(): number {
    return this.stats[this.at + CTIME_MS]!;
  }
  get dev(): number {
    return this.stats[this.at + DEV]!;
  }
  get ino(): number {
    return this.stats[this.at + INO]!;
  }
  get nlink(): number {
    return this.stats[this.at + NLINK]!;
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
}

/**
 * openat(2): `name` (one name) in the folder held open as `dirfd`, with open(2)'s `flags` and
 * `mode`: its descriptor; null where the helper is not used (open it the plain way). An error is
 * thrown as Node words one, of `shown`.
 */
export function openAt(dirfd: number, name: string, flags: number, mode: number, shown: string): number | null {
  if (native === null) return null;
  try {
    return native.openAt(dirfd, name, flags, mode);
  } catch (err) {
    throw asSystemError(err, 'open', shown);
  }
}

/** renameat(2) of names in folders held open; false where the helper is not used (rename the plain way). */
export function renameAt(fromDirfd: number, fromName: string, toDirfd: number, toName: string, shown: string): boolean {
  if (native === null) return false;
  try {
    native.renameAt(fromDirfd, fromName, toDirfd, toName);
  } catch (err) {
    throw asSystemError(err, 'rename', shown);
  }
  return true;
}

function asSystemError(err: unknown, syscall: string, shown: string): unknown {
  const errno = (err as { errno?: unknown }).errno;
  return typeof errno === 'number' ? systemError(errno, syscall, shown) : err;
}

/**
 * `read` with its names in UTF-8 byte order (as listings give them), each name's numbers moved
 * with it: what the walk and the listing both read a folder as.
 */
export function inUtf8Order(read: FolderStats): FolderStats {
  const order = Array.from(read.names.keys()).sort((a, b) => byUtf8(read.names[a]!, read.names[b]!));
  const stats = new Float64Array(read.stats.length);
  order.forEach((from, to) => stats.set(read.stats.subarray(from * FIELDS, (from + 1) * FIELDS), to * FIELDS));
  return { names: order.map((i) => read.names[i]!), stats };
}

/** The error of an entry whose lstat failed (its ERRNO field), as fs.lstatSync would throw it. */
export function entryError(stats: Float64Array, at: number, shown: string): NodeJS.ErrnoException {
  return systemError(stats[at + ERRNO]!, 'lstat', shown);
}

/** An error worded as Node's own for `errno` (positive, as C gives it). */
function systemError(errno: number, syscall: string, shown: string): NodeJS.ErrnoException {
  const [code, description] = util.getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall} '${shown}'`);
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  err.path = shown;
  return err;
}
