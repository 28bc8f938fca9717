/**
 * The receiving side's files on the local disk: a partial file beside the destination,
 * written, fsynced, and renamed over the final name only once its digest matched; all of it
 * inside the destination folder, through the same boundary the server has (LocalFolder).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { FileChangedError, IsDirectoryError, NotFoundError } from '../errors.js';
import { partNameFor, wholeMilliseconds } from '../files/index.js';
import {
  applyAttributes,
  commitPart,
  openPart,
  placeSymlink,
  removeEntry,
  Root,
  storeWholeFiles,
  syncFolders,
  uploadTarget,
  type AttributeOptions,
  type FileInfo,
  type Folder,
  type FolderScope,
  type OpenFile,
  type UploadPart,
} from '../server/root/index.js';

import type { WalkedFile } from './walked-file.js';

export type { OpenFile, UploadPart };

/**
 * `dir/name` → `dir/.name.tcpsend-part`: hidden, on the same file system for rename, and the
 * same name the server gives its parts (a hash of the name near NAME_MAX).
 */
export function localPartPath(dest: string): string {
  return path.join(path.dirname(dest), partNameFor(path.basename(dest)));
}

/** Latest time a JavaScript Date can hold: a later mtime from a peer is clamped to it (ext4 clamps further). */
const MAX_DATE_MS = 8.64e15;

/** A peer's mode and mtime as the boundary takes them: permission bits only, a time it can store. */
function attributesOf(meta: ReceivedAttributes): AttributeOptions {
  const attributes: AttributeOptions = {};
  if (meta.mode !== null && meta.mode !== undefined) attributes.mode = meta.mode & 0o777; // never setuid/setgid from a peer
  if (meta.mtimeMs !== null && meta.mtimeMs !== undefined) attributes.mtimeMs = Math.min(Math.max(Math.trunc(meta.mtimeMs), 0), MAX_DATE_MS);
  return attributes;
}

export interface ReceivedAttributes {
  mtimeMs?: number | null;
  mode?: number | null;
}

/** `dir` normalised as path.join does, with a separator to append names to ('' for '.'). */
export function joinBase(dir: string): string {
  const base = path.join(dir, path.sep);
  return base === `.${path.sep}` ? '' : base;
}

/**
 * A folder the client receives into: the same confinement boundary as the server's served
 * folder (a Root over it, server/root), because below it the server chooses the names. Every
 * folder is walked one name at a time and held open (on Linux; checked by identity elsewhere),
 * a symlink is followed only where it leads inside, and parts, renames, modes and mtimes go
 * through those held folders and the files' own descriptors. So neither a name the server
 * lists (`link/evil.txt` with `link -> /elsewhere`) nor a folder a local user swaps for a
 * symlink mid-transfer can make the client write, create or change anything outside.
 * The folder's own path is the user's: symlinks in it are followed once, when it is opened.
 */
export class LocalFolder {
  readonly #touched = new Set<Folder>();
  readonly #scope: FolderScope;
  /** `path` normalised, with a separator (none for '.'): checked segments are joined by concatenation. */
  readonly #base: string;

  private constructor(
    /** As the user gave it, for messages. */
    readonly path: string,
    readonly root: Root,
    /** The first folder opening it made (it and those below it hold nothing yet), if any. */
    readonly made: string | undefined,
  ) {
    this.#scope = root.newScope();
    this.#base = joinBase(this.path);
  }

  /** The local path of `segments` inside (names checked by `place`: path.join would give the same). */
  pathOf(segments: readonly string[]): string {
    return this.#base + segments.join(path.sep);
  }

  /**
   * Make `dir` if need be (and its parents: the user's own path) and open it as the boundary.
   * `heldFolders: false` chooses the identity checks used where /proc/<pid>/fd is not (tests).
   */
  static async open(dir: string, options: { heldFolders?: boolean } = {}): Promise<LocalFolder> {
    const made = await fsp.mkdir(dir, { recursive: true });
    // Hidden names are the server's to send (serve --dotfiles); the client writes what it gets.
    const root = await Root.open(dir, { dotfiles: true, called: 'the destination folder', heldFolders: options.heldFolders });
    return new LocalFolder(dir, root, made);
  }

  /** Whether opening it made it (nothing is in it yet). */
  get created(): boolean {
    return this.made !== undefined;
  }

  /**
   * Remove the folders opening it made, where they are still empty: a single-file get that
   * failed before anything was kept leaves no trace (a kept part keeps its folder).
   */
  removeMadeIfEmpty(): void {
    if (this.made === undefined) return;
    for (let dir = this.path; ; dir = path.dirname(dir)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        return; // not empty (a part kept for resume), or gone
      }
      if (path.resolve(dir) === path.resolve(this.made) || path.dirname(dir) === dir) return;
    }
  }

  /**
   * Where `rel` (a '/'-separated path the server chose) goes: BadPathError for a name that could
   * leave the folder or be read differently elsewhere, ForbiddenError for a partial file's name.
   */
  place(rel: string): LocalPlace {
    const segments = this.root.segments(rel);
    if (segments.length === 0) throw new IsDirectoryError(`'${this.path}' is the destination folder itself`);
    return new LocalPlace(this, segments);
  }

  /** Make the folder `rel` and its parents inside; whether the last one was made now. */
  mkdirs(rel: string): boolean {
    const segments = this.root.segments(rel);
    const there = this.#in(() => this.root.entry(segments, this.#scope, false).stats !== undefined, false);
    this.root.mkdirs(rel);
    return !there;
  }

  /**
   * Remove `rel` inside (a file, a symlink as a link, a folder with everything in it), each
   * folder reached through its held parent, as the server's DELETE: a folder swapped for a
   * symlink meanwhile is refused, never followed out.
   */
  remove(rel: string): Promise<void> {
    return removeEntry(this.root, rel);
  }

  /**
   * Make `rel` a symlink to `target` (judged to stay inside by the caller: linkSkipReason),
   * replacing a file or link there, never a folder: made under the part name and renamed over
   * it, through the held folders, as the server's SYMLINK. Fsynced with `sync`.
   */
  placeSymlink(rel: string, target: string): void {
    placeSymlink(this.root, this.root.segments(rel), target, () => true, { scope: this.#scope, touched: this.#touched });
  }

  /** Give the folder `rel` inside a peer's mode and mtime, on its descriptor. */
  setAttributes(rel: string, meta: ReceivedAttributes): void {
    this.root.mkdirs(rel, attributesOf(meta));
  }

  /**
   * Write small, already verified bodies as their files, as one batch (storeWholeFiles): each
   * a new part (created with O_EXCL, never through anything planted under its name), its mode
   * and mtime, fsync; each folder checked once to be still inside; then the renames. The
   * folders' fsync is with `sync`. Each file's error or null, in order.
   */
  storeWholeFiles(files: readonly { place: LocalPlace; body: Uint8Array; meta: ReceivedAttributes }[]): (Error | null)[] {
    // What is there was looked at before the bodies were asked for (existing); one more lstat
    // per small file is not needed: a folder made there since is refused by the rename itself.
    const whole = files.map(({ place, body, meta }) => ({ target: { segments: place.segments, shown: place.rel, existing: null }, body, attributes: attributesOf(meta) }));
    return storeWholeFiles(this.root, whole, this.#scope, this.#touched);
  }

  /**
   * Have the next `sync` fsync the folder `rel` inside (something was renamed into it or
   * removed from it), reached through the boundary: never a folder a link leads to.
   */
  touch(rel: string): void {
    this.#touched.add(this.root.folder(this.root.segments(rel), this.#scope));
  }

  /** fsync the folders small files were renamed in (once per folder, at the end of a tree). */
  sync(): void {
    syncFolders(this.root, this.#touched, this.#scope);
  }

  /** Release the folders held open. */
  close(): void {
    this.#scope.close();
  }

  /** `work` with the folder's scope; NotFoundError (a folder on the way is not there) gives `absent`. */
  #in<T>(work: () => T, absent: T): T {
    try {
      return work();
    } catch (err) {
      if (err instanceof NotFoundError) return absent;
      throw err;
    }
  }

  /** @internal the scope synchronous calls share (folders resolved once, held across files). */
  get scope(): FolderScope {
    return this.#scope;
  }

  /** @internal folders whose renames the next `sync` makes durable. */
  get touched(): Set<Folder> {
    return this.#touched;
  }
}

/** One file's place in a LocalFolder: what is there, its partial file, and the writes that land it. */
export class LocalPlace {
  #rel: string | undefined;
  #path: string | undefined;

  constructor(
    readonly folder: LocalFolder,
    readonly segments: readonly string[],
    /** The file's local path (else made from the folder's and the segments when first asked for). */
    localPath?: string,
  ) {
    this.#path = localPath;
  }

  /** The segments, '/'-separated: the name inside the folder, for messages. */
  get rel(): string {
    return (this.#rel ??= this.segments.join('/'));
  }

  /** The file's local path, for messages and results. */
  get path(): string {
    return (this.#path ??= this.folder.pathOf(this.segments));
  }

  /**
   * A path the user names for a single-file get: the boundary is its folder (the user's own
   * path, symlinks in it followed), the file its last name. Close `place.folder` when done.
   */
  static async forPath(dest: string): Promise<LocalPlace> {
    const folder = await LocalFolder.open(path.dirname(dest));
    try {
      const segments = folder.root.segments(path.basename(dest));
      if (segments.length !== 1) throw new IsDirectoryError(`'${dest}' is a folder`);
      return new LocalPlace(folder, segments, dest);
    } catch (err) {
      folder.close();
      throw err;
    }
  }

  /**
   * What is there now: null for nothing; a symlink is followed only if it leads inside
   * (ForbiddenError if it leads out: it is neither read, written through nor replaced).
   */
  existing(): FileInfo | null {
    return uploadTarget(this.folder.root, this.segments, this.folder.scope).existing;
  }

  /** The file there, opened to read (to compare it with the server's): inside, never through a link out. */
  openExisting(): OpenFile {
    return this.folder.root.openRead(this.rel, this.folder.scope).file;
  }

  /** Give the file `openExisting` opened a peer's mtime, on that descriptor: the file read is the one dated. */
  setMtime(file: OpenFile, mtimeMs: number): void {
    applyAttributes(this.folder.root.fs, file.fd, attributesOf({ mtimeMs }));
  }

  /** The partial file's local path, for messages. */
  get partPath(): string {
    return localPartPath(this.path);
  }

  /** Bytes in the partial file a previous attempt left (0 for none, or anything but a plain file). */
  partSize(): number {
    const { root, scope } = this.folder;
    try {
      const stats = root.entry([...this.segments.slice(0, -1), partNameFor(this.segments.at(-1)!)], scope, false).stats;
      return stats?.isFile() ? Number(stats.size) : 0;
    } catch (err) {
      if (err instanceof NotFoundError) return 0;
      throw err;
    }
  }

  /** partSize on the way out of a failure: 0 where the part cannot be looked at, never an error. */
  keptBytes(): number {
    try {
      return this.partSize();
    } catch {
      return 0;
    }
  }

  /**
   * Open (creating it and its folders) the partial file, cut to `offset` bytes: the receive
   * writes from there. Its `file` is the descriptor to write and hash; commit or close it.
   */
  openPart(offset: number): UploadPart {
    const part = openPart(this.folder.root, this.rel);
    try {
      part.truncate(offset);
    } catch (err) {
      part.close();
      throw err;
    }
    return part;
  }

  /** Make a verified part the file: mode and mtime on its descriptor, fsync, rename, folder fsync. */
  async commit(part: UploadPart, meta: ReceivedAttributes): Promise<void> {
    await commitPart(this.folder.root, part, attributesOf(meta));
  }

  /**
   * Write a small, already verified body as the file: LocalFolder.storeWholeFiles of one. The
   * folder's fsync is at once, or with the LocalFolder's `sync` (`syncDirectory: false`).
   */
  storeWhole(body: Uint8Array, meta: ReceivedAttributes & { syncDirectory?: boolean }): void {
    const [error] = this.folder.storeWholeFiles([{ place: this, body, meta }]);
    if (error) throw error;
    if (meta.syncDirectory !== false) this.folder.sync();
  }

  /**
   * Delete the partial file, if there is one (with `ifEmpty`, only if it holds nothing to
   * resume). Best effort, on the way out of a failure: a part it cannot reach stays.
   */
  removePart(options: { ifEmpty?: boolean } = {}): void {
    const { root, scope } = this.folder;
    try {
      if (options.ifEmpty && this.keptBytes() > 0) return;
      const { folder, name, shown } = root.entry([...this.segments.slice(0, -1), partNameFor(this.segments.at(-1)!)], scope, false, false);
      root.fs.unlinkSync(root.at(folder, name, scope, shown));
    } catch {
      // Gone already, never made, or its folder is no longer reachable inside.
    }
  }
}

/** stat, or null where nothing is; synchronous: a client's per-file checks are many and tiny. */
export function statSyncOrNull(file: string): Stats | null {
  return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
}

/** What a whole read tells of a file: its size, mtime (whole milliseconds) and permission bits. */
export interface FileFacts {
  size: number;
  mtimeMs: number;
  mode: number;
}

function factsOf(stats: Stats): FileFacts {
  return { size: stats.size, mtimeMs: wholeMilliseconds(stats.mtimeMs), mode: stats.mode & 0o777 };
}

/**
 * A small local file read whole with synchronous calls, for a batch upload, into the room
 * `place` gives for it: FileChangedError if its size or mtime moved while it was read (its
 * bytes would not be one version of it). Its facts are those of the bytes read.
 *
 * `walked`: the file a walk found there (lstat), if one did. It is opened through the walked
 * folder, and must be that very regular file before a byte of it is read (walked-file.ts: a
 * folder put never reads through a symlink, nor from a FIFO or a device swapped in). Where it
 * still has the walk's size, mtime (whole milliseconds: it moves in clock ticks of a
 * millisecond or more) and mode, those facts are used as they are; the same file changed since
 * the walk is read as it is now.
 */
export function readWholeFileSync(
  file: string,
  place: (facts: FileFacts) => Uint8Array,
  walked?: WalkedFile<FileFacts>,
): { body: Uint8Array; facts: FileFacts } {
  const { fd, stats } = walked ? walked.folder.openSync(walked.rel, walked.seen) : openWithStats(file);
  try {
    const facts = walked && sameFacts(walked.seen, stats) ? walked.seen : factsOf(stats);
    const body = place(facts);
    const got = readFully(fd, body);
    const after = fs.fstatSync(fd);
    if (got !== stats.size || after.size !== stats.size || after.mtimeMs !== stats.mtimeMs) {
      throw new FileChangedError(`'${file}' changed while it was being read; not sent`);
    }
    return { body, facts };
  } finally {
    fs.closeSync(fd);
  }
}

function openWithStats(file: string): { fd: number; stats: Stats } {
  const fd = fs.openSync(file, fs.constants.O_RDONLY);
  try {
    return { fd, stats: fs.fstatSync(fd) };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function sameFacts(facts: FileFacts, stats: Stats): boolean {
  return facts.size === stats.size && facts.mtimeMs === wholeMilliseconds(stats.mtimeMs) && facts.mode === (stats.mode & 0o777);
}

/** Read `into.length` bytes from the start of `fd` (fewer where the file ends first): how many came. */
function readFully(fd: number, into: Uint8Array): number {
  let got = 0;
  for (let n = 1; got < into.length && n > 0; got += n) n = fs.readSync(fd, into, got, into.length - got, got);
  return got;
}
