/**
 * Digests of whole files, remembered by identity and version, one per checksum algorithm.
 *
 * "the server includes the file's digest, computing it if its cache (keyed by device, inode,
 * size, mtime and ctime) does not hold it." A file is found by (dev, ino); its digests are only
 * trusted while size, mtime and ctime are the ones they were computed for, so an edited file
 * misses, even one whose mtime was set back.
 * A file served to a BLAKE3 client and to a SHA-256 one keeps both digests in one entry.
 */
import type { ChecksumName } from '../../hash/names.js';

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
  digests: Partial<Record<ChecksumName, string>>;
}

// 100,000 entries (about 15 MB): a served tree larger than the cache would evict every entry
// on each full sync, and large files would be hashed again on every pass.
export const DEFAULT_HASH_CACHE_ENTRIES = 100_000;

/** A bounded LRU map from file version to its digests (hex), by algorithm. */
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

  /** The `checksum` digest of exactly this version of the file, or undefined. */
  get(file: FileVersion, checksum: ChecksumName): string | undefined {
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
    return entry.digests[checksum];
  }

  set(file: FileVersion, checksum: ChecksumName, digest: string): void {
    const key = keyOf(file);
    const old = this.#entries.get(key);
    this.#entries.delete(key);
    // The other algorithms' digests stay if they are of this very version.
    const same = old !== undefined && old.size === file.size && old.mtimeMs === file.mtimeMs && old.ctimeMs === file.ctimeMs;
    const digests = same ? { ...old.digests, [checksum]: digest } : { [checksum]: digest };
    this.#entries.set(key, { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, digests });
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
