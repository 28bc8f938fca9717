/**
 * The served directory: every path a client names is resolved here, and nothing outside the
 * root is ever read, listed or written.
 *
 * "The server then refuses, with `ERR BAD_PATH`, any path that after decoding has a `..`
 * segment, a backslash, a NUL or other control character, or a drive letter; and with
 * `ERR FORBIDDEN` any path that leads, through symlinks, out of the served root, or that names
 * a partial file." (docs/protocol.md, Paths)
 *
 * Symlinks inside the root are followed as long as they lead to somewhere inside it. Because a
 * local user could swap a checked path for a symlink before we open it, opening is checked
 * again after the fact: the opened file must be the one that was checked (device and inode),
 * and on Linux the kernel's own name for the descriptor (/proc/self/fd/N) must be inside.
 */
import { constants as fsConstants } from 'node:fs';
import * as nodeFs from 'node:fs';
import * as nodeFsPromises from 'node:fs/promises';
import path from 'node:path';
import {
  BadRequestError,
  FileChangedError,
  ForbiddenError,
  InternalError,
  IsDirectoryError,
  NotDirectoryError,
  NotFoundError,
} from '../errors.js';
import { errnoCode, toStorageError } from './fs-errors.js';
import type { DirentLike, FileHandleLike, FsPromises, FsSync, StatsLike } from './fs-promises.js';
import { PathLocks } from './path-locks.js';
import { quotePath } from './quote-path.js';
import { utimesSeconds, wholeMilliseconds } from './mtime.js';
import { isPartName, partNameFor, toSegments } from './relative-path.js';
import { TimeSlice } from './time-slice.js';
import { UploadPart } from './upload-part.js';

export type EntryType = 'file' | 'dir';

export interface FileInfo {
  type: EntryType;
  /** Bytes; 0 for a folder. */
  size: number;
  /** Last modification, whole milliseconds since the Unix epoch (floored). */
  mtimeMs: number;
  /** Last change of the inode (content, name, mode), milliseconds: no client can set it. */
  ctimeMs: number;
  /** Permission bits (rwx for user, group, others); setuid, setgid and sticky are left out. */
  mode: number;
  dev: number;
  ino: number;
}

export interface ListEntry {
  /** Relative to the listed folder, '/'-separated. */
  path: string;
  type: EntryType;
  /** Bytes; null for a folder. */
  size: number | null;
  mtimeMs: number;
  mode: number;
}

export interface ListOptions {
  recursive?: boolean;
}

/** What a client may ask to set on a file or folder it creates. */
export interface AttributeOptions {
  mtimeMs?: number;
  /** Permission bits; anything above 0o777 (setuid, setgid, sticky) is dropped. */
  mode?: number;
}

export interface OpenedFile {
  handle: FileHandleLike;
  /** The opened file's own stat: the version whose bytes the handle reads. */
  info: FileInfo;
}

/** An open file, read with synchronous calls (the batch verbs). */
export interface OpenedFileSync {
  readonly info: FileInfo;
  /** The whole file, `info.size` bytes; FileChangedError if it was not that size when read. */
  readAll(): Buffer;
  /** As readAll, into `body` (exactly `info.size` bytes long). */
  readInto(body: Uint8Array): void;
  close(): void;
}

/** "If the file changes while it is sent (size or mtime moved)": `after` is another version than `before`. */
export function fileChanged(before: { size: number; mtimeMs: number }, after: StatsLike): boolean {
  return Number(after.size) !== before.size || wholeMilliseconds(Number(after.mtimeMs)) !== before.mtimeMs;
}

/** A batch upload's destination, its path checked once (uploadTargetSync). */
export interface UploadTarget {
  readonly segments: readonly string[];
  /** The path as shown in messages, and the lock's key. */
  readonly shown: string;
  /** What is there now: null for nothing. */
  readonly existing: FileInfo | null;
}

/**
 * What one batch request learned about folders: the real path of each folder it resolved and
 * checked, so many files in one folder cost one resolution, not one each. Valid for one
 * request only: ServedRoot.releaseFolders closes what it holds when the request is over.
 */
export class FolderCache extends Map<string, KnownFolder> {
  /** Folders whose descriptor is held, oldest first (see ServedRoot's #entryBase). */
  readonly held: KnownFolder[] = [];
}

/** A folder a batch has resolved: its real path, and which folder that was (to see a swap). */
export interface KnownFolder {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** The folder held open, where /proc/self/fd lets its entries be named through it. */
  fd?: number;
}

/** Folder descriptors one batch holds at most (the least recently opened is closed first). */
const HELD_FOLDERS = 32;
const O_DIRECTORY = (fsConstants.O_DIRECTORY as number | undefined) ?? 0;

export interface ServedRootOptions {
  /** The file system to serve from; node:fs/promises by default (memfs in unit tests). */
  fs?: FsPromises;
  /**
   * Its synchronous side, for the batch verbs: node:fs by default, none when `fs` is injected
   * (the batch verbs then take the asynchronous path, file by file).
   */
  fsSync?: FsSync;
  /**
   * After opening a file, read /proc/self/fd/N to check that the kernel opened a file inside
   * the root. Default: on when `fs` is the real one; skipped where /proc/self/fd is missing.
   */
  verifyOpenedPath?: boolean;
  /**
   * Whether names starting with '.' (.git, .env, .ssh, .bashrc) are served, listed and may be
   * uploaded. Off by default: a shared folder's hidden files are rarely meant for the LAN,
   * and an upload of `.ssh/authorized_keys` or `.bashrc` is an attack more often than not.
   */
  dotfiles?: boolean;
}

// O_NOFOLLOW: a checked path whose last name was swapped for a symlink fails to open (ELOOP)
// instead of being followed. O_NONBLOCK: a FIFO swapped in cannot hang the open. Both are
// absent on Windows, where they are 0 and the other checks remain.
const O_NOFOLLOW = (fsConstants.O_NOFOLLOW as number | undefined) ?? 0;
const O_NONBLOCK = (fsConstants.O_NONBLOCK as number | undefined) ?? 0;
const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const PART_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | O_NOFOLLOW;
/** A batch upload writes its part whole, into a file it has just created. */
const NEW_PART_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW;
const PART_CREATE_MODE = 0o666;
const PERMISSION_BITS = 0o777;
/** Latest time a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15;
/** Errors fsync on a folder gives on systems that do not support it. */
const UNSYNCABLE_DIRECTORY = new Set([
  'EISDIR',
  'EINVAL',
  'EPERM',
  'EACCES',
  'ENOTSUP',
  'EBADF',
  'ENOSYS',
]);

function ignore(): void {}

function shownPath(requestPath: string): string {
  return quotePath(requestPath === '' ? '/' : requestPath);
}

/** Refuse an mtime or mode no file can have: BadRequestError. Exported so an upload is refused before its body. */
export function checkAttributes({ mtimeMs, mode }: AttributeOptions): void {
  if (mtimeMs !== undefined) {
    if (!Number.isSafeInteger(mtimeMs) || mtimeMs < 0 || mtimeMs > MAX_DATE_MS) {
      throw new BadRequestError(`mtime ${mtimeMs} is out of range`);
    }
  }
  if (mode !== undefined) {
    if (!Number.isSafeInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new BadRequestError(`mode ${mode} is not a permission mode`);
    }
  }
}

/** A name read from the disk that may be listed: no partial file, nothing toSegments refuses. */
function isListableName(name: string): boolean {
  if (isPartName(name)) return false;
  try {
    const segments = toSegments(name);
    return segments.length === 1 && segments[0] === name;
  } catch {
    return false;
  }
}

function direntName(dirent: DirentLike): string {
  return typeof dirent.name === 'string' ? dirent.name : dirent.name.toString('utf8');
}

/** Name order by UTF-8 bytes: the same on every platform and locale. */
function byName(a: { name: string }, b: { name: string }): number {
  return Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8'));
}

export class ServedRoot {
  /** The root, absolute and with symlinks resolved. Never shown to clients. */
  readonly rootPath: string;
  readonly #fs: FsPromises;
  readonly #verifyOpenedPath: boolean;
  /** Node's own fs (not an injected one): file descriptors are real and shareable. */
  readonly usesNodeFs: boolean;
  readonly #locks = new PathLocks();
  readonly #dotfiles: boolean;
  readonly #sync: FsSync | null;

  private constructor(
    rootPath: string,
    fs: FsPromises,
    verifyOpenedPath: boolean,
    usesNodeFs = false,
    dotfiles = false,
    sync: FsSync | null = null,
  ) {
    this.#sync = sync;
    this.usesNodeFs = usesNodeFs;
    this.#dotfiles = dotfiles;
    this.rootPath = rootPath;
    this.#fs = fs;
    this.#verifyOpenedPath = verifyOpenedPath;
  }

  static async open(rootDir: string, options: ServedRootOptions = {}): Promise<ServedRoot> {
    const fs = options.fs ?? nodeFsPromises;
    let rootPath: string;
    try {
      rootPath = String(await fs.realpath(path.resolve(rootDir)));
      const stats = await fs.stat(rootPath);
      if (!stats.isDirectory()) {
        throw new NotDirectoryError(`${quotePath(rootDir)} is not a folder`);
      }
    } catch (err) {
      throw toStorageError(err, rootDir);
    }
    let verify = options.verifyOpenedPath ?? options.fs === undefined;
    if (verify) {
      const hasProcFd = await fs.stat('/proc/self/fd').then(
        () => true,
        () => false,
      );
      verify = process.platform === 'linux' && hasProcFd;
    }
    const sync = options.fsSync ?? (options.fs === undefined ? (nodeFs as unknown as FsSync) : null);
    return new ServedRoot(rootPath, fs, verify, options.fs === undefined, options.dotfiles ?? false, sync);
  }

  /**
   * Whether the batch verbs may take the synchronous path: the calls are there (see
   * ServedRootOptions) and every opened file is checked where the kernel says it landed.
   * A batch resolves each folder once and then works through it for many files; without that
   * check (no /proc/self/fd), a folder swapped for a symlink meanwhile would be followed, so
   * there the batch verbs go file by file through the asynchronous path instead.
   */
  get batchesSync(): boolean {
    return this.#sync !== null && this.#verifyOpenedPath;
  }

  /** Whether opened files are checked through /proc/self/fd (see ServedRootOptions). */
  get verifiesOpenedPath(): boolean {
    return this.#verifyOpenedPath;
  }

  /**
   * The absolute path `requestPath` names, symlinks resolved as far as it exists. Throws
   * BadPathError for a path toSegments refuses, ForbiddenError for a partial file or a path
   * that leads out of the root.
   */
  async resolve(requestPath: string): Promise<string> {
    return this.#resolveSegments(this.#segments(requestPath), requestPath);
  }

  async stat(requestPath: string): Promise<FileInfo> {
    const target = await this.resolve(requestPath);
    return this.#infoOf(await this.#lstat(target, requestPath), requestPath);
  }

  /**
   * The entries of a folder, streamed: depth first, each folder before its contents, names in
   * UTF-8 byte order within a folder. Partial files, names toSegments refuses, other file types
   * and symlinks that lead out of the root are left out. A symlink inside the root is listed
   * as what it points to, but a symlinked folder is not descended into, so there are no loops.
   * Errors about the listed folder itself (not found, not a folder) come from the first next().
   */
  async *list(
    requestPath: string,
    options: ListOptions = {},
  ): AsyncGenerator<ListEntry, void, undefined> {
    const folder = await this.resolve(requestPath);
    const info = this.#infoOf(await this.#lstat(folder, requestPath), requestPath);
    if (info.type !== 'dir') {
      throw new NotDirectoryError(`${shownPath(requestPath)} is a file, not a folder`);
    }
    yield* this.#walk(folder, '', options.recursive === true, requestPath, true);
  }

  /**
   * Open a file for reading. Safe against the path being swapped for a symlink between the
   * check and the open: the handle is closed and ForbiddenError thrown if what was opened is
   * not what was checked, or (on Linux) not inside the root.
   */
  async openRead(requestPath: string): Promise<OpenedFile> {
    const target = await this.resolve(requestPath);
    const checked = this.#infoOf(await this.#lstat(target, requestPath), requestPath);
    if (checked.type === 'dir') throw new IsDirectoryError(`${shownPath(requestPath)} is a folder`);
    let handle: FileHandleLike;
    try {
      handle = await this.#fs.open(target, READ_FLAGS);
    } catch (err) {
      throw toStorageError(err, requestPath);
    }
    try {
      const info = this.#infoOf(await handle.stat(), requestPath);
      if (info.type === 'dir') throw new IsDirectoryError(`${shownPath(requestPath)} is a folder`);
      if (info.dev !== checked.dev || info.ino !== checked.ino) {
        throw new ForbiddenError(`${shownPath(requestPath)} changed while it was being opened`);
      }
      await this.#checkOpenedInside(handle, requestPath);
      return { handle, info };
    } catch (err) {
      await handle.close().catch(ignore);
      throw toStorageError(err, requestPath);
    }
  }

  /**
   * Create a folder and its parents ("a folder that exists already is fine"), every step
   * checked to stay inside the root. `mtimeMs` and `mode` apply to the last folder.
   */
  async mkdirs(requestPath: string, options: AttributeOptions = {}): Promise<void> {
    checkAttributes(options);
    const segments = this.#segments(requestPath);
    const folder = await this.#ensureDirectory(segments);
    // The root's own mode and mtime are the operator's, not a client's.
    if (segments.length === 0) return;
    const shown = segments.join('/');
    try {
      if (options.mode !== undefined) await this.#fs.chmod(folder, options.mode & PERMISSION_BITS);
      if (options.mtimeMs !== undefined) {
        await this.#fs.utimes(folder, new Date(), utimesSeconds(options.mtimeMs));
      }
    } catch (err) {
      throw toStorageError(err, shown);
    }
  }

  /**
   * Open (creating it and its folders if need be) the partial file for an upload to
   * `requestPath`. `size` says how much a previous attempt left there.
   */
  async openPart(requestPath: string): Promise<UploadPart> {
    const segments = this.#segments(requestPath);
    const name = segments.at(-1);
    if (name === undefined) throw new IsDirectoryError(`'/' is the served folder itself`);
    const shown = segments.join('/');
    const folder = await this.#ensureDirectory(segments.slice(0, -1));
    const destinationPath = path.join(folder, name);
    await this.#refuseFolder(destinationPath, shown);
    const partPath = path.join(folder, partNameFor(name));
    let handle: FileHandleLike;
    try {
      handle = await this.#fs.open(partPath, PART_FLAGS, PART_CREATE_MODE);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    try {
      let stats = await handle.stat();
      if (!stats.isFile()) {
        throw new ForbiddenError(`the partial upload of ${quotePath(shown)} is not a regular file`);
      }
      if (Number(stats.nlink) > 1) {
        // A part with another name elsewhere (a hard link planted under the part's name) is
        // not ours to resume or write through: start a new one.
        await handle.close();
        await this.#fs.unlink(partPath);
        handle = await this.#fs.open(partPath, PART_FLAGS | fsConstants.O_EXCL, PART_CREATE_MODE);
        stats = await handle.stat();
      }
      await this.#checkOpenedInside(handle, shown);
      return new UploadPart({
        handle,
        partPath,
        destinationPath,
        requestPath: shown,
        size: Number(stats.size),
      });
    } catch (err) {
      await handle.close().catch(ignore);
      throw toStorageError(err, shown);
    }
  }

  /**
   * Make an upload visible under its name: fsync the part, set its mode and mtime, rename it
   * onto `requestPath` (which replaces a symlink there rather than writing through it), and
   * fsync the folder so the rename survives a crash. The caller has verified the content.
   */
  async finalizePart(
    part: UploadPart,
    requestPath: string,
    options: AttributeOptions = {},
  ): Promise<void> {
    checkAttributes(options);
    const shown = this.#segments(requestPath).join('/');
    if (shown !== part.requestPath) {
      throw new InternalError(
        `the partial upload of ${quotePath(part.requestPath)} cannot become ${quotePath(shown)}`,
      );
    }
    const folder = path.dirname(part.partPath);
    let realFolder: string;
    try {
      realFolder = String(await this.#fs.realpath(folder));
    } catch (err) {
      throw toStorageError(err, shown);
    }
    // The folder may have been swapped for a symlink while the bytes came in.
    if (realFolder !== folder || !this.#contains(realFolder)) {
      throw new ForbiddenError(`the folder of ${quotePath(shown)} changed during the upload`);
    }
    await this.#refuseFolder(part.destinationPath, shown);
    try {
      if (options.mode !== undefined) await part.handle.chmod(options.mode & PERMISSION_BITS);
      if (options.mtimeMs !== undefined) {
        await part.handle.utimes(new Date(), utimesSeconds(options.mtimeMs));
      }
    } catch (err) {
      throw toStorageError(err, shown);
    }
    await part.sync();
    await part.close();
    try {
      await this.#fs.rename(part.partPath, part.destinationPath);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    await this.#syncFolder(folder, shown);
  }

  /** Close and delete a partial upload (after a checksum mismatch, or `DATA offset=0`). */
  async discardPart(part: UploadPart): Promise<void> {
    await part.close().catch(ignore);
    try {
      await this.#fs.unlink(part.partPath);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw toStorageError(err, part.requestPath);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Synchronous access, for the batch verbs: the same checks as above, with one folder
  // resolution per folder and request (FolderCache) instead of one per file.

  /**
   * Open a file to read, synchronously. As openRead: the last name is opened without
   * following a symlink (a symlink there is resolved and followed only if it leads inside),
   * and where the kernel says the descriptor landed must be inside the root.
   */
  openReadSync(requestPath: string, folders: FolderCache): OpenedFileSync {
    const sync = this.#requireSync();
    const segments = this.#segments(requestPath);
    const name = segments.at(-1);
    if (name === undefined) throw new IsDirectoryError(`${shownPath(requestPath)} is a folder`);
    const folder = this.#knownFolderSync(segments.slice(0, -1), requestPath, folders).path;
    const target = path.join(folder, name);
    let fd: number;
    try {
      fd = sync.openSync(target, READ_FLAGS);
    } catch (err) {
      if (errnoCode(err) !== 'ELOOP') throw toStorageError(err, requestPath);
      fd = this.#openThroughSymlinkSync(target, requestPath);
    }
    try {
      const info = this.#infoOf(sync.fstatSync(fd), requestPath);
      if (info.type === 'dir') throw new IsDirectoryError(`${shownPath(requestPath)} is a folder`);
      this.#checkOpenedInsideSync(fd, requestPath);
      return this.#syncReader(fd, info, requestPath);
    } catch (err) {
      sync.closeSync(fd);
      throw toStorageError(err, requestPath);
    }
  }

  /**
   * Where a batch upload to `requestPath` would go, checked, and what is there now (null:
   * nothing), with synchronous calls. The path is checked once here; the target then serves
   * for the lock and the store.
   */
  uploadTargetSync(requestPath: string, folders: FolderCache): UploadTarget {
    const segments = this.#segments(requestPath);
    const name = segments.at(-1);
    if (name === undefined) throw new IsDirectoryError(`'/' is the served folder itself`);
    const shown = segments.join('/');
    let folder: KnownFolder;
    try {
      folder = this.#knownFolderSync(segments.slice(0, -1), shown, folders);
    } catch (err) {
      if (err instanceof NotFoundError) return { segments, shown, existing: null };
      throw err;
    }
    // Still the folder that was resolved: what is looked at below is inside.
    const base = this.#entryBase(folder, shown, folders);
    let stats: StatsLike | undefined;
    try {
      stats = this.#sync!.lstatSync(path.join(base, name), { throwIfNoEntry: false });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw toStorageError(err, shown);
    }
    if (stats === undefined) return { segments, shown, existing: null };
    if (stats.isSymbolicLink()) {
      // What a symlink there leads to, if it leads inside; one that leads nowhere is nothing
      // (the rename replaces the symlink, never writes through it).
      let file: OpenedFileSync;
      try {
        file = this.openReadSync(requestPath, folders);
      } catch (err) {
        if (err instanceof NotFoundError) return { segments, shown, existing: null };
        throw err;
      }
      file.close();
      return { segments, shown, existing: file.info };
    }
    return { segments, shown, existing: this.#infoOf(stats, shown) };
  }

  /** The upload lock on a target (see tryLock). */
  tryLockTarget(target: UploadTarget): (() => void) | null {
    return this.#locks.tryLock(target.shown);
  }

  /**
   * Store a small upload whose content the caller has verified, synchronously: a part file
   * written whole, its mode and mtime, fsync, and a rename over the name (never over a
   * folder). The folder's fsync, which makes the rename durable, is left to the caller, once
   * per folder (syncFolderSync): `touched` collects the folders.
   */
  storeSync(
    target: UploadTarget,
    body: Uint8Array,
    options: AttributeOptions,
    folders: FolderCache,
    touched: Set<string>,
  ): void {
    checkAttributes(options);
    const sync = this.#requireSync();
    const { segments, shown } = target;
    const name = segments.at(-1)!;
    const folder = this.#ensureDirectorySync(segments.slice(0, -1), folders, touched);
    // Every step names its path through the folder's held descriptor (/proc/self/fd/N/name),
    // which no swap of the folder for a symlink can redirect; where that is not possible, each
    // step is preceded by a check that the folder is still the one resolved (see
    // docs/security.md for the moment between a check and the call after it).
    const base = this.#entryBase(folder, shown, folders);
    const destination = path.join(base, name);
    const partPath = path.join(base, partNameFor(name));
    // Created by this call (O_EXCL, O_NOFOLLOW): a regular file, nothing planted.
    const fd = this.#createPartSync(folder, partPath, shown);
    let open = true;
    try {
      this.#checkOpenedInsideSync(fd, shown);
      let done = 0;
      while (done < body.length) done += sync.writeSync(fd, body, done, body.length - done, done);
      if (options.mode !== undefined) sync.fchmodSync(fd, options.mode & PERMISSION_BITS);
      if (options.mtimeMs !== undefined) sync.futimesSync(fd, new Date(), utimesSeconds(options.mtimeMs));
      sync.fsyncSync(fd);
      open = false; // closed below, once: a failing close must not close a number reused since
      sync.closeSync(fd);
    } catch (err) {
      if (open) {
        try {
          sync.closeSync(fd);
        } catch {
          // The write's error is the one to report.
        }
      }
      this.#discardPartSync(folder, partPath);
      throw toStorageError(err, shown);
    }
    try {
      // The folder may have been swapped for a symlink while the bytes were written.
      this.#checkFolderSync(folder, shown);
      // An upload may replace a file or a symlink, never a folder (rename(2) refuses one too,
      // but with a less telling error).
      if (target.existing !== null && this.#isFolderSync(destination)) {
        throw new IsDirectoryError(`${quotePath(shown)} is a folder`);
      }
      sync.renameSync(partPath, destination);
    } catch (err) {
      this.#discardPartSync(folder, partPath);
      throw toStorageError(err, shown);
    }
    touched.add(folder.path);
  }

  /**
   * A new part file, created here and now (O_EXCL): whatever an earlier attempt left under
   * its name is removed first, never written through (it could be a hard link to a file
   * elsewhere, or something else planted there).
   */
  #createPartSync(folder: KnownFolder, partPath: string, shown: string): number {
    const sync = this.#sync!;
    for (let attempt = 0; ; attempt++) {
      try {
        return sync.openSync(partPath, NEW_PART_FLAGS, PART_CREATE_MODE);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw toStorageError(err, shown);
        if (attempt > 0) {
          throw new InternalError(`cannot create the partial upload of ${quotePath(shown)}: something keeps appearing under its name`, { cause: err });
        }
        this.#checkFolderSync(folder, shown);
        this.#unlinkQuietlySync(partPath);
      }
    }
  }

  /** Remove a part this call created, if its folder is still the one resolved (else leave it). */
  #discardPartSync(folder: KnownFolder, partPath: string): void {
    try {
      this.#checkFolderSync(folder, '');
    } catch {
      return;
    }
    this.#unlinkQuietlySync(partPath);
  }

  /**
   * fsync a folder, so the renames in it survive a crash (where the platform allows). A folder
   * that is gone is an error too: what was renamed into it is gone with it.
   */
  syncFolderSync(folder: string): void {
    const sync = this.#requireSync();
    const shown = path.relative(this.rootPath, folder);
    let fd: number;
    try {
      fd = sync.openSync(folder, 'r');
    } catch (err) {
      if (UNSYNCABLE_DIRECTORY.has(errnoCode(err) ?? '')) return;
      throw toStorageError(err, shown);
    }
    try {
      sync.fsyncSync(fd);
    } catch (err) {
      if (!UNSYNCABLE_DIRECTORY.has(errnoCode(err) ?? '')) throw toStorageError(err, shown);
    } finally {
      sync.closeSync(fd);
    }
  }

  #requireSync(): FsSync {
    if (this.#sync === null) throw new InternalError('no synchronous file system to serve batches from');
    return this.#sync;
  }

  #syncReader(fd: number, info: FileInfo, requestPath: string): OpenedFileSync {
    const sync = this.#sync!;
    const read = (buffer: Uint8Array, offset: number, length: number, position: number) => {
      try {
        return sync.readSync(fd, buffer, offset, length, position);
      } catch (err) {
        throw toStorageError(err, requestPath);
      }
    };
    const changed = () => {
      try {
        return fileChanged(info, sync.fstatSync(fd));
      } catch (err) {
        throw toStorageError(err, requestPath);
      }
    };
    const readInto = (body: Uint8Array) => {
      let got = 0;
      for (let n = 1; got < info.size && n > 0; got += n) n = read(body, got, info.size - got, got);
      if (got < info.size || changed()) {
        throw new FileChangedError(`${shownPath(requestPath)} changed while it was being read: try again`);
      }
    };
    return {
      info,
      readAll: () => {
        const body = Buffer.allocUnsafe(info.size);
        readInto(body);
        return body;
      },
      readInto,
      close: () => sync.closeSync(fd),
    };
  }

  /** The real path of the folder `segments` names, checked to be inside; from `folders` if known. */
  #knownFolderSync(segments: readonly string[], requestPath: string, folders: FolderCache): KnownFolder {
    const key = segments.join('/');
    const known = folders.get(key);
    if (known !== undefined) return known;
    let real: string;
    try {
      real = String(this.#sync!.realpathSync(path.join(this.rootPath, ...segments)));
    } catch (err) {
      throw toStorageError(err, requestPath);
    }
    this.#checkInside(real, requestPath);
    return this.#remember(folders, key, real, requestPath);
  }

  /** Note a resolved folder, with the identity that shows a later swap. */
  #remember(folders: FolderCache, key: string, real: string, shown: string, stats?: StatsLike): KnownFolder {
    let seen = stats;
    try {
      seen ??= this.#sync!.lstatSync(real)!;
    } catch (err) {
      throw toStorageError(err, shown);
    }
    if (!seen.isDirectory()) throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
    const folder = { path: real, dev: Number(seen.dev), ino: Number(seen.ino) };
    folders.set(key, folder);
    return folder;
  }

  /**
   * Where to name entries of `folder`: `/proc/self/fd/N` for the folder held open (checked to
   * be the folder resolved, and inside), where opened files are verified through /proc;
   * otherwise its path, after a check that it is still the folder resolved.
   */
  #entryBase(folder: KnownFolder, shown: string, folders: FolderCache): string {
    if (!this.#verifyOpenedPath) {
      this.#checkFolderSync(folder, shown);
      return folder.path;
    }
    if (folder.fd === undefined) {
      const sync = this.#sync!;
      let fd: number;
      try {
        fd = sync.openSync(folder.path, fsConstants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (err) {
        throw new ForbiddenError(`the folder of ${quotePath(shown)} changed while the batch was working in it`, { cause: err });
      }
      try {
        const now = sync.fstatSync(fd);
        if (!now.isDirectory() || Number(now.dev) !== folder.dev || Number(now.ino) !== folder.ino) {
          throw new ForbiddenError(`the folder of ${quotePath(shown)} changed while the batch was working in it`);
        }
        this.#checkOpenedInsideSync(fd, shown);
      } catch (err) {
        sync.closeSync(fd);
        throw err;
      }
      if (folders.held.length >= HELD_FOLDERS) this.#release(folders.held.shift()!);
      folder.fd = fd;
      folders.held.push(folder);
    }
    return `/proc/self/fd/${folder.fd}`;
  }

  #release(folder: KnownFolder): void {
    if (folder.fd === undefined) return;
    const fd = folder.fd;
    folder.fd = undefined;
    try {
      this.#sync!.closeSync(fd);
    } catch {
      // Nothing to do about a failed close of a folder opened read-only.
    }
  }

  /** Close the folders a batch request held open (call once the request is over). */
  releaseFolders(folders: FolderCache): void {
    for (const folder of folders.held.splice(0)) this.#release(folder);
  }

  /** Run one batch request with a FolderCache of its own, released when it is over. */
  async withFolders<T>(run: (folders: FolderCache) => Promise<T>): Promise<T> {
    const folders = new FolderCache();
    try {
      return await run(folders);
    } finally {
      this.releaseFolders(folders);
    }
  }

  /** The folder is still the one that was resolved (not swapped for a symlink or another folder). */
  #checkFolderSync(folder: KnownFolder, shown: string): void {
    if (folder.fd !== undefined) return; // named through its descriptor: a swap cannot redirect
    let now: StatsLike | undefined;
    try {
      now = this.#sync!.lstatSync(folder.path, { throwIfNoEntry: false });
    } catch {
      now = undefined;
    }
    if (now === undefined || !now.isDirectory() || Number(now.dev) !== folder.dev || Number(now.ino) !== folder.ino) {
      throw new ForbiddenError(`the folder of ${quotePath(shown)} changed while the batch was working in it`);
    }
  }

  /** The last name of `target` is a symlink: open what it leads to, if that is inside. */
  #openThroughSymlinkSync(target: string, requestPath: string): number {
    const sync = this.#sync!;
    let real: string;
    try {
      real = String(sync.realpathSync(target));
    } catch (err) {
      throw toStorageError(err, requestPath);
    }
    this.#checkInside(real, requestPath);
    try {
      return sync.openSync(real, READ_FLAGS);
    } catch (err) {
      throw toStorageError(err, requestPath);
    }
  }

  /**
   * As #ensureDirectory, synchronously, remembering each folder in `folders`. A folder it
   * creates goes into `touched` with its parent: their fsyncs make the new entries durable.
   */
  #ensureDirectorySync(segments: readonly string[], folders: FolderCache, touched: Set<string>): KnownFolder {
    const sync = this.#sync!;
    let current: KnownFolder = folders.get('') ?? this.#remember(folders, '', this.rootPath, '/');
    for (let index = 0; index < segments.length; index++) {
      const shown = segments.slice(0, index + 1).join('/');
      const known = folders.get(shown);
      if (known !== undefined) {
        current = known;
        continue;
      }
      const next = path.join(current.path, segments[index]!);
      let seen: StatsLike | null = null;
      try {
        seen = sync.lstatSync(next, { throwIfNoEntry: false }) ?? null;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw toStorageError(err, shown);
      }
      if (seen?.isDirectory()) {
        current = this.#remember(folders, shown, next, shown, seen);
      } else if (seen === null && this.#mkdirSync(next, shown)) {
        touched.add(current.path);
        current = this.#remember(folders, shown, next, shown);
        touched.add(next);
      } else {
        current = this.#remember(folders, shown, this.#existingFolderSync(next, shown), shown);
      }
    }
    return current;
  }

  /** mkdir; false if something is there already. */
  #mkdirSync(absolute: string, shown: string): boolean {
    try {
      this.#sync!.mkdirSync(absolute);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw toStorageError(err, shown);
    }
  }

  /** As #existingFolder, synchronously. */
  #existingFolderSync(absolute: string, shown: string): string {
    const sync = this.#sync!;
    try {
      const stats = sync.lstatSync(absolute)!;
      if (stats.isDirectory()) return absolute;
      if (!stats.isSymbolicLink()) throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
      const real = String(sync.realpathSync(absolute));
      this.#checkInside(real, shown);
      if (!sync.lstatSync(real)!.isDirectory()) throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
      return real;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new NotDirectoryError(`${quotePath(shown)} is a symlink that leads nowhere`, { cause: err });
      }
      throw toStorageError(err, shown);
    }
  }

  #isFolderSync(absolute: string): boolean {
    try {
      return this.#sync!.statSync(absolute).isDirectory();
    } catch {
      return false; // nothing there, or a symlink to nowhere: the rename takes the name
    }
  }

  #unlinkQuietlySync(absolute: string): void {
    try {
      this.#sync!.unlinkSync(absolute);
    } catch {
      // Already gone, or the folder went: nothing to clean.
    }
  }

  #checkOpenedInsideSync(fd: number, requestPath: string): void {
    if (!this.#verifyOpenedPath) return;
    let opened: string | Error;
    try {
      opened = String(this.#sync!.readlinkSync(`/proc/self/fd/${fd}`));
    } catch (err) {
      opened = err as Error;
    }
    this.#judgeOpened(opened, requestPath);
  }


  /**
   * Take the upload lock on `requestPath`: its release function, or null while another upload
   * to the same path holds it (the server answers BusyError).
   */
  tryLock(requestPath: string): (() => void) | null {
    return this.#locks.tryLock(this.#segments(requestPath).join('/'));
  }

  #segments(requestPath: string): string[] {
    const segments = toSegments(requestPath);
    if (segments.some(isPartName)) {
      throw new ForbiddenError(`${shownPath(requestPath)} names a partial upload`);
    }
    if (!this.#dotfiles && segments.some((segment) => segment.startsWith('.'))) {
      throw new ForbiddenError(`${shownPath(requestPath)}: hidden files are not shared (serve --dotfiles to share them)`);
    }
    return segments;
  }

  #contains(absolute: string): boolean {
    if (absolute === this.rootPath) return true;
    // A plain prefix test would let the sibling '/srv/data-evil' pass for the root '/srv/data'.
    const prefix = this.rootPath.endsWith(path.sep) ? this.rootPath : this.rootPath + path.sep;
    return absolute.startsWith(prefix);
  }

  /** Throws ForbiddenError unless `real` (symlinks resolved) is inside and no partial file. */
  #checkInside(real: string, requestPath: string): void {
    if (!this.#contains(real)) {
      throw new ForbiddenError(`${shownPath(requestPath)} leads outside the served folder`);
    }
    // A symlink inside the root may point at a partial file.
    if (path.relative(this.rootPath, real).split(path.sep).some(isPartName)) {
      throw new ForbiddenError(`${shownPath(requestPath)} leads to a partial upload`);
    }
  }

  async #resolveSegments(segments: string[], requestPath: string): Promise<string> {
    // Resolve the longest prefix that exists; what does not exist yet cannot be a symlink.
    for (let length = segments.length; length >= 0; length--) {
      const lexical = path.join(this.rootPath, ...segments.slice(0, length));
      let real: string;
      try {
        real = String(await this.#fs.realpath(lexical));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT' && length > 0) continue;
        throw toStorageError(err, requestPath);
      }
      this.#checkInside(real, requestPath);
      return path.join(real, ...segments.slice(length));
    }
    throw new InternalError(`cannot resolve ${shownPath(requestPath)}`);
  }

  async #lstat(absolute: string, requestPath: string): Promise<StatsLike> {
    try {
      return await this.#fs.lstat(absolute);
    } catch (err) {
      throw toStorageError(err, requestPath);
    }
  }

  #infoOf(stats: StatsLike, requestPath: string): FileInfo {
    const isFile = stats.isFile();
    if (!isFile && !stats.isDirectory()) {
      // Resolved paths hold no symlinks; one here was swapped in after the check.
      throw new ForbiddenError(
        stats.isSymbolicLink()
          ? `${shownPath(requestPath)} was swapped for a symlink while it was being checked`
          : `${shownPath(requestPath)} is not a regular file or folder`,
      );
    }
    return {
      type: isFile ? 'file' : 'dir',
      size: isFile ? Number(stats.size) : 0,
      mtimeMs: wholeMilliseconds(Number(stats.mtimeMs)),
      ctimeMs: Number(stats.ctimeMs),
      mode: Number(stats.mode) & PERMISSION_BITS,
      dev: Number(stats.dev),
      ino: Number(stats.ino),
    };
  }

  async #checkOpenedInside(handle: FileHandleLike, requestPath: string): Promise<void> {
    if (!this.#verifyOpenedPath) return;
    const opened = await this.#fs.readlink(`/proc/self/fd/${handle.fd}`).then(String, (err: unknown) => err as Error);
    this.#judgeOpened(opened, requestPath);
  }

  /**
   * Where the kernel says a descriptor landed (the target of /proc/self/fd/N, or the error
   * reading it): inside the root, or ForbiddenError. Both kinds of open come here.
   */
  #judgeOpened(opened: string | Error, requestPath: string): void {
    if (opened instanceof Error) {
      throw new InternalError(`cannot check where ${shownPath(requestPath)} was opened`, { cause: opened });
    }
    if (!this.#contains(opened)) {
      throw new ForbiddenError(`${shownPath(requestPath)} leads outside the served folder`);
    }
  }


  async *#walk(
    folder: string,
    prefix: string,
    recursive: boolean,
    requestPath: string,
    top: boolean,
  ): AsyncGenerator<ListEntry, void, undefined> {
    let dirents: ReadonlyArray<DirentLike | string | Buffer>;
    try {
      // A subfolder swapped for a symlink since it was seen is not followed.
      if (!top && String(await this.#fs.realpath(folder)) !== folder) return;
      dirents = await this.#fs.readdir(folder, { withFileTypes: true });
    } catch (err) {
      if (top) throw toStorageError(err, requestPath);
      return; // A subfolder that vanished or cannot be read: list the rest.
    }
    // One folder's names at a time: memory grows with depth × width, not with the tree.
    const children: Array<{ name: string; dirent: DirentLike }> = [];
    for (const dirent of dirents) {
      if (typeof dirent === 'string' || Buffer.isBuffer(dirent)) continue;
      const name = direntName(dirent);
      if (isListableName(name) && (this.#dotfiles || !name.startsWith('.'))) children.push({ name, dirent });
    }
    children.sort(byName);
    const slice = new TimeSlice();
    for (const { name, dirent } of children) {
      await slice.yieldIfDue();
      const child = await this.#describe(path.join(folder, name), dirent);
      if (child === null) continue;
      const entryPath = prefix + name;
      yield {
        path: entryPath,
        type: child.info.type,
        size: child.info.type === 'file' ? child.info.size : null,
        mtimeMs: child.info.mtimeMs,
        mode: child.info.mode,
      };
      if (recursive && child.info.type === 'dir' && !child.viaSymlink) {
        yield* this.#walk(path.join(folder, name), `${entryPath}/`, true, requestPath, false);
      }
    }
  }

  /** A listed entry's info, or null if it is not to be listed. */
  async #describe(
    absolute: string,
    dirent: DirentLike,
  ): Promise<{ info: FileInfo; viaSymlink: boolean } | null> {
    try {
      let stats: StatsLike;
      let viaSymlink = false;
      // A listing of many files is a stream of tiny lstat calls: synchronous where possible
      // (a thread-pool round trip costs more than the call).
      const lstat = async (at: string) => (this.#sync ? this.#sync.lstatSync(at)! : await this.#fs.lstat(at));
      if (dirent.isSymbolicLink()) {
        const real = String(await this.#fs.realpath(absolute));
        this.#checkInside(real, '');
        stats = await lstat(real);
        viaSymlink = true;
      } else {
        stats = await lstat(absolute);
      }
      if (!stats.isFile() && !stats.isDirectory()) return null;
      return { info: this.#infoOf(stats, ''), viaSymlink };
    } catch {
      // Gone since readdir, a dangling symlink, or one that leads out: not listed.
      return null;
    }
  }

  async #ensureDirectory(segments: string[]): Promise<string> {
    let current = this.rootPath;
    // A folder made here is durable once the folder holding its name is fsynced.
    const madeIn: { folder: string; shown: string }[] = [];
    for (let index = 0; index < segments.length; index++) {
      const next = path.join(current, segments[index]!);
      const shown = segments.slice(0, index + 1).join('/');
      // Most uploads land in folders that exist: one lstat says so. A real folder (not a
      // symlink) is taken as is; anything else goes through the full check below.
      const seen = await this.#fs.lstat(next).catch(() => null);
      if (seen?.isDirectory()) {
        current = next;
        continue;
      }
      if (seen === null) {
        try {
          await this.#fs.mkdir(next);
          madeIn.push({ folder: current, shown });
          current = next;
          continue;
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw toStorageError(err, shown);
        }
      }
      current = await this.#existingFolder(next, shown);
    }
    for (const { folder, shown } of madeIn) await this.#syncFolder(folder, shown);
    return current;
  }

  /** `absolute` exists: its real path if it is a folder inside the root, else an error. */
  async #existingFolder(absolute: string, shown: string): Promise<string> {
    const stats = await this.#lstat(absolute, shown);
    if (stats.isDirectory()) return absolute;
    if (!stats.isSymbolicLink()) {
      throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
    }
    let real: string;
    try {
      real = String(await this.#fs.realpath(absolute));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new NotDirectoryError(`${quotePath(shown)} is a symlink that leads nowhere`, {
          cause: err,
        });
      }
      throw toStorageError(err, shown);
    }
    this.#checkInside(real, shown);
    if (!(await this.#lstat(real, shown)).isDirectory()) {
      throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
    }
    return real;
  }

  /** An upload may replace a file or a symlink, never a folder. */
  async #refuseFolder(absolute: string, shown: string): Promise<void> {
    let stats: StatsLike;
    try {
      stats = await this.#fs.stat(absolute);
    } catch {
      return; // Nothing there, or a symlink to nowhere: the rename takes the name.
    }
    if (stats.isDirectory()) throw new IsDirectoryError(`${quotePath(shown)} is a folder`);
  }

  /** fsync a folder, so a rename in it survives a crash. Not every platform allows it. */
  async #syncFolder(folder: string, shown: string): Promise<void> {
    let handle: FileHandleLike;
    try {
      handle = await this.#fs.open(folder, 'r');
    } catch (err) {
      if (UNSYNCABLE_DIRECTORY.has(errnoCode(err) ?? '')) return;
      throw toStorageError(err, shown);
    }
    try {
      if (handle.sync) await handle.sync();
      else await handle.datasync();
    } catch (err) {
      if (!UNSYNCABLE_DIRECTORY.has(errnoCode(err) ?? '')) throw toStorageError(err, shown);
    } finally {
      await handle.close().catch(ignore);
    }
  }
}
