/**
 * Writing into the served folder: where an upload would land and what is there now, a small
 * body stored whole, and a partial file that a streamed body collects in and that is then
 * committed (fsync, mode and mtime on its descriptor, rename, folder fsync) or discarded.
 * Every name is reached through Root (held folders on Linux), so no swap of a folder can send
 * a byte, a part file or a new folder outside.
 */
import { constants as fsConstants } from 'node:fs';
import { ForbiddenError, InternalError, IsDirectoryError, NotFoundError, type TcpsendError } from '../../errors.js';
import { partNameFor } from '../../files/index.js';
import { quotePath } from '../../files/quote-path.js';
import { errnoCode, toStorageError } from './fs-errors.js';
import type { StatsLike } from './fs-port.js';
import { O_NOFOLLOW, type Folder, type FolderScope } from './folders.js';
import { OpenFile } from './open-file.js';
import { applyAttributes, checkAttributes, infoOf, type AttributeOptions, type FileInfo, type Root } from './root.js';
import { UploadPart } from './upload-part.js';

// O_NOFOLLOW: a symlink planted under the part's name is never written through.
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

/** A small upload whose content the caller has verified, to be stored whole (storeWholeFiles). */
export interface WholeFile {
  readonly target: UploadTarget;
  readonly body: Uint8Array;
  readonly attributes: AttributeOptions;
}

/**
 * Store a small upload whose content the caller has verified: storeWholeFiles of one file,
 * its error thrown.
 */
export function storeWhole(
  root: Root,
  target: UploadTarget,
  body: Uint8Array,
  options: AttributeOptions,
  scope: FolderScope,
  touched: Set<Folder>,
): void {
  const [error] = storeWholeFiles(root, [{ target, body, attributes: options }], scope, touched);
  if (error) throw error;
}

/**
 * Store small files whose contents the caller has verified, as one batch: each file's part is
 * made here (O_EXCL), written whole, given its mode and mtime and fsynced; then each folder
 * they are in is checked, once, to be still inside the root; then each part is renamed over
 * its name (never over a folder). So a file under its final name is complete and durable; the
 * fsync of the folders, which makes the renames durable, is the caller's, once per burst:
 * `touched` collects them (syncFolders). Returns each file's error or null, in order: a
 * refused file does not stop the others.
 *
 * A check per folder after its parts are written, right before the renames, guards what a
 * check of each part as it was opened guarded (no file lands under its name in a folder moved
 * out of the root meanwhile), with one look per folder instead of one per file. A part made
 * in a folder found outside is removed there, never renamed.
 */
export function storeWholeFiles(
  root: Root,
  files: readonly WholeFile[],
  scope: FolderScope,
  touched: Set<Folder>,
): (TcpsendError | null)[] {
  const errors: (TcpsendError | null)[] = new Array<TcpsendError | null>(files.length).fill(null);
  const written: WrittenPart[] = [];
  for (let index = 0; index < files.length; index++) {
    const file = files[index]!;
    try {
      written.push(writeWholePart(root, index, file, scope, touched));
    } catch (err) {
      errors[index] = toStorageError(err, file.target.shown);
    }
  }
  const refusals = new Map<Folder, TcpsendError | null>();
  for (const { index, folder, name, partName, shown } of written) {
    let refusal = refusals.get(folder);
    if (refusal === undefined) {
      refusal = null;
      try {
        root.checkStillInside(folder, scope, shown);
      } catch (err) {
        refusal = toStorageError(err, shown);
      }
      refusals.set(folder, refusal);
    }
    try {
      if (refusal) throw refusal;
      // A folder made there since the check would be refused by rename(2) too, less clearly.
      if (files[index]!.target.existing !== null) refuseFolder(root, folder, name, scope, shown);
      root.renameIn(folder, partName, name, scope, shown);
      root.confirm(folder, shown);
      touched.add(folder);
    } catch (err) {
      unlinkQuietly(root, folder, partName, scope, shown);
      errors[index] = toStorageError(err, shown);
    }
  }
  return errors;
}

/** A part written whole, fsynced and closed, waiting for its rename. */
interface WrittenPart {
  index: number;
  folder: Folder;
  name: string;
  partName: string;
  shown: string;
}

function writeWholePart(root: Root, index: number, { target, body, attributes }: WholeFile, scope: FolderScope, touched: Set<Folder>): WrittenPart {
  checkAttributes(attributes);
  const { fs } = root;
  // The folder the target found is the one to store in (a swap since is caught before the
  // renames); one that did not exist yet is made now.
  const { folder, name, shown } =
    target.folder
      ? { folder: target.folder, name: target.segments[target.segments.length - 1]!, shown: target.shown }
      : root.entry(target.segments, scope, true, false, touched);
  const partName = partNameFor(name);
  // Its folder is checked once for the whole batch, before the renames.
  const fd = makePart(root, folder, partName, scope, shown);
  let open = true;
  try {
    let done = 0;
    while (done < body.length) done += fs.writeSync(fd, body, done, body.length - done, done);
    applyAttributes(fs, fd, attributes);
    fs.fsyncSync(fd);
    open = false; // closed below, once: a failing close must not close a number reused since
    fs.closeSync(fd);
  } catch (err) {
    if (open) closeQuietly(root, fd);
    unlinkQuietly(root, folder, partName, scope, shown);
    throw err;
  }
  return { index, folder, name, partName, shown };
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
      root.renameIn(folder, partName, name, scope, shown);
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
 * A new part file, made here and now (O_EXCL), and checked to be inside where the kernel says it
 * landed: whatever an earlier attempt left under its name is removed first, never written
 * through (a hard link to a file elsewhere, or a planted symlink).
 */
function createPart(root: Root, folder: Folder, partName: string, scope: FolderScope, shown: string): number {
  const fd = makePart(root, folder, partName, scope, shown);
  try {
    root.checkOpened(fd, folder, shown);
  } catch (err) {
    root.fs.closeSync(fd);
    unlinkQuietly(root, folder, partName, scope, shown);
    throw err;
  }
  return fd;
}

/** createPart without the check of where it landed (the caller checks its folder). */
function makePart(root: Root, folder: Folder, partName: string, scope: FolderScope, shown: string): number {
  for (let attempt = 0; ; attempt++) {
    try {
      return root.openIn(folder, partName, NEW_PART_FLAGS, PART_CREATE_MODE, scope, shown);
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
