/**
 * SYMLINK: make a symlink in the root whose target is relative and resolves inside it. The
 * link is made under a part name and renamed over its name, as an upload is, so a name never
 * holds half of anything.
 */
import path from 'node:path';
import { BadRequestError, ForbiddenError, IsDirectoryError, NotFoundError } from '../../errors.js';
import { partNameFor } from '../../files/index.js';
import { quotePath } from '../../files/quote-path.js';
import { errnoCode, toStorageError } from './fs-errors.js';
import type { Folder, FolderScope } from './folders.js';
import type { Root } from './root.js';

/** What is at a symlink's name now. */
export type LinkDestination = { type: 'none' } | { type: 'dir' } | { type: 'file' } | { type: 'link'; target: string };

/**
 * ForbiddenError unless `target`, a symlink's text for a link at `segments`, is relative and
 * resolves inside the root (lexically, and through the folders it passes that exist).
 */
export function checkLinkTarget(root: Root, segments: readonly string[], target: string): void {
  if (target === '') throw new BadRequestError('a symlink needs a target');
  if (target.startsWith('/')) throw new ForbiddenError(`the symlink target ${quotePath(target)} is not relative`);
  const resolved = path.posix.normalize(path.posix.join(segments.slice(0, -1).join('/') || '.', target));
  if (resolved === '.' || resolved === '..' || resolved.startsWith('../') || resolved.startsWith('/')) {
    throw new ForbiddenError(`the symlink target ${quotePath(target)} leads outside the served folder`);
  }
  // The characters, the names, partial files and hidden names: as any request path.
  const targetSegments = root.segments(resolved);
  try {
    root.withScope((scope) => root.folder(targetSegments.slice(0, -1), scope));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err; // not there yet: its text alone decides
  }
}

/**
 * Put a symlink to `target` at `segments` (folders made as needed), after `decide` has seen
 * what is there: it returns false for "already so" (the same link), throws to refuse. With
 * `held` (a client's folder get), the folders are resolved in that scope, and those written
 * are added to its `touched` for the caller to fsync once with its others; without, they are
 * fsynced now.
 */
export function placeSymlink(
  root: Root,
  segments: readonly string[],
  target: string,
  decide: (now: LinkDestination) => boolean,
  held?: { scope: FolderScope; touched: Set<Folder> },
): boolean {
  const place = (scope: FolderScope): boolean => {
    const touched = held?.touched ?? new Set<Folder>();
    const { folder, name, shown, stats } = root.entry(segments, scope, true, true, touched);
    const at = (n: string) => root.at(folder, n, scope, shown);
    let now: LinkDestination = { type: 'none' };
    if (stats?.isDirectory()) now = { type: 'dir' };
    else if (stats?.isSymbolicLink()) now = { type: 'link', target: String(root.fs.readlinkSync(at(name))) };
    else if (stats !== undefined) now = { type: 'file' };
    if (now.type === 'dir') throw new IsDirectoryError(`${quotePath(shown)} is a folder`);
    if (!decide(now)) return false;
    const partName = partNameFor(name);
    try {
      try {
        root.fs.unlinkSync(at(partName));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      root.fs.symlinkSync(target, at(partName));
      root.fs.renameSync(at(partName), at(name));
      root.confirm(folder, shown);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    touched.add(folder);
    if (!held) for (const made of touched) root.syncFolder(made, scope, shown);
    return true;
  };
  return held ? place(held.scope) : root.withScope(place);
}
