import { describe, expect, it } from 'vitest';
import { QUIET_MS, SAME_PEER_QUIET_MS, UploadLocks } from '../../../src/server/root/upload-locks.js';

const holder = (ip: string, cuts: string[] = []) => ({ ip, cut: () => cuts.push(ip) });

describe('UploadLocks', () => {
  it('lets one upload per path in at a time', () => {
    const locks = new UploadLocks();
    const first = locks.tryLock('a/b.txt', holder('10.0.0.1'));
    expect(first).not.toBeNull();
    expect(locks.tryLock('a/b.txt', holder('10.0.0.1'))).toBeNull();
    const other = locks.tryLock('a/c.txt', holder('10.0.0.1'));
    expect(other).not.toBeNull();
    first!.release();
    const again = locks.tryLock('a/b.txt', holder('10.0.0.1'));
    expect(again).not.toBeNull();
    first!.release(); // a stale release must not free the new holder's lock
    expect(locks.tryLock('a/b.txt', holder('10.0.0.1'))).toBeNull();
    again!.release();
    other!.release();
    expect(locks.isLocked('a/b.txt')).toBe(false);
  });

  it('a holder quiet for a moment is cut when its own address asks again; another address waits longer', () => {
    let now = 1_000_000;
    const locks = new UploadLocks(() => now);
    const cuts: string[] = [];
    const held = locks.tryLock('f.bin', holder('10.0.0.1', cuts))!;
    now += SAME_PEER_QUIET_MS - 1;
    expect(locks.tryLock('f.bin', holder('10.0.0.2'))).toBeNull();
    expect(locks.tryLock('f.bin', holder('10.0.0.1'))).toBeNull();
    expect(cuts).toEqual([]);
    held.touch(); // bytes moved: not quiet
    now += SAME_PEER_QUIET_MS;
    expect(locks.tryLock('f.bin', holder('10.0.0.2'))).toBeNull();
    expect(cuts).toEqual([]);
    expect(locks.tryLock('f.bin', holder('10.0.0.1'))).toBeNull();
    expect(cuts).toEqual(['10.0.0.1']); // cut once; the newcomer gets the lock once it lets go
    expect(locks.tryLock('f.bin', holder('10.0.0.1'))).toBeNull();
    expect(cuts).toEqual(['10.0.0.1']);
    held.release();
    expect(locks.tryLock('f.bin', holder('10.0.0.1'))).not.toBeNull();
  });

  it('another address takes over only after QUIET_MS', () => {
    let now = 0;
    const locks = new UploadLocks(() => now);
    const cuts: string[] = [];
    locks.tryLock('f.bin', holder('10.0.0.1', cuts));
    now += QUIET_MS - 1;
    locks.tryLock('f.bin', holder('10.0.0.9'));
    expect(cuts).toEqual([]);
    now += 1;
    locks.tryLock('f.bin', holder('10.0.0.9'));
    expect(cuts).toEqual(['10.0.0.1']);
  });
});
