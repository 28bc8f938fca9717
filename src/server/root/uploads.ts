/**
 * Writing into the served folder: where an upload would land and what is there now, a small
 * body stored whole, and a partial file that a streamed body collects in and that is then
 * committed (fsync, mode and mtime on its descriptor, rename, folder fsync) or discarded.
 * Every name is reached through Root (held folders on Linux), so no swap of a folder can send
 * a byte, a part file or a new folder outside.
 */
import { constants as fsConstants } from 'node:fs';
import { ForbiddenError, InternalError, IsDirectoryError, NotFoundError } from '../../errors.js';
import { partNameFor } from '../../files/index.js';
import { quotePath } from '../../files/quote-path.js';
import { errnoCode, toStorageError } from './fs-errors.js';
import type { StatsLike } from './fs-port.js';
import type { Folder, FolderScope } from './folders.js';
import { OpenFile } from './open-file.js';
import { applyAttributes, checkAttributes, infoOf, type AttributeOptions, type FileInfo, type Root } from './root.js';
import { UploadPart } from './upload-part.js';

// O_NOFOLLOW: a symlink planted under the part's name is never written through.
const O_NOFOLLOW = (fsConstants.O_NOFOLLOW as number | undefined) ?? 0;
const PART_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | O_NOFOLLOW;
/** A part written whole goes into a file made here and now. */
const NEW_PART_FLAGS = PART_FLAGS | fsConstants.O_EXCL;
const PART_CREATE_MODE = 0o666;

/** An upload's destination, its path checked once; it then serves for the lock and the store. */
export interface UploadTarget {
  readonly segments: readonly string[];
  /** The path as shown in messages, and the lock's key. */
  readonly shown: string;
  /** What is there now: null for nothing (or a symlink that leads nowhere, which an upload replaces). */
  readonly existing: FileInfo | null;
  /** The folder it goes in, as resolved (in the scope given), if that folder exists yet. */
  readonly folder?: Folder | null;
}

/**
 * Where an upload to `segments` (a request path checked by Root.segments) would go, and what
 * is there (a symlink followed if it leads inside).
 */
export function uploadTarget(root: Root, segments: readonly string[], scope: FolderScope): UploadTarget {
  if (segments.length === 0) throw new IsDirectoryError(`'/' is the served folder itself`);
  const shown = segments.join('/');
  let existing: FileInfo | null = null;
  let folder: Folder | null = null;
  try {
    const entry = root.entry(segments, scope, false);
    folder = entry.folder;
    if (entry.stats !== undefined) {
      existing = infoOf(entry.stats.isSymbolicLink() ? root.followed(entry, scope).stats : entry.stats, shown);
    }
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  return { segments, shown, existing, folder };
}

/**
 * Store a small upload whose content the caller has verified: a part file made here (O_EXCL),
 * written whole, its mode and mtime, fsync, and a rename over the name (never over a folder).
 * The fsync of the folders, which makes the rename durable, is the caller's, once per burst:
 * `touched` collects them (syncFolders).
 */
export function storeWhole(
  root: Root,
  target: UploadTarget,
  body: Uint8Array,
  options: AttributeOptions,
  scope: FolderScope,
  touched: Set<Folder>,
): void {
  checkAttributes(options);
  const { fs } = root;
  // The folder the target found is the one to store in (a swap since is caught where the part
  // is opened); one that did not exist yet is made now.
  const { folder, name, shown } =
    target.folder
      ? { folder: target.folder, name: target.segments[target.segments.length - 1]!, shown: target.shown }
      : root.entry(target.segments, scope, true, false, touched);
  const partName = partNameFor(name);
  const fd = createPart(root, folder, partName, scope, shown);
  let open = true;
  try {
    let done = 0;
    while (done < body.length) done += fs.writeSync(fd, body, done, body.length - done, done);
    applyAttributes(fs, fd, options);
    fs.fsyncSync(fd);
    open = false; // closed below, once: a failing close must not close a number reused since
    fs.closeSync(fd);
    // A folder made there since the check would be refused by rename(2) too, less clearly.
    if (target.existing !== null) refuseFolder(root, folder, name, scope, shown);
    fs.renameSync(root.at(folder, partName, scope, shown), root.at(folder, name, scope, shown));
    root.confirm(folder, shown);
  } catch (err) {
    if (open) closeQuietly(root, fd);
    unlinkQuietly(root, folder, partName, scope, shown);
    throw toStorageError(err, shown);
  }
  touched.add(folder);
}

/** fsync each folder in `touched` (then forgets them): the renames in them are durable after. */
export function syncFolders(root: Root, touched: Set<Folder>, scope: FolderScope): void {
  try {
    for (const folder of touched) root.syncFolder(folder, scope, '');
  } finally {
    touched.clear();
  }
}

/**
 * Open (creating it and its folders if need be) the partial file for a streamed upload to
 * `requestPath`. Its `size` says how much a previous attempt left there.
 */
export function openPart(root: Root, requestPath: string): UploadPart {
  const scope = root.newScope();
  try {
    const touched = new Set<Folder>();
    const segments = root.segments(requestPath);
    const { folder, name, shown } = root.entry(segments, scope, true, false, touched);
    refuseFolder(root, folder, name, scope, shown);
    const partName = partNameFor(name);
    const { fs } = root;
    const partAt = root.at(folder, partName, scope, shown);
    let fd: number;
    try {
      fd = fs.openSync(partAt, PART_FLAGS, PART_CREATE_MODE);
      try {
        root.checkOpened(fd, folder, shown);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      let stats: StatsLike = fs.fstatSync(fd);
      if (!stats.isFile()) {
        fs.closeSync(fd);
        throw new IsDirectoryError(`the partial upload of ${quotePath(shown)} is not a regular file`);
      }
      if (Number(stats.nlink) > 1) {
        // A part with another name elsewhere (a hard link planted under the part's name) is
        // not ours to resume or write through: start a new one.
        fs.closeSync(fd);
        fd = createPart(root, folder, partName, scope, shown);
        stats = fs.fstatSync(fd);
      }
      for (const made of touched) root.syncFolder(made, scope, shown);
      return new UploadPart({
        file: new OpenFile(fs, fd, root.kernelFds ? fd : null),
        folder,
        scope,
        name,
        partName,
        requestPath: shown,
        size: Number(stats.size),
      });
    } catch (err) {
      throw toStorageError(err, shown);
    }
  } catch (err) {
    scope.close();
    throw err;
  }
}

/**
 * Make a verified upload visible under its name: mode and mtime on the part's descriptor,
 * fsync, rename over the name (which replaces a symlink there rather than writing through
 * it), and fsync of the folder so the rename survives a crash. Closes the part.
 */
export async function commitPart(root: Root, part: UploadPart, options: AttributeOptions = {}): Promise<void> {
  checkAttributes(options);
  const { folder, name, partName, scope, requestPath: shown } = part;
  try {
    try {
      applyAttributes(root.fs, part.file.fd, options);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    await part.sync();
    part.file.close();
    refuseFolder(root, folder, name, scope, shown);
    try {
      root.fs.renameSync(root.at(folder, partName, scope, shown), root.at(folder, name, scope, shown));
    } catch (err) {
      throw toStorageError(err, shown);
    }
    root.confirm(folder, shown);
    root.syncFolder(folder, scope, shown);
  } finally {
    part.close();
  }
}

/** Close and delete a partial upload (after a checksum mismatch, or `DATA offset=0`). */
export function discardPart(root: Root, part: UploadPart): void {
  try {
    part.file.close();
  } catch {
    // The part goes either way.
  }
  try {
    root.fs.unlinkSync(root.at(part.folder, part.partName, part.scope, part.requestPath));
  } catch (err) {
    // Gone already; or its folder was swapped (folders checked), and the part stays where it is.
    if (errnoCode(err) !== 'ENOENT' && !(err instanceof ForbiddenError)) throw toStorageError(err, part.requestPath);
  } finally {
    part.close();
  }
}

/**
 * A new part file, made here and now (O_EXCL): whatever an earlier attempt left under its name
 * is removed first, never written through (a hard link to a file elsewhere, or a planted symlink).
 */
function createPart(root: Root, folder: Folder, partName: string, scope: FolderScope, shown: string): number {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = root.fs.openSync(root.at(folder, partName, scope, shown), NEW_PART_FLAGS, PART_CREATE_MODE);
      try {
        root.checkOpened(fd, folder, shown);
      } catch (err) {
        root.fs.closeSync(fd);
        unlinkQuietly(root, folder, partName, scope, shown);
        throw err;
      }
      return fd;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw toStorageError(err, shown);
      if (attempt > 0) {
        throw new InternalError(`cannot create the partial upload of ${quotePath(shown)}: something keeps appearing under its name`, { cause: err });
      }
      unlinkQuietly(root, folder, partName, scope, shown);
    }
  }
}

/** An upload may replace a file or a symlink, never a folder (rename(2) refuses one too, less clearly). */
function refuseFolder(root: Root, folder: Folder, name: string, scope: FolderScope, shown: string): void {
  let stats: StatsLike;
  try {
    stats = root.fs.statSync(root.at(folder, name, scope, shown));
  } catch {
    return; // Nothing there, or a symlink to nowhere: the rename takes the name.
  }
  if (stats.isDirectory()) throw new IsDirectoryError(`${quotePath(shown)} is a folder`);
}

function closeQuietly(root: Root, fd: number): void {
  try {
    root.fs.closeSync(fd);
  } catch {
    // The write's error is the one to report.
  }
}

function unlinkQuietly(root: Root, folder: Folder, name: string, scope: FolderScope, shown: string): void {
  try {
    root.fs.unlinkSync(root.at(folder, name, scope, shown));
  } catch {
    // Already gone, or the folder went: nothing to clean.
  }
}
