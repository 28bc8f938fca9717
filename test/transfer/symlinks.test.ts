/** Which symlinks a folder transfer recreates: those that stay inside the folder. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkSkipReason, linkStaysInside, placeSymlinkSync } from '../../src/transfer/symlinks.js';

describe('linkStaysInside', () => {
  it.each([
    ['a', 'b.txt', true],
    ['sub/a', '../b.txt', true],
    ['sub/deeper/a', '../../b.txt', true],
    ['a', './sub/../b', true],
    ['a', '.', true],
    ['a', '../outside', false],
    ['sub/a', '../../outside', false],
    ['a', 'sub/../../x', false],
    ['a', '/etc/hostname', false],
    ['a', '', false],
    ['a', 'C:x', false],
    ['a', 'x\u0000y', false],
    ['a', 'x\\..\\..\\y', false],
  ])('%s → %s: %s', (rel, target, inside) => {
    expect(linkStaysInside(rel, target)).toBe(inside);
  });

  it('says why a link is skipped', () => {
    expect(linkSkipReason('a', '/etc/hostname')).toMatch(/absolute/);
    expect(linkSkipReason('a', '../x')).toMatch(/lead out/);
    expect(linkSkipReason('a', 'b')).toBeNull();
  });
});

describe('placeSymlinkSync', () => {
  it('makes a link, and replaces a file or a link atomically, leaving no temporary name', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-links-'));
    try {
      const at = path.join(dir, 'l');
      placeSymlinkSync(at, 'first');
      expect(fs.readlinkSync(at)).toBe('first');
      placeSymlinkSync(at, 'second');
      expect(fs.readlinkSync(at)).toBe('second');
      fs.rmSync(at);
      fs.writeFileSync(at, 'a file');
      placeSymlinkSync(at, 'third');
      expect(fs.readlinkSync(at)).toBe('third');
      expect(fs.readdirSync(dir)).toEqual(['l']);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
