import fc from 'fast-check';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utimesSeconds, wholeMilliseconds } from '../../src/files/index.js';

let folder: string;
beforeAll(async () => {
  folder = await fsp.mkdtemp(path.join(tmpdir(), 'tcpsend-mtime-'));
});
afterAll(async () => {
  await fsp.rm(folder, { recursive: true, force: true });
});

describe('millisecond mtimes', () => {
  it('wholeMilliseconds floors', () => {
    expect(wholeMilliseconds(1_700_000_000_122.99)).toBe(1_700_000_000_122);
    expect(wholeMilliseconds(5)).toBe(5);
  });

  it('a Date written through utimes can read back a millisecond early (why utimesSeconds exists)', async () => {
    const file = path.join(folder, 'date.txt');
    await fsp.writeFile(file, '');
    await fsp.utimes(file, new Date(), new Date(1_700_000_000_123));
    expect(wholeMilliseconds((await fsp.stat(file)).mtimeMs)).toBe(1_700_000_000_122);
  });

  it('utimesSeconds: any whole-ms mtime reads back exactly, on the real file system', async () => {
    const file = path.join(folder, 'f.txt');
    await fsp.writeFile(file, '');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4_102_444_800_000 }), async (mtimeMs) => {
        await fsp.utimes(file, new Date(), utimesSeconds(mtimeMs));
        const { mtimeMs: read } = await fsp.stat(file);
        expect(wholeMilliseconds(read)).toBe(mtimeMs);
        expect(Math.round(read)).toBe(mtimeMs);
      }),
      { numRuns: 300 },
    );
  });
});
