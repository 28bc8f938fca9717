/** walkLocal: order, symlinks reported and never followed, filters, own temporary names. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PathFilter } from '../../src/transfer/filter.js';
import { walkLocal, type LocalEntry } from '../../src/transfer/walk.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function tree(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-walk-'));
  dirs.push(dir);
  const outside = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-walk-out-'));
  dirs.push(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'outside');
  fs.mkdirSync(path.join(dir, 'b/c'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
  fs.writeFileSync(path.join(dir, 'b/c/d.log'), 'dd');
  fs.writeFileSync(path.join(dir, 'b/.x.tcpsend-part'), 'part');
  fs.writeFileSync(path.join(dir, 'b/.l.tcpsend-link-123'), 'temp');
  fs.symlinkSync('a.txt', path.join(dir, 'in-link'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(dir, 'out-file'));
  fs.symlinkSync(outside, path.join(dir, 'out-dir'));
  return dir;
}

function all(gen: Generator<LocalEntry>): LocalEntry[] {
  return [...gen];
}

describe('walkLocal', () => {
  it('folders before their contents, byte order; links as links with their text; no part or temporary files', async () => {
    const dir = await tree();
    const entries = all(walkLocal(dir));
    expect(entries.map((e) => `${e.rel}:${e.type}${e.target ? `->${e.target}` : ''}`)).toEqual([
      'a.txt:file',
      'b:dir',
      'b/c:dir',
      'b/c/d.log:file',
      'in-link:link->a.txt',
      `out-dir:link->${dirs[1]!}`,
      `out-file:link->${path.join(dirs[1]!, 'secret')}`,
    ]);
    // Never followed: the outside folder's file is not walked.
    expect(entries.some((e) => e.rel.includes('secret'))).toBe(false);
    expect(entries.find((e) => e.rel === 'b/c/d.log')).toMatchObject({ size: 2, mtimeMs: Math.floor(fs.statSync(path.join(dir, 'b/c/d.log')).mtimeMs) });
  });

  it('a filter leaves entries out and excluded folders unentered; markExcluded yields them marked instead', async () => {
    const dir = await tree();
    const filter = new PathFilter([{ kind: 'exclude', pattern: 'c/' }, { kind: 'exclude', pattern: 'in-*' }]);
    expect((all(walkLocal(dir, { filter }))).map((e) => e.rel)).toEqual(['a.txt', 'b', 'out-dir', 'out-file']);
    const marked = all(walkLocal(dir, { filter, markExcluded: true }));
    expect(marked.filter((e) => e.excluded).map((e) => e.rel)).toEqual(['b/c', 'in-link']);
    expect(marked.some((e) => e.rel === 'b/c/d.log')).toBe(false);
  });

  it('a folder that vanishes after it was seen is skipped and named, and the walk goes on (rsync: file has vanished)', async () => {
    const dir = await tree();
    const skipped: string[] = [];
    const walk = walkLocal(dir, { onSkip: (rel, why) => skipped.push(`${rel}: ${why}`) });
    const seen: string[] = [];
    for (let step = walk.next(); !step.done; step = walk.next()) {
      seen.push(step.value.rel);
      // 'b' is yielded before the walk goes into it: a racing user removes it then.
      if (step.value.rel === 'b') fs.rmSync(path.join(dir, 'b'), { recursive: true });
    }
    expect(seen).toContain('b');
    expect(seen.some((rel) => rel.startsWith('b/'))).toBe(false);
    expect(seen).toContain('in-link'); // entries after it are still walked
    expect(skipped).toEqual(['b: vanished while the folder was read']);
  });

  it.each([
    ['swapped for a symlink to the outside', (dir: string, outside: string) => fs.symlinkSync(outside, path.join(dir, 'b'))],
    ['swapped for another folder', (dir: string) => fs.mkdirSync(path.join(dir, 'b'))],
  ])('a folder %s after it was seen is not walked into: nothing but what was inside is listed', async (_how, swap) => {
    const dir = await tree();
    const outside = path.dirname(fs.readlinkSync(path.join(dir, 'out-file')));
    const skipped: string[] = [];
    const walk = walkLocal(dir, { onSkip: (rel, why) => skipped.push(`${rel}: ${why}`) });
    const seen: string[] = [];
    for (let step = walk.next(); !step.done; step = walk.next()) {
      seen.push(step.value.rel);
      // 'b' is yielded before the walk goes into it: a racing user swaps it then.
      if (step.value.rel === 'b') {
        fs.renameSync(path.join(dir, 'b'), path.join(dir, 'b.aside'));
        swap(dir, outside);
      }
    }
    expect(seen.filter((rel) => rel.startsWith('b/'))).toEqual([]);
    expect(skipped).toEqual(['b: replaced while the folder was read (not followed)']);
  });

  it('the folder it was asked to walk must be there', () => {
    expect(() => [...walkLocal(path.join(os.tmpdir(), 'tcpsend-walk-no-such-folder'))]).toThrow(/ENOENT/);
  });
});
