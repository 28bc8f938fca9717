/**
 * Walk a local folder depth-first, folders before their contents, names in byte order, one
 * folder's entries in memory at a time (so 100,000 files cost no more than the widest folder).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface LocalEntry {
  /** Relative to the walked folder, '/'-separated. */
  rel: string;
  abs: string;
  type: 'file' | 'dir';
  size: number;
  mtimeMs: number;
  mode: number;
}

export interface WalkOptions {
  /** Told about entries that are skipped (sockets, symlinked folders, unreadable ones). */
  onSkip?: (rel: string, why: string) => void;
}

export async function* walkLocal(root: string, options: WalkOptions = {}, prefix = ''): AsyncGenerator<LocalEntry> {
  // Synchronous calls: a walk of many small files is a stream of tiny calls, each cheaper
  // than a round trip through the thread pool.
  const names = fs.readdirSync(path.join(root, prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    if (name.endsWith('.tcpsend-part')) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    const abs = path.join(root, rel);
    let link = false;
    let st;
    try {
      const lst = fs.lstatSync(abs);
      link = lst.isSymbolicLink();
      st = link ? fs.statSync(abs) : lst;
    } catch (err) {
      options.onSkip?.(rel, (err as Error).message);
      continue;
    }
    const common = { rel, abs, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), mode: st.mode & 0o777 };
    if (st.isDirectory()) {
      if (link) {
        options.onSkip?.(rel, 'a symlink to a folder (not followed, to avoid loops)');
        continue;
      }
      yield { ...common, type: 'dir', size: 0 };
      yield* walkLocal(root, options, rel);
    } else if (st.isFile()) {
      yield { ...common, type: 'file' };
    } else {
      options.onSkip?.(rel, 'not a regular file or folder');
    }
  }
}
