/**
 * The served folder: the one confinement boundary. Every verb (GET, PUT, MGET, MPUT, LIST,
 * STAT, HASH, MKDIR, DELETE, SYMLINK, and HTTP's) reads, lists and writes through a Root, and
 * nothing outside it is ever read, listed or written.
 *
 * "The server then refuses, with `ERR BAD_PATH`, any path that after decoding has a `..`
 * segment, a backslash, a NUL or other control character, or a drive letter; and with
 * `ERR FORBIDDEN` any path that leads, through symlinks, out of the served root, or that names
 * a partial file." (docs/protocol.md, Paths)
 *
 * Each method normalises the untrusted name (toSegments), walks to its folder one name at a
 * time from the root (folders.ts: held open on Linux, so a folder swapped for a symlink cannot
 * redirect a call), and only then calls on the last name, without following it. A symlink
 * inside the root is followed as long as its real path is inside; what is opened through one
 * is checked again where the kernel says it landed.
 */
import * as nodeFs from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import {
  BadRequestError,
  ForbiddenError,
  IsDirectoryError,
  NotDirectoryError,
  NotFoundError,
} from '../../errors.js';
import { fsyncFolder, isPartName, toSegments, utimesSeconds, wholeMilliseconds, type FolderSyncFs } from '../../files/index.js';
import { quotePath, quoteRequestPath } from '../../files/quote-path.js';
import { errnoCode, toStorageError } from './fs-errors.js';
import type { RootFs, StatsLike } from './fs-port.js';
import { openAt, renameAt } from '../../files/native-folder.js';
import { CheckedFolders, FolderScope, HeldFolders, identityOf, O_NOFOLLOW, PROC_FD, type Folder, type FolderAccess } from './folders.js';
import { listFolder, type ListEntry, type ListOptions } from './listing.js';
import { OpenFile } from './open-file.js';
import { TimeSlice } from './time-slice.js';

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

/** A file opened to read: its descriptor, and the opened file's own stat. */
export interface OpenedFile {
  readonly file: OpenFile;
  readonly info: FileInfo;
}

/** What a client may ask to set on a file or folder it creates. */
export interface AttributeOptions {
  mtimeMs?: number;
  /** Permission bits; anything above 0o777 (setuid, setgid, sticky) is dropped. */
  mode?: number;
}

export interface RootOptions {
  /** The file system to serve from: node:fs by default (memfs, or a fault-injecting wrapper, in tests). */
  fs?: RootFs;
  /**
   * Hold folders open and name entries through /proc/<pid>/fd (see folders.ts). Default: on
   * Linux where the file system reaches /proc/<pid>/fd (node:fs, not memfs); otherwise folders
   * are checked before each call.
   */
  heldFolders?: boolean;
  /**
   * Whether names starting with '.' (.git, .env, .ssh, .bashrc) are served, listed and may be
   * uploaded. Off by default: a shared folder's hidden files are rarely meant for the LAN,
   * and an upload of `.ssh/authorized_keys` or `.bashrc` is an attack more often than not.
   */
  dotfiles?: boolean;
  /**
   * What the folder is called in a refusal ("leads outside the served folder"): the client's
   * destination is a Root too (transfer/local-file.ts), and its user is told so in its words.
   */
  called?: string;
}

// O_NONBLOCK: a FIFO swapped in cannot hang the open. Absent on Windows (0).
const O_NONBLOCK = (fsConstants.O_NONBLOCK as number | undefined) ?? 0;
export const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const PERMISSION_BITS = 0o777;
/** Latest time a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15;

function reaches(fs: RootFs, where: string): boolean {
  try {
    return fs.statSync(where).isDirectory();
  } catch {
    return false;
  }
}

/** Refuse an mtime or mode no file can have: BadRequestError. Checked before an upload's body. */
export function checkAttributes({ mtimeMs, mode }: AttributeOptions): void {
  if (mtimeMs !== undefined && (!Number.isSafeInteger(mtimeMs) || mtimeMs < 0 || mtimeMs > MAX_DATE_MS)) {
    throw new BadRequestError(`mtime ${mtimeMs} is out of range`);
  }
  if (mode !== undefined && (!Number.isSafeInteger(mode) || mode < 0 || mode > 0o7777)) {
    throw new BadRequestError(`mode ${mode} is not a permission mode`);
  }
}

/** A stat as FileInfo; ForbiddenError for anything but a regular file or a folder. */
export function infoOf(stats: StatsLike, requestPath: string): FileInfo {
  const isFile = stats.isFile();
  if (!isFile && !stats.isDirectory()) {
    throw new ForbiddenError(
      stats.isSymbolicLink()
        ? `${quoteRequestPath(requestPath)} was swapped for a symlink while it was being checked`
        : `${quoteRequestPath(requestPath)} is not a regular file or folder`,
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

/** Set mode and mtime on an open descriptor (never on a path, which a swap could redirect). */
export function applyAttributes(fs: RootFs, fd: number, options: AttributeOptions): void {
  if (options.mode !== undefined) fs.fchmodSync(fd, options.mode & PERMISSION_BITS);
  if (options.mtimeMs !== undefined) fs.futimesSync(fd, Date.now() / 1000, utimesSeconds(options.mtimeMs));
}

/** An entry of a folder, as lstat saw it: what `Root.entry` found at a name. */
export interface Entry {
  readonly folder: Folder;
  readonly name: string;
  /** The path as the client named it, normalised ('a/b.txt'); for messages and locks. */
  readonly shown: string;
  /** The name's own lstat; undefined where nothing is. */
  readonly stats: StatsLike | undefined;
}

export class Root {
  /** The root, absolute and with symlinks resolved. Never shown to clients. */
  readonly rootPath: string;
  readonly fs: RootFs;
  readonly #access: FolderAccess;
  readonly #dotfiles: boolean;
  /** The fs is node's own: descriptors are the kernel's, and a worker thread may use them. */
  readonly kernelFds: boolean;
  /** The event loop's share that all batch work on this root (listings, MGET, MPUT, DELETE) takes together. */
  readonly workSlice = new TimeSlice();

  readonly #called: string;

  private constructor(rootPath: string, fs: RootFs, held: boolean, dotfiles: boolean, called: string) {
    this.rootPath = rootPath;
    this.fs = fs;
    this.#dotfiles = dotfiles;
    this.#called = called;
    this.kernelFds = fs === (nodeFs as unknown as RootFs);
    this.#access = held ? new HeldFolders(fs, (p) => this.#contains(p), called) : new CheckedFolders(fs);
  }

  static async open(rootDir: string, options: RootOptions = {}): Promise<Root> {
    const fs = options.fs ?? (nodeFs as unknown as RootFs);
    let rootPath: string;
    try {
      rootPath = String(fs.realpathSync(path.resolve(rootDir)));
      if (!fs.statSync(rootPath).isDirectory()) throw new NotDirectoryError(`${quotePath(rootDir)} is not a folder`);
    } catch (err) {
      throw toStorageError(err, rootDir);
    }
    const held = PROC_FD !== null && (options.heldFolders ?? reaches(fs, PROC_FD));
    return new Root(rootPath, fs, held, options.dotfiles ?? false, options.called ?? 'the served folder');
  }

  /** Whether folders are held open and their entries named through /proc/<pid>/fd (see folders.ts). */
  get holdsFolders(): boolean {
    return this.#access instanceof HeldFolders;
  }

  // -------------------------------------------------------------------------------------------
  // What the verbs use (and the HTTP front): stat, openRead, list, mkdirs; uploads, DELETE and
  // SYMLINK are in uploads.ts, delete.ts and symlinks.ts, on the steps below.

  /** What is at a path (a symlink inside followed): FileInfo; NotFound, Forbidden... as for any path. */
  stat(requestPath: string, scope?: FolderScope): FileInfo {
    return this.#in(scope, (s) => {
      const segments = this.segments(requestPath);
      if (segments.length === 0) return infoOf(this.fs.lstatSync(this.rootPath)!, requestPath);
      const entry = this.entry(segments, s, false);
      if (entry.stats === undefined) throw new NotFoundError(`no such file or folder ${quoteRequestPath(entry.shown)}`);
      if (!entry.stats.isSymbolicLink()) return infoOf(entry.stats, requestPath);
      return infoOf(this.#followed(entry, s).stats, requestPath);
    });
  }

  /**
   * Open a file for reading. The last name is opened without following a symlink; a symlink
   * there is resolved, and followed only if it leads inside (checked again after the open).
   */
  openRead(requestPath: string, scope?: FolderScope): OpenedFile {
    return this.#in(scope, (s) => {
      const segments = this.segments(requestPath);
      if (segments.length === 0) throw new IsDirectoryError(`${quoteRequestPath(requestPath)} is a folder`);
      const { folder, name, shown } = this.entry(segments, s, false, false);
      let fd: number;
      try {
        fd = this.openIn(folder, name, READ_FLAGS, 0, s, shown);
      } catch (err) {
        if (errnoCode(err) !== 'ELOOP') throw toStorageError(err, requestPath);
        fd = this.#openFollowed(folder, name, shown, s);
      }
      try {
        this.#access.confirm(folder, shown);
        // A folder held open may have been moved out of the root since it was resolved.
        this.#access.checkLanded(fd, shown);
        const info = infoOf(this.fs.fstatSync(fd), requestPath);
        if (info.type === 'dir') throw new IsDirectoryError(`${quoteRequestPath(requestPath)} is a folder`);
        return { file: new OpenFile(this.fs, fd, this.kernelFds ? fd : null), info };
      } catch (err) {
        this.fs.closeSync(fd);
        throw toStorageError(err, requestPath);
      }
    });
  }

  /** The entries of a folder, streamed in batches (listing.ts). */
  listBatches(requestPath: string, options: ListOptions = {}): AsyncGenerator<ListEntry[], void, undefined> {
    return listFolder(this, requestPath, options);
  }

  /** The entries of a folder, streamed one by one. */
  async *list(requestPath: string, options: ListOptions = {}): AsyncGenerator<ListEntry, void, undefined> {
    for await (const batch of listFolder(this, requestPath, options)) yield* batch;
  }

  /**
   * Create a folder and its parents ("a folder that exists already is fine"), every step
   * inside the root; `mtimeMs` and `mode` go to the last folder, set on its descriptor.
   */
  mkdirs(requestPath: string, options: AttributeOptions = {}): void {
    checkAttributes(options);
    const segments = this.segments(requestPath);
    // The root's own mode and mtime are the operator's, not a client's.
    if (segments.length === 0) return;
    const shown = segments.join('/');
    this.withScope((scope) => {
      const touched = new Set<Folder>();
      const folder = this.folder(segments, scope, true, touched);
      if (options.mode !== undefined || options.mtimeMs !== undefined) {
        const fd = this.#openFolderFd(folder, scope, shown);
        try {
          applyAttributes(this.fs, fd, options);
        } catch (err) {
          throw toStorageError(err, shown);
        } finally {
          this.fs.closeSync(fd);
        }
      }
      for (const made of touched) this.syncFolder(made, scope, shown);
    });
  }

  /**
   * Run `work` with a FolderScope of its own, closed when it is over (or when the promise it
   * returns settles): one per request, or one per batch request.
   */
  withScope<T>(work: (scope: FolderScope) => T): T {
    const scope = this.newScope();
    let result: T;
    try {
      result = work(scope);
    } catch (err) {
      scope.close();
      throw err;
    }
    if (result instanceof Promise) return result.finally(() => scope.close()) as T;
    scope.close();
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // The steps the other modules of this folder (uploads, listing, delete, symlinks) build on.

  newScope(): FolderScope {
    return new FolderScope(this.fs);
  }

  /** A request path's segments: BadPathError from toSegments; ForbiddenError for a partial file or a hidden name. */
  segments(requestPath: string): string[] {
    const segments = toSegments(requestPath);
    if (segments.some(isPartName)) throw new ForbiddenError(`${quoteRequestPath(requestPath)} names a partial upload`);
    if (!this.#dotfiles && segments.some((segment) => segment.startsWith('.'))) {
      throw new ForbiddenError(`${quoteRequestPath(requestPath)}: hidden files are not shared (serve --dotfiles to share them)`);
    }
    return segments;
  }

  /** Whether a name read from the disk may be listed: not a partial file, hidden only with dotfiles. */
  listable(name: string): boolean {
    if (isPartName(name) || (!this.#dotfiles && name.startsWith('.'))) return false;
    try {
      const segments = toSegments(name);
      return segments.length === 1 && segments[0] === name;
    } catch {
      return false;
    }
  }

  /**
   * The entry `segments` names: its folder resolved (and created, with `create`; the folders
   * made go into `touched` with their parents, whose fsyncs make them durable), and what is
   * there now (`stats`: the name's own lstat, a symlink not followed). With `look` false the
   * name is not looked at.
   */
  entry(segments: readonly string[], scope: FolderScope, create: boolean, look = true, touched?: Set<Folder>): Entry {
    const name = segments.at(-1);
    if (name === undefined) throw new IsDirectoryError(`'/' is the served folder itself`);
    const shown = segments.join('/');
    let folder: Folder;
    try {
      folder = this.folder(segments.slice(0, -1), scope, create, touched);
    } catch (err) {
      // Say which path was asked for, not only the folder that is missing.
      if (err instanceof NotFoundError) throw new NotFoundError(`no such file or folder ${quoteRequestPath(shown)}`, { cause: err });
      throw err;
    }
    if (!look) return { folder, name, shown, stats: undefined };
    let stats: StatsLike | undefined;
    try {
      stats = this.fs.lstatSync(this.#access.at(folder, name, scope, shown), { throwIfNoEntry: false });
    } catch (err) {
      throw toStorageError(err, shown);
    }
    return { folder, name, shown, stats };
  }

  /** The folder `segments` names, resolved one name at a time from the root (see folders.ts). */
  folder(segments: readonly string[], scope: FolderScope, create = false, touched?: Set<Folder>): Folder {
    let current = scope.get('') ?? this.#rootFolder(scope);
    let key = '';
    for (let index = 0; index < segments.length; index++) {
      key = index === 0 ? segments[0]! : `${key}/${segments[index]!}`;
      const known = scope.get(key);
      if (known !== undefined) {
        current = known;
        continue;
      }
      current = this.#child(current, segments[index]!, key, scope, create, touched);
      scope.set(key, current);
    }
    return current;
  }

  /** The folder `name` in `parent` (a folder, or a symlink to one inside), not remembered in `scope`'s map. */
  child(parent: Folder, name: string, shown: string, scope: FolderScope): Folder {
    return this.#child(parent, name, shown, scope, false);
  }

  /** A path naming `name` in `folder`, safe from swaps of the folder (see folders.ts). */
  at(folder: Folder, name: string, scope: FolderScope, shown: string): string {
    return this.#access.at(folder, name, scope, shown);
  }

  /**
   * open(2) of `name` in `folder`: with openat on the folder held open where the native helper
   * is here (node's own fs, folders held), else through `at`. The same file either way, and the
   * same errors; the kernel resolves one name instead of a /proc path.
   */
  openIn(folder: Folder, name: string, flags: number, mode: number, scope: FolderScope, shown: string): number {
    const at = this.at(folder, name, scope, shown);
    const fd = this.kernelFds && folder.fd !== undefined ? openAt(folder.fd, name, flags, mode, shown) : null;
    return fd ?? this.fs.openSync(at, flags, mode);
  }

  /** rename(2) of `from` over `to`, both in `folder`: with renameat where the native helper is here (as openIn), else through `at`. */
  renameIn(folder: Folder, from: string, to: string, scope: FolderScope, shown: string): void {
    const fromAt = this.at(folder, from, scope, shown);
    if (this.kernelFds && folder.fd !== undefined && renameAt(folder.fd, from, folder.fd, to, shown)) return;
    this.fs.renameSync(fromAt, this.at(folder, to, scope, shown));
  }

  /** A path naming the folder itself. */
  self(folder: Folder, scope: FolderScope, shown: string): string {
    return this.#access.self(folder, scope, shown);
  }

  /** After a call through `at`: the folder was not swapped meanwhile (ForbiddenError). */
  confirm(folder: Folder, shown: string): void {
    this.#access.confirm(folder, shown);
  }

  /**
   * `folder` is still inside the root now, or ForbiddenError: a folder held open may have been
   * moved out since it was resolved (see folders.ts). One check covers every entry made in it
   * through `at` before the check, so a batch checks each of its folders once.
   */
  checkStillInside(folder: Folder, scope: FolderScope, shown: string): void {
    this.#access.checkStillInside(folder, scope, shown);
  }

  /** A descriptor just opened through `at` (a part file): ForbiddenError unless it is inside (see folders.ts). */
  checkOpened(fd: number, folder: Folder, shown: string): void {
    this.#access.confirm(folder, shown);
    this.#access.checkLanded(fd, shown);
  }

  /** What a symlink entry leads to, if it leads inside: its real path and stat (ForbiddenError if out). */
  followed(entry: Entry, scope: FolderScope): { real: string; stats: StatsLike } {
    return this.#followed(entry, scope);
  }

  /** fsync a folder, so the renames and new entries in it survive a crash (where the platform allows). */
  syncFolder(folder: Folder, scope: FolderScope, shown: string): void {
    try {
      fsyncFolder(this.#access.self(folder, scope, shown), this.fs as unknown as FolderSyncFs);
    } catch (err) {
      throw toStorageError(err, shown);
    }
  }

  /** Whether `absolute` is the root or inside it. */
  contains(absolute: string): boolean {
    return this.#contains(absolute);
  }

  /** ForbiddenError unless `real` (symlinks resolved) is inside and no partial file. */
  checkInside(real: string, requestPath: string): void {
    if (!this.#contains(real)) throw new ForbiddenError(`${quoteRequestPath(requestPath)} leads outside ${this.#called}`);
    // A symlink inside the root may point at a partial file.
    if (path.relative(this.rootPath, real).split(path.sep).some(isPartName)) {
      throw new ForbiddenError(`${quoteRequestPath(requestPath)} leads to a partial upload`);
    }
  }

  #contains(absolute: string): boolean {
    if (absolute === this.rootPath) return true;
    // A plain prefix test would let the sibling '/srv/data-evil' pass for the root '/srv/data'.
    const prefix = this.rootPath.endsWith(path.sep) ? this.rootPath : this.rootPath + path.sep;
    return absolute.startsWith(prefix);
  }

  #in<T>(scope: FolderScope | undefined, work: (scope: FolderScope) => T): T {
    return scope === undefined ? this.withScope(work) : work(scope);
  }

  #rootFolder(scope: FolderScope): Folder {
    const folder: Folder = { path: this.rootPath, ...identityOf(this.fs.lstatSync(this.rootPath)!) };
    this.#access.enter(folder, this.rootPath, scope, '');
    scope.set('', folder);
    return folder;
  }

  /** The folder `name` in `parent`: a folder, or a symlink to one inside; made first with `create`. */
  #child(parent: Folder, name: string, shown: string, scope: FolderScope, create: boolean, touched?: Set<Folder>): Folder {
    const at = this.#access.at(parent, name, scope, shown);
    let seen: StatsLike | undefined;
    let made = false;
    try {
      seen = this.fs.lstatSync(at, { throwIfNoEntry: false });
      if (seen === undefined && create) {
        this.#access.checkStillInside(parent, scope, shown);
        try {
          this.fs.mkdirSync(at);
          made = true;
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
        }
        seen = this.fs.lstatSync(at, { throwIfNoEntry: false });
      }
    } catch (err) {
      throw toStorageError(err, shown);
    }
    if (seen === undefined) throw new NotFoundError(`no such file or folder ${quoteRequestPath(shown)}`);
    if (seen.isSymbolicLink()) {
      let followed: { real: string; stats: StatsLike };
      try {
        followed = this.#followed({ folder: parent, name, shown, stats: seen }, scope);
      } catch (err) {
        if (err instanceof NotFoundError) throw new NotDirectoryError(err.message, { cause: err });
        throw err;
      }
      const { real, stats } = followed;
      if (!stats.isDirectory()) throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
      const folder: Folder = { path: real, ...identityOf(stats) };
      this.#access.enter(folder, real, scope, shown);
      return folder;
    }
    if (!seen.isDirectory()) throw new NotDirectoryError(`${quotePath(shown)} is a file, not a folder`);
    const folder: Folder = { path: path.join(parent.path, name), ...identityOf(seen) };
    this.#access.enter(folder, at, scope, shown);
    // A new folder is durable once the folder holding its name is fsynced.
    if (made) touched?.add(parent);
    return folder;
  }

  #followed(entry: Entry, scope: FolderScope): { real: string; stats: StatsLike } {
    const { folder, name, shown } = entry;
    this.#access.confirm(folder, shown);
    let real: string;
    let stats: StatsLike;
    try {
      real = String(this.fs.realpathSync(path.join(folder.path, name)));
      this.checkInside(real, shown);
      stats = this.fs.lstatSync(real)!;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new NotFoundError(`${quotePath(shown)} is a symlink that leads nowhere`, { cause: err });
      // realpath read the name as a symlink (lstat), then found something else there (readlink
      // fails with EINVAL): it was swapped in between. A refusal, not an internal error.
      if (errnoCode(err) === 'EINVAL') throw new ForbiddenError(`${quoteRequestPath(shown)} was swapped while it was being resolved`, { cause: err });
      throw toStorageError(err, shown);
    }
    void scope;
    return { real, stats };
  }

  /** The last name is a symlink: open what it leads to, if that is inside (checked after the open too). */
  #openFollowed(folder: Folder, name: string, shown: string, scope: FolderScope): number {
    const { real, stats } = this.#followed({ folder, name, shown, stats: undefined }, scope);
    let fd: number;
    try {
      fd = this.fs.openSync(real, READ_FLAGS);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    try {
      this.#access.checkLanded(fd, shown);
      const opened = this.fs.fstatSync(fd);
      if (Number(opened.dev) !== Number(stats.dev) || Number(opened.ino) !== Number(stats.ino)) {
        throw new ForbiddenError(`${quoteRequestPath(shown)} changed while it was being opened`);
      }
    } catch (err) {
      this.fs.closeSync(fd);
      throw err;
    }
    return fd;
  }

  /** A descriptor of `folder` to set attributes on (closed by the caller). */
  #openFolderFd(folder: Folder, scope: FolderScope, shown: string): number {
    let fd: number;
    try {
      fd = this.fs.openSync(this.#access.self(folder, scope, shown), fsConstants.O_RDONLY);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    const opened = this.fs.fstatSync(fd);
    if (Number(opened.dev) !== folder.dev || Number(opened.ino) !== folder.ino) {
      this.fs.closeSync(fd);
      throw new ForbiddenError(`the folder ${quotePath(shown)} changed while it was being opened`);
    }
    return fd;
  }
}
