/**
 * Symlinks in a folder transfer (docs/security.md, "Symlinks in folder transfers"): a link
 * inside the tree that points inside the tree is recreated as a link, as `rsync -l` does; no
 * link is ever followed, and every other link is skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

/** In the temporary name a link is made under before it is renamed into place. */
export const TEMP_LINK_MARK = '.tcpsend-link-';

/**
 * Whether a link at `rel` ('/'-separated, relative to the synced folder) whose text is `target`
 * stays inside the folder: a relative target that, read from the link's own folder, never
 * climbs above the top. Lexical on purpose: it judges the link as it will be recreated, on a
 * side where none of the names it passes through need exist.
 */
export function linkStaysInside(rel: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(target) || /^[A-Za-z]:/.test(target)) {
    return false;
  }
  const at = rel.split('/').slice(0, -1);
  for (const name of target.split('/')) {
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (at.length === 0) return false;
      at.pop();
    } else at.push(name);
  }
  return true;
}

/** Why a link is not recreated, for the summary (null: it is). */
export function linkSkipReason(rel: string, target: string): string | null {
  if (target.startsWith('/')) return 'absolute symlinks (not followed, not recreated)';
  if (!linkStaysInside(rel, target)) return 'symlinks that lead out of the folder (not followed)';
  return null;
}

/**
 * Make `abs` a symlink to `target`, atomically: the link is made under a temporary name beside
 * it and renamed over `abs` (which may be a file or another link, never a folder).
 */
export function placeSymlinkSync(abs: string, target: string): void {
  const temp = path.join(path.dirname(abs), `.${path.basename(abs)}${TEMP_LINK_MARK}${process.pid}`);
  fs.rmSync(temp, { force: true });
  fs.symlinkSync(target, temp);
  try {
    fs.renameSync(temp, abs);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
