/**
 * What a folder transfer does with one source entry, given what the destination holds at its
 * path: the quick check (a file is unchanged when its size and mtime match, as rsync decides;
 * neither end reads it), and the source wins otherwise. Pure, for both directions: the source
 * is the local walk for a put and the listing for a get, and the other is the destination.
 */

/** An entry as both a listing and the local walk describe it. */
export interface TreeEntry {
  type: 'file' | 'dir' | 'link';
  /** Bytes; null or 0 for what is not a file. */
  size: number | null;
  /** Whole milliseconds. */
  mtimeMs: number;
  mode: number;
  target?: string;
}

export type Verdict =
  /** Nothing there: send it. */
  | 'new'
  /** The same (quick check, or the same link text, or a folder there already). */
  | 'unchanged'
  /** A file of the same size whose mtime may differ: --checksum compares the contents. */
  | 'compare-content'
  /** Different: the source's version replaces it. */
  | 'replace'
  /** Different, and --ignore-existing keeps what is there. */
  | 'keep'
  /** Something of another kind is there: it must go first (a folder only with --delete). */
  | 'in-the-way';

export interface CompareOptions {
  checksum?: boolean;
  ignoreExisting?: boolean;
}

export function compareEntry(source: TreeEntry, there: TreeEntry | undefined, options: CompareOptions = {}): Verdict {
  if (there === undefined) return 'new';
  if (source.type === 'dir') return there.type === 'dir' ? 'unchanged' : 'in-the-way';
  if (there.type === 'dir') return 'in-the-way';
  if (source.type === 'link') {
    if (there.type === 'link' && there.target === source.target) return 'unchanged';
    return options.ignoreExisting ? 'keep' : 'replace';
  }
  if (there.type === 'link') return options.ignoreExisting ? 'keep' : 'in-the-way';
  if (source.size === there.size) {
    if (options.checksum) return 'compare-content';
    if (source.mtimeMs === there.mtimeMs) return 'unchanged';
  }
  return options.ignoreExisting ? 'keep' : 'replace';
}

/** Whether a folder's own attributes (mtime, mode) differ: a folder there is updated, not replaced. */
export function folderAttributesDiffer(source: TreeEntry, there: TreeEntry | undefined): boolean {
  return there === undefined || there.mtimeMs !== source.mtimeMs || (there.mode & 0o777) !== (source.mode & 0o777);
}

/**
 * The destination entries a --delete removes: those the source does not have (`kept`) and no
 * rule protects (`isProtected`: excluded by the filters, or hidden from the source). `entries`
 * come depth-first, each folder before its contents, as listings and walks give them. A folder
 * that goes takes everything in it, so its contents are not named again; a folder that holds
 * something protected does not go whole: only its unprotected contents do.
 */
export function entriesToDelete<E extends { rel: string; type: string }>(
  entries: Iterable<E>,
  kept: (rel: string) => boolean,
  isProtected: (entry: E) => boolean,
): E[] {
  const all = [...entries];
  // Folders that hold a protected entry somewhere below them.
  const holdsProtected = new Set<string>();
  for (const entry of all) {
    if (kept(entry.rel) || !isProtected(entry)) continue;
    for (let slash = entry.rel.lastIndexOf('/'); slash > 0; slash = entry.rel.lastIndexOf('/', slash - 1)) {
      holdsProtected.add(entry.rel.slice(0, slash));
    }
  }
  const gone: E[] = [];
  let goingFolder: string | null = null;
  for (const entry of all) {
    if (goingFolder !== null && entry.rel.startsWith(`${goingFolder}/`)) continue;
    goingFolder = null;
    if (kept(entry.rel) || isProtected(entry)) continue;
    if (entry.type === 'dir' && holdsProtected.has(entry.rel)) continue; // its contents are judged one by one
    gone.push(entry);
    if (entry.type === 'dir') goingFolder = entry.rel;
  }
  return gone;
}
