/** Listing a folder of the Root: order, links=1, the depth bound, and sharing the event loop. */
import nodeFs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { memfs } from 'memfs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { byUtf8 } from '../../../src/files/utf8-order.js';
import { MAX_LIST_DEPTH, SORTED_FOLDER_MAX } from '../../../src/server/root/listing.js';
import { Root, type RootFs } from '../../../src/server/root/index.js';
import { wrapFs } from '../../helpers/fs-wrap.js';
import { collect } from './fs-doubles.js';

type Vol = ReturnType<typeof memfs>['fs'];

async function setUp(
  files: Record<string, string | null> = {},
  overrides: (vol: Vol) => Partial<RootFs> = () => ({}),
): Promise<{ root: Root; vol: Vol }> {
  const { fs: vol } = memfs({ '/srv/data': null, '/srv/outside/secret.txt': 'secret', ...files });
  const root = await Root.open('/srv/data', { fs: wrapFs(overrides(vol), vol as unknown as RootFs) });
  return { root, vol };
}

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
});

describe('byUtf8', () => {
  it('orders as the UTF-8 bytes do, without encoding', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const expected = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect(Math.sign(byUtf8(a, b))).toBe(expected);
      }),
    );
    // U+FF5E (3 bytes in UTF-8) sorts before U+1F600 (4 bytes), though its UTF-16 unit is larger.
    expect(byUtf8('\uff5e', '\u{1f600}')).toBeLessThan(0);
  });
});

describe('a listing of a large folder', () => {
  it('lets the event loop run while it works through the entries with synchronous lstat', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) files[`/srv/data/big/f${i}`] = '';
    let calls = 0;
    let callsWhenOthersRan = -1;
    const { root } = await setUp(files, (vol) => ({
      lstatSync: (file, options) => {
        calls += 1;
        // Once the synchronous part has begun, anything else waiting on the event loop...
        if (calls === 1) setImmediate(() => (callsWhenOthersRan = calls));
        return vol.lstatSync(file, options as never);
      },
    }));
    let listed = 0;
    for await (const entry of root.list('big')) if (entry.type === 'file') listed += 1;
    expect(listed).toBe(20_000);
    // ...runs before the listing is through, not after it.
    expect(callsWhenOthersRan).toBeGreaterThan(0);
    expect(callsWhenOthersRan).toBeLessThan(calls);
  });
});

describe('memory: a huge folder is never held whole (issue 14, finding 4)', () => {
  async function realRoot(count: number, track: { read: number }): Promise<Root> {
    const dir = await fsp.mkdtemp(path.join(tmpdir(), 'tcpsend-list-'));
    temps.push(dir);
    await fsp.mkdir(path.join(dir, 'big'));
    for (let i = 0; i < count; i++) await fsp.writeFile(path.join(dir, 'big', `f${i}`), '');
    const counted = (names: unknown[]) => {
      track.read += names.length;
      return names;
    };
    return Root.open(dir, {
      fs: wrapFs({
        readdirSync: ((at: string, options?: { withFileTypes: true }) => counted(nodeFs.readdirSync(at, options as never) as unknown[])) as RootFs['readdirSync'],
        opendirSync: (at, options) => {
          const folder = nodeFs.opendirSync(at, options);
          return {
            readSync: () => {
              const entry = folder.readSync();
              if (entry !== null) track.read += 1;
              return entry;
            },
            closeSync: () => folder.closeSync(),
          };
        },
      }),
    });
  }

  it(`a folder of more than ${SORTED_FOLDER_MAX} names is listed as it is read: never more than that many names ahead of what went out`, async () => {
    const count = SORTED_FOLDER_MAX + 5_000;
    const track = { read: 0 };
    const root = await realRoot(count, track);
    const seen = new Set<string>();
    let mostAhead = 0;
    for await (const entry of root.list('big')) {
      seen.add(entry.path);
      mostAhead = Math.max(mostAhead, track.read - seen.size);
    }
    expect(seen.size).toBe(count); // every name once
    expect(mostAhead).toBeLessThanOrEqual(SORTED_FOLDER_MAX + 1);
  });

  it(`a folder of up to ${SORTED_FOLDER_MAX} names is still listed in UTF-8 order`, async () => {
    const root = await realRoot(3_000, { read: 0 });
    const names: string[] = [];
    for await (const entry of root.list('big')) names.push(entry.path);
    expect(names).toHaveLength(3_000);
    expect(names).toEqual([...names].sort(byUtf8));
  });
});

describe('links=1', () => {
  it('lists a symlink whose relative target stays inside as type=link with its target; others as before', async () => {
    const { root, vol } = await setUp({ '/srv/data/sub/a.txt': 'abc', '/srv/data/b.txt': 'b' });
    vol.symlinkSync('../b.txt', '/srv/data/sub/to-b');
    vol.symlinkSync('sub', '/srv/data/sub-link');
    vol.symlinkSync('not-yet.txt', '/srv/data/dangling');
    vol.symlinkSync('/srv/data/b.txt', '/srv/data/absolute');
    vol.symlinkSync('../outside/secret.txt', '/srv/data/leak');
    const entries = await collect(root.list('', { recursive: true, links: true }));
    expect(entries.map((e) => [e.path, e.type, e.target])).toEqual([
      ['absolute', 'file', undefined], // absolute: followed, as without links=1
      ['b.txt', 'file', undefined],
      ['dangling', 'link', 'not-yet.txt'],
      ['sub', 'dir', undefined],
      ['sub/a.txt', 'file', undefined],
      ['sub/to-b', 'link', '../b.txt'],
      ['sub-link', 'link', 'sub'],
    ]);
    // Without links=1, nothing changes: links are followed, and dangling ones left out.
    const plain = await collect(root.list('', { recursive: true }));
    expect(plain.map((e) => [e.path, e.type])).toEqual([
      ['absolute', 'file'],
      ['b.txt', 'file'],
      ['sub', 'dir'],
      ['sub/a.txt', 'file'],
      ['sub/to-b', 'file'],
      ['sub-link', 'dir'],
    ]);
  });

  it('a relative link that passes through a symlink leading out is not a link to list', async () => {
    const { root, vol } = await setUp({ '/srv/data/x': null });
    vol.symlinkSync('/srv/outside', '/srv/data/out');
    vol.symlinkSync('out/secret.txt', '/srv/data/x/sneaky');
    vol.symlinkSync('../out/secret.txt', '/srv/data/x/sneakier');
    const entries = await collect(root.list('x', { links: true }));
    // x/out does not exist: 'sneaky' leads nowhere inside, and its text alone decides.
    expect(entries.map((e) => [e.path, e.type, e.target])).toEqual([['sneaky', 'link', 'out/secret.txt']]);
  });
});

describe('a deep tree', () => {
  it(`is walked ${MAX_LIST_DEPTH} levels deep and no deeper, at a cost that does not grow with the depth`, async () => {
    const dir = await fsp.realpath(await fsp.mkdtemp(path.join(tmpdir(), 'tcpsend-deep-')));
    temps.push(dir);
    // 1,000 levels of one-letter folders (the path stays under PATH_MAX).
    let at = dir;
    for (let i = 0; i < 1000; i++) at = path.join(at, 'd');
    await fsp.mkdir(at, { recursive: true });
    await fsp.writeFile(path.join(at, 'bottom.txt'), 'x');
    const root = await Root.open(dir);
    const started = performance.now();
    const entries = await collect(root.list('', { recursive: true }));
    const ms = performance.now() - started;
    expect(entries).toHaveLength(MAX_LIST_DEPTH);
    expect(entries.at(-1)!.path).toBe(Array.from({ length: MAX_LIST_DEPTH }, () => 'd').join('/'));
    expect(entries.some((e) => e.path.endsWith('bottom.txt'))).toBe(false);
    // It once took 10-17 s of server time; generous on a shared machine.
    expect(ms).toBeLessThan(3000);
  });
});
