/**
 * SHA-256 of whole files, remembered by identity and version.
 *
 * "the server includes the file's SHA-256, computing it if its cache (keyed by device, inode,
 * size and mtime) does not hold it." A file is found by (dev, ino); its hash is only trusted
 * while size and mtime are the ones it was computed for, so an edited file misses.
 */

/** What identifies one version of a file: a subset of the Root's FileInfo. */
export interface FileVersion {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /**
   * The inode's change time. A client sets a file's mtime, and a file system reuses a freed
   * inode at once: a new file could then match an old one's device, inode, size and mtime, and
   * be given its hash. No client can set ctime, and every write, rename or chmod moves it.
   */
  ctimeMs: number;
}

interface Entry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  sha256: string;
}

// 100,000 entries (about 15 MB): a served tree larger than the cache would evict every entry
// on each full sync, and large files would be hashed again on every pass.
export const DEFAULT_HASH_CACHE_ENTRIES = 100_000;

/** A bounded LRU map from file version to SHA-256 hex. */
export class HashCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<string, Entry>();

  constructor(readonly maxEntries: number = DEFAULT_HASH_CACHE_ENTRIES) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The SHA-256 of exactly this version of the file, or undefined. */
  get(file: FileVersion): string | undefined {
    const key = keyOf(file);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.size !== file.size || entry.mtimeMs !== file.mtimeMs || entry.ctimeMs !== file.ctimeMs) {
      // The file changed since: that hash will never be right again.
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.sha256;
  }

  set(file: FileVersion, sha256: string): void {
    const key = keyOf(file);
    this.#entries.delete(key);
    this.#entries.set(key, { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, sha256 });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(file: FileVersion): void {
    this.#entries.delete(keyOf(file));
  }

  clear(): void {
    this.#entries.clear();
  }
}

function keyOf(file: FileVersion): string {
  return `${file.dev}:${file.ino}`;
}
