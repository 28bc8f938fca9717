/**
 * Folders inside the served root, and the one way to name what is in them.
 *
 * Node has no openat(2), renameat(2) or unlinkat(2). Where Linux's /proc/<pid>/fd is there, a
 * folder is held open once resolved, and everything in it is named through its descriptor,
 * `/proc/<pid>/fd/N/name` (PROC_FD): the kernel looks `name` up in the very folder held, so a
 * swap of the folder (or of any folder above it) for a symlink cannot redirect the call. Elsewhere (no
 * /proc, or an injected file system) the folder's identity (device and inode) is checked
 * before each call on a path in it and again after an open. Which of the two is used is
 * decided once, when the Root opens (HeldFolders or CheckedFolders); callers never ask.
 */
import nodeFs, { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { ForbiddenError, InternalError } from '../../errors.js';
import { quoteRequestPath } from '../../files/quote-path.js';
import { toStorageError } from './fs-errors.js';
import type { RootFs, StatsLike } from './fs-port.js';

/** A folder a request has resolved: its real path, and which folder it was (to see a swap). */
export interface Folder {
  /** Absolute, symlinks resolved. Never shown to a client. */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** The folder held open (HeldFolders), while it is. */
  fd?: number;
}

/** Folder descriptors one scope holds at most; the least recently opened is closed first. */
const HELD_FOLDERS = 32;
export const O_DIRECTORY = (fsConstants.O_DIRECTORY as number | undefined) ?? 0;
// O_NOFOLLOW: a name swapped for a symlink fails to open (ELOOP) instead of being followed.
export const O_NOFOLLOW = (fsConstants.O_NOFOLLOW as number | undefined) ?? 0;
const FOLDER_FLAGS = fsConstants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/**
 * Where this process's descriptors are named on Linux (null elsewhere): `/proc/<pid>/fd`,
 * which spares the kernel resolving `self` on every call (an lstat through it costs 4.3 µs
 * instead of 4.7: 10,000 of them are a listing), when /proc is this process's own (`self`
 * leads to its pid: in a container /proc may belong to another pid namespace, where that pid
 * is someone else); else `/proc/self/fd`. A walk or a Root on another file system asks its own
 * whether it reaches the folder named here.
 */
export const PROC_FD: string | null = (() => {
  if (process.platform !== 'linux') return null;
  try {
    if (nodeFs.readlinkSync('/proc/self') === String(process.pid)) return `/proc/${process.pid}/fd`;
  } catch {
    // no /proc, or not one that names processes
  }
  return nodeFs.existsSync('/proc/self/fd') ? '/proc/self/fd' : null;
})();

/**
 * What one request (or one batch request) learned about folders: each folder it resolved,
 * by its path relative to the root, so many files in one folder cost one resolution. Close it
 * when the request is over: that releases the folders it holds open.
 */
export class FolderScope {
  readonly #known = new Map<string, Folder>();
  readonly #held: Folder[] = [];

  constructor(private readonly fs: RootFs) {}

  get(key: string): Folder | undefined {
    return this.#known.get(key);
  }

  set(key: string, folder: Folder): void {
    this.#known.set(key, folder);
  }

  /** Keep `fd` as `folder`'s descriptor; past HELD_FOLDERS the oldest one held is closed. */
  hold(folder: Folder, fd: number): void {
    if (this.#held.length >= HELD_FOLDERS) closeFolder(this.fs, this.#held.shift()!);
    folder.fd = fd;
    this.#held.push(folder);
  }

  /** Close every folder held (call once the request is over). */
  close(): void {
    for (const folder of this.#held.splice(0)) closeFolder(this.fs, folder);
  }
}

function closeFolder(fs: RootFs, folder: Folder): void {
  const fd = folder.fd;
  if (fd === undefined) return;
  folder.fd = undefined;
  try {
    fs.closeSync(fd);
  } catch {
    // Nothing to do about a failed close of a folder opened read-only.
  }
}

export function identityOf(stats: StatsLike): { dev: number; ino: number } {
  return { dev: Number(stats.dev), ino: Number(stats.ino) };
}

function sameFolder(stats: StatsLike | undefined, folder: Folder): boolean {
  return stats !== undefined && stats.isDirectory() && Number(stats.dev) === folder.dev && Number(stats.ino) === folder.ino;
}

function swapped(shown: string): ForbiddenError {
  return new ForbiddenError(`the folder of ${quoteRequestPath(shown)} changed while it was being opened`);
}

/** How the entries of a resolved folder are named: the one choice made when the Root opens. */
export interface FolderAccess {
  /** A path for `name` in `folder` that no swap of the folder can redirect (see the top). */
  at(folder: Folder, name: string, scope: FolderScope, shown: string): string;
  /** A path for the folder itself (to list it, or fsync it). */
  self(folder: Folder, scope: FolderScope, shown: string): string;
  /** After a call through `at`: the folder was still the one resolved, or ForbiddenError. */
  confirm(folder: Folder, shown: string): void;
  /**
   * Before a call that creates something in `folder`: it is still inside the root (a folder
   * held open could have been moved out since), or ForbiddenError.
   */
  checkStillInside(folder: Folder, scope: FolderScope, shown: string): void;
  /** `folder` was just found (by lstat) at `at`: take it into `scope` (held: open it there). */
  enter(folder: Folder, at: string, scope: FolderScope, shown: string): void;
  /**
   * A descriptor opened on a real path (a symlink's target, checked to be inside): ForbiddenError
   * unless the kernel says it landed inside (where it can say; elsewhere the caller compares
   * device and inode with what it checked).
   */
  checkLanded(fd: number, shown: string): void;
}

/** Linux: folders held open, entries named through /proc/<pid>/fd/N (PROC_FD). */
export class HeldFolders implements FolderAccess {
  constructor(
    private readonly fs: RootFs,
    private readonly inside: (absolute: string) => boolean,
    /** The root as named in a refusal ('the served folder'). */
    private readonly called = 'the served folder',
  ) {}

  at(folder: Folder, name: string, scope: FolderScope, shown: string): string {
    return `${this.self(folder, scope, shown)}/${name}`;
  }

  self(folder: Folder, scope: FolderScope, shown: string): string {
    if (folder.fd === undefined) this.#open(folder, folder.path, scope, shown);
    return `${PROC_FD}/${folder.fd}`;
  }

  confirm(): void {
    // Named through the descriptor: nothing could have redirected the call.
  }

  checkStillInside(folder: Folder, scope: FolderScope, shown: string): void {
    if (folder.fd === undefined) this.#open(folder, folder.path, scope, shown);
    this.checkLanded(folder.fd!, shown);
  }

  enter(folder: Folder, at: string, scope: FolderScope, shown: string): void {
    this.#open(folder, at, scope, shown);
  }

  checkLanded(fd: number, shown: string): void {
    let landed: string;
    try {
      landed = String(this.fs.readlinkSync(`${PROC_FD}/${fd}`));
    } catch (err) {
      throw new InternalError(`cannot check where ${quoteRequestPath(shown)} was opened`, { cause: err });
    }
    if (!this.inside(landed)) throw new ForbiddenError(`${quoteRequestPath(shown)} leads outside ${this.called}`);
  }

  /** Open `folder` at `where`, checked to be that folder and inside, and hold it in `scope`. */
  #open(folder: Folder, where: string, scope: FolderScope, shown: string): void {
    let fd: number;
    try {
      fd = this.fs.openSync(where, FOLDER_FLAGS);
    } catch (err) {
      // Not a folder any more (ELOOP: a symlink now; ENOTDIR; gone): it changed since it was
      // seen. Anything else (a folder we may not read) is said as it is.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') throw new ForbiddenError(swapped(shown).message, { cause: err });
      throw toStorageError(err, shown);
    }
    try {
      if (!sameFolder(this.fs.fstatSync(fd), folder)) throw swapped(shown);
      this.checkLanded(fd, shown);
    } catch (err) {
      this.fs.closeSync(fd);
      throw err;
    }
    scope.hold(folder, fd);
  }
}

/** Elsewhere: a folder's identity is checked before each call on a path in it, and after an open. */
export class CheckedFolders implements FolderAccess {
  constructor(private readonly fs: RootFs) {}

  at(folder: Folder, name: string, _scope: FolderScope, shown: string): string {
    this.confirm(folder, shown);
    return path.join(folder.path, name);
  }

  self(folder: Folder, _scope: FolderScope, shown: string): string {
    this.confirm(folder, shown);
    return folder.path;
  }

  confirm(folder: Folder, shown: string): void {
    let now: StatsLike | undefined;
    try {
      now = this.fs.lstatSync(folder.path, { throwIfNoEntry: false });
    } catch {
      now = undefined;
    }
    if (!sameFolder(now, folder)) throw swapped(shown);
  }

  checkStillInside(folder: Folder, _scope: FolderScope, shown: string): void {
    this.confirm(folder, shown);
  }

  enter(): void {
    // Nothing to hold: each call checks the folder's identity (confirm).
  }

  checkLanded(): void {
    // The kernel cannot say here; the caller compares device and inode.
  }
}
