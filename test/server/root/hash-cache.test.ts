import { describe, expect, it } from 'vitest';
import { HashCache } from '../../../src/server/root/index.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const file = { dev: 1, ino: 42, size: 100, mtimeMs: 1_763_750_000_000, ctimeMs: 1_763_750_000_123.5 };

describe('HashCache', () => {
  it('returns the hash of exactly the version it was computed for', () => {
    const cache = new HashCache();
    expect(cache.get(file, 'sha256')).toBeUndefined();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get(file, 'sha256')).toBe(SHA_A);
    expect(cache.get({ ...file }, 'sha256')).toBe(SHA_A);
  });

  it('misses once the mtime moved, and keeps missing', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get({ ...file, mtimeMs: file.mtimeMs + 1 }, 'sha256')).toBeUndefined();
    // The stale entry is dropped: even the old version no longer matches.
    expect(cache.get(file, 'sha256')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('misses once the inode changed (ctime), though size and mtime match: a client sets mtimes, and freed inodes are reused', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get({ ...file, ctimeMs: file.ctimeMs + 0.001 }, 'sha256')).toBeUndefined();
  });

  it('misses once the size changed (same mtime)', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get({ ...file, size: file.size + 1 }, 'sha256')).toBeUndefined();
  });

  it('keys on device and inode, so other files never match', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get({ ...file, ino: 43 }, 'sha256')).toBeUndefined();
    expect(cache.get({ ...file, dev: 2 }, 'sha256')).toBeUndefined();
    expect(cache.get(file, 'sha256')).toBe(SHA_A);
  });

  it('a new version replaces the old', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    const edited = { ...file, size: 7, mtimeMs: file.mtimeMs + 5 };
    cache.set(edited, 'sha256', SHA_B);
    expect(cache.get(edited, 'sha256')).toBe(SHA_B);
    expect(cache.size).toBe(1);
  });

  it('is bounded and evicts the least recently used', () => {
    const cache = new HashCache(3);
    for (let ino = 1; ino <= 3; ino++) cache.set({ ...file, ino }, 'sha256', SHA_A);
    expect(cache.get({ ...file, ino: 1 }, 'sha256')).toBe(SHA_A); // 1 is now the most recent
    cache.set({ ...file, ino: 4 }, 'sha256', SHA_B); // evicts 2
    expect(cache.size).toBe(3);
    expect(cache.get({ ...file, ino: 2 }, 'sha256')).toBeUndefined();
    expect(cache.get({ ...file, ino: 1 }, 'sha256')).toBe(SHA_A);
    expect(cache.get({ ...file, ino: 3 }, 'sha256')).toBe(SHA_A);
    expect(cache.get({ ...file, ino: 4 }, 'sha256')).toBe(SHA_B);
  });

  it('keeps a digest per algorithm for one version, and drops them all when it changes', () => {
    const cache = new HashCache();
    cache.set(file, 'sha256', SHA_A);
    expect(cache.get(file, 'blake3')).toBeUndefined();
    cache.set(file, 'blake3', SHA_B);
    expect(cache.get(file, 'sha256')).toBe(SHA_A);
    expect(cache.get(file, 'blake3')).toBe(SHA_B);
    expect(cache.size).toBe(1);
    const edited = { ...file, mtimeMs: file.mtimeMs + 1 };
    cache.set(edited, 'blake3', SHA_A);
    expect(cache.get(edited, 'sha256')).toBeUndefined(); // the old version's SHA-256 is gone
    expect(cache.get(edited, 'blake3')).toBe(SHA_A);
  });

  it('defaults to 100,000 entries and refuses a useless bound', () => {
    expect(new HashCache().maxEntries).toBe(100_000);
    expect(() => new HashCache(0)).toThrow(RangeError);
  });
});
