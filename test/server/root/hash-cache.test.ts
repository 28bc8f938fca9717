import { describe, expect, it } from 'vitest';
import { HashCache } from '../../../src/server/root/index.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const file = { dev: 1, ino: 42, size: 100, mtimeMs: 1_763_750_000_000, ctimeMs: 1_763_750_000_123.5 };

describe('HashCache', () => {
  it('returns the hash of exactly the version it was computed for', () => {
    const cache = new HashCache();
    expect(cache.get(file)).toBeUndefined();
    cache.set(file, SHA_A);
    expect(cache.get(file)).toBe(SHA_A);
    expect(cache.get({ ...file })).toBe(SHA_A);
  });

  it('misses once the mtime moved, and keeps missing', () => {
    const cache = new HashCache();
    cache.set(file, SHA_A);
    expect(cache.get({ ...file, mtimeMs: file.mtimeMs + 1 })).toBeUndefined();
    // The stale entry is dropped: even the old version no longer matches.
    expect(cache.get(file)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('misses once the inode changed (ctime), though size and mtime match: a client sets mtimes, and freed inodes are reused', () => {
    const cache = new HashCache();
    cache.set(file, SHA_A);
    expect(cache.get({ ...file, ctimeMs: file.ctimeMs + 0.001 })).toBeUndefined();
  });

  it('misses once the size changed (same mtime)', () => {
    const cache = new HashCache();
    cache.set(file, SHA_A);
    expect(cache.get({ ...file, size: file.size + 1 })).toBeUndefined();
  });

  it('keys on device and inode, so other files never match', () => {
    const cache = new HashCache();
    cache.set(file, SHA_A);
    expect(cache.get({ ...file, ino: 43 })).toBeUndefined();
    expect(cache.get({ ...file, dev: 2 })).toBeUndefined();
    expect(cache.get(file)).toBe(SHA_A);
  });

  it('a new version replaces the old', () => {
    const cache = new HashCache();
    cache.set(file, SHA_A);
    const edited = { ...file, size: 7, mtimeMs: file.mtimeMs + 5 };
    cache.set(edited, SHA_B);
    expect(cache.get(edited)).toBe(SHA_B);
    expect(cache.size).toBe(1);
  });

  it('is bounded and evicts the least recently used', () => {
    const cache = new HashCache(3);
    for (let ino = 1; ino <= 3; ino++) cache.set({ ...file, ino }, SHA_A);
    expect(cache.get({ ...file, ino: 1 })).toBe(SHA_A); // 1 is now the most recent
    cache.set({ ...file, ino: 4 }, SHA_B); // evicts 2
    expect(cache.size).toBe(3);
    expect(cache.get({ ...file, ino: 2 })).toBeUndefined();
    expect(cache.get({ ...file, ino: 1 })).toBe(SHA_A);
    expect(cache.get({ ...file, ino: 3 })).toBe(SHA_A);
    expect(cache.get({ ...file, ino: 4 })).toBe(SHA_B);
  });

  it('defaults to 100,000 entries and refuses a useless bound', () => {
    expect(new HashCache().maxEntries).toBe(100_000);
    expect(() => new HashCache(0)).toThrow(RangeError);
  });
});
