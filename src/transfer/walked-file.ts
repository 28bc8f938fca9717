/**
 * A file a folder walk found, opened to be sent (docs/security.md, "Symlinks in folder
 * transfers": a folder put never reads through a symlink). The walk only looks at entries (by
 * their plain paths: walk.ts), and between the walk and the open a local user may put a
 * symlink, a FIFO or another file under a name, or swap a folder above it for a symlink to the
 * outside. So a walked file is opened through the folder that holds it, held open and reached
 * from the walked folder one name at a time without following a symlink (on Linux, through
 * /proc/<pid>/fd, as the served root does: src/server/root/folders.ts), with no symlink
 * followed at its own name (O_NOFOLLOW) and no wait for a FIFO's writer (O_NONBLOCK); and what
 * it opened must be the very regular file the walk saw (the same device and inode). Otherwise
 * nothing of it is sent, and it is named as changed. What the walk saw through a folder swapped
 * meanwhile is of another file, so it fails that check too. Without /proc a file is opened by
 * its path and only that check holds: a folder swapped while it was walked, and left so, is
 * not caught (docs/security.md says so).
 */
import fs, { type Stats } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { FileChangedError } from '../errors.js';
import { joinBase } from './local-file.js';
import { FOLDER_FLAGS, ROOT_FLAGS } from './walk.js';
import { PROC_FD } from '../server/root/folders.js';
import { READ_FLAGS } from '../server/root/index.js';
import { openAt } from '../files/native-folder.js';

/** Which file a walk saw under a name (its lstat's device and inode). */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** How a walked file is opened: read-only, no symlink followed at its name, no wait on a FIFO. */
export const WALKED_FILE_FLAGS = READ_FLAGS;
/** Folders held open at most; the least recently used is closed first (a walk's order reuses few). */
const HELD_FOLDERS = 32;

/** FileChangedError unless `opened` (the descriptor's stat) is the regular file the walk saw as `seen`. */
export function checkWalkedFile(file: string, seen: FileIdentity, opened: Stats): void {
  if (!opened.isFile()) throw new FileChangedError(`'${file}' was replaced by something that is not a regular file after its folder was read; not sent`);
  if (opened.dev !== seen.dev || opened.ino !== seen.ino) {
    throw new FileChangedError(`'${file}' was replaced after its folder was read (it is not the file found then); not sent`);
  }
}

/**
 * The error of an open of a walked file, in the user's terms: a symlink, a socket or a
 * non-folder found on the way is a change (FileChangedError); anything else (gone, not allowed)
 * is said as it is, of the file's own path (not the /proc name it was opened by).
 */
function walkedOpenError(file: string, err: unknown, atName: boolean): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ELOOP' && atName) return new FileChangedError(`'${file}' was replaced by a symlink after its folder was read; not sent (a folder put never follows one)`);
  if (e.code === 'ELOOP' || e.code === 'ENOTDIR') {
    return new FileChangedError(`'${file}': a folder above it was replaced after it was read; not sent (a folder put never follows a symlink)`);
  }
  // ENXIO: a socket (or a FIFO without a reader) put under the name.
  if (e.code === 'ENXIO' && atName) return new FileChangedError(`'${file}' was replaced by something that is not a regular file after its folder was read; not sent`);
  if (typeof e.code === 'string' && typeof e.syscall === 'string' && typeof e.path === 'string' && e.path !== file) {
    const at = e.message.lastIndexOf(`, ${e.syscall} `);
    const said: NodeJS.ErrnoException = new Error(`${at < 0 ? e.message : e.message.slice(0, at)}, ${e.syscall} '${file}'`, { cause: err });
    said.code = e.code;
    said.errno = e.errno;
    said.syscall = e.syscall;
    said.path = file;
    return said;
  }
  return err;
}

/** A file a walk found: the folder walked, the file's path in it, and which file it was (with more of what the walk saw, `T`). */
export interface WalkedFile<T = unknown> {
  readonly folder: WalkedFolder;
  readonly rel: string;
  readonly seen: FileIdentity & T;
}

interface Held {
  fd: number;
  /** Opens waiting on it: it is closed once none is, if it was let go meanwhile. */
  users: number;
  dropped: boolean;
}

/**
 * The folder a put walks, and the one way to open the files the walk found in it. The walk
 * starts from the folder held here (`walkAt`), so the files opened are in the very folder
 * walked: its own path is the user's, its symlinks followed once, when it is opened.
 * Elsewhere than Linux a file is opened by its path, checked as above.
 */
export class WalkedFolder {
  readonly #base: string;
  readonly #root: number | null;
  readonly #rootHeld: Held | null;
  /** Folders below the root held open, by '/'-separated path; least recently used first. */
  readonly #held = new Map<string, Held>();

  private constructor(
    /** As the user gave it, for messages. */
    readonly path: string,
  ) {
    this.#base = joinBase(path);
    this.#root = PROC_FD === null ? null : fs.openSync(path, ROOT_FLAGS);
    this.#rootHeld = this.#root === null ? null : { fd: this.#root, users: 0, dropped: false };
  }

  static open(folder: string): WalkedFolder {
    return new WalkedFolder(folder);
  }

  /** Where a walk starts to walk this very folder (walk.ts). */
  get walkAt(): string {
    return this.#root === null ? this.path : `${PROC_FD}/${this.#root}`;
  }

  /** The local path of `rel` inside, for messages. */
  pathOf(rel: string): string {
    return this.#base + rel;
  }

  /** `rel`, which the walk saw as `seen`, opened to read: its descriptor and its fstat, or FileChangedError. */
  openSync(rel: string, seen: FileIdentity): { fd: number; stats: Stats } {
    const file = this.pathOf(rel);
    const { folder, name } = this.#place(file, rel);
    let fd: number;
    try {
      // openat on the folder held, where the native helper is: the kernel resolves one name, not a /proc path.
      fd = folder === null ? fs.openSync(file, WALKED_FILE_FLAGS) : (openAt(folder.fd, name, WALKED_FILE_FLAGS, 0, file) ?? fs.openSync(`${PROC_FD}/${folder.fd}/${name}`, WALKED_FILE_FLAGS));
    } catch (err) {
      throw walkedOpenError(file, err, true);
    }
    try {
      const stats = fs.fstatSync(fd);
      checkWalkedFile(file, seen, stats);
      return { fd, stats };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** openSync, as a FileHandle (to stream it). */
  async open(rel: string, seen: FileIdentity): Promise<FileHandle> {
    const file = this.pathOf(rel);
    const { folder, name } = this.#place(file, rel);
    let handle: FileHandle;
    // The folder stays open until the open is done, even if it is let go meanwhile: its number names it.
    if (folder !== null) folder.users += 1;
    try {
      handle = await fsp.open(folder === null ? file : `${PROC_FD}/${folder.fd}/${name}`, WALKED_FILE_FLAGS);
    } catch (err) {
      throw walkedOpenError(file, err, true);
    } finally {
      if (folder !== null && --folder.users === 0 && folder.dropped) fs.closeSync(folder.fd);
    }
    try {
      checkWalkedFile(file, seen, await handle.stat());
      return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Close the folders held open (each once no open waits on it); an open after this is refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const held of this.#held.values()) this.#drop(held);
    this.#held.clear();
    if (this.#rootHeld !== null) this.#drop(this.#rootHeld);
  }

  #closed = false;

  /** The folder that holds `rel` (null: open `file` by its path) and its name there. */
  #place(file: string, rel: string): { folder: Held | null; name: string } {
    // Its descriptors may be someone else's by now.
    if (this.#closed) throw new Error(`'${file}': the folder it was found in is no longer held (the transfer is over)`);
    if (this.#root === null) return { folder: null, name: rel };
    const slash = rel.lastIndexOf('/');
    try {
      return { folder: slash < 0 ? this.#rootHeld! : this.#hold(rel.slice(0, slash)), name: rel.slice(slash + 1) };
    } catch (err) {
      throw walkedOpenError(file, err, false);
    }
  }

  #hold(dir: string): Held {
    let held = this.#held.get(dir);
    if (held !== undefined) {
      // Most recently used last.
      this.#held.delete(dir);
      this.#held.set(dir, held);
      return held;
    }
    const slash = dir.lastIndexOf('/');
    const parent = slash < 0 ? this.#root! : this.#hold(dir.slice(0, slash)).fd;
    held = { fd: fs.openSync(`${PROC_FD}/${parent}/${dir.slice(slash + 1)}`, FOLDER_FLAGS), users: 0, dropped: false };
    this.#held.set(dir, held);
    if (this.#held.size > HELD_FOLDERS) {
      const [oldest, first] = this.#held.entries().next().value as [string, Held];
      this.#held.delete(oldest);
      this.#drop(first);
    }
    return held;
  }

  #drop(held: Held): void {
    held.dropped = true;
    if (held.users === 0) fs.closeSync(held.fd);
  }
}

