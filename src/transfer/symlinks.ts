/**
 * Symlinks in a folder transfer (docs/security.md, "Symlinks in folder transfers"): a link
 * inside the tree that points inside the tree is recreated as a link, as `rsync -l` does; no
 * link is ever followed, and every other link is skipped.
 */

/**
 * In the temporary name older versions made a link under before renaming it into place: a walk
 * still passes over one left behind. (A folder get now places links through the destination's
 * boundary, under the part name: LocalFolder.placeSymlink.)
 */
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
