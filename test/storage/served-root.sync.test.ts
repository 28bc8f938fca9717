/**
 * ServedRoot's synchronous side (the batch verbs: openReadSync, uploadTargetSync, storeSync,
 * syncFoldersSync) over an in-memory file system, with faults injected into single calls.
 */
import { memfs } from 'memfs';
import { describe, expect, it } from 'vitest';
import {
  ServedRoot,
  partNameFor,
  FolderCache,
  type FsSync,
} from '../../src/storage/index.js';
import { errno } from './fs-doubles.js';

const MTIME = 1_763_750_000_000;
type Vol = ReturnType<typeof memfs>['fs'];

async function setUp(
  files: Record<string, string | null> = {},
  overrides: (vol: Vol) => Partial<FsSync> = () => ({}),
): Promise<{ root: ServedRoot; vol: Vol; folders: FolderCache }> {
  const { fs: vol } = memfs({ '/srv/data': null, '/srv/outside/secret.txt': 'secret', ...files });
  const fsSync = new Proxy(vol as unknown as FsSync, {
    get: (target, key: string) => overrides(vol)[key as keyof FsSync] ?? (target as unknown as Record<string, unknown>)[key],
  });
  const root = await ServedRoot.open('/srv/data', { fs: vol.promises, fsSync });
  return { root, vol, folders: new FolderCache() };
}

function store(root: ServedRoot, folders: FolderCache, path: string, body: string, touched = new Set<string>()) {
  return root.storeSync(root.uploadTargetSync(path, folders), Buffer.from(body), { mtimeMs: MTIME, mode: 0o640 }, folders, touched);
}

describe('storeSync', () => {
  it('writes a file whole into new folders, with its mtime and mode, and leaves no part', async () => {
    const { root, vol, folders } = await setUp();
    const touched = new Set<string>();
    store(root, folders, 'a/b/c.txt', 'hello', touched);
    expect(vol.readFileSync('/srv/data/a/b/c.txt', 'utf8')).toBe('hello');
    const stats = vol.statSync('/srv/data/a/b/c.txt');
    expect(Number(stats.mode) & 0o777).toBe(0o640);
    expect(Math.floor(Number(stats.mtimeMs))).toBe(MTIME);
    expect(vol.readdirSync('/srv/data/a/b')).toEqual(['c.txt']);
    expect([...touched].sort()).toEqual(['/srv/data', '/srv/data/a', '/srv/data/a/b']); // new folders' names are durable too
  });

  it('replaces a file that is there (the caller decided it may)', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/x.txt': 'old content' });
    const target = root.uploadTargetSync('x.txt', folders);
    expect(target.existing).toMatchObject({ type: 'file', size: 11 });
    root.storeSync(target, Buffer.from('new'), {}, folders, new Set());
    expect(vol.readFileSync('/srv/data/x.txt', 'utf8')).toBe('new');
  });

  it('replaces a symlink that leads nowhere (never writes through it)', async () => {
    const { root, vol, folders } = await setUp();
    vol.symlinkSync('/srv/data/gone.txt', '/srv/data/link.txt');
    const target = root.uploadTargetSync('link.txt', folders);
    expect(target.existing).toBeNull();
    root.storeSync(target, Buffer.from('now a file'), {}, folders, new Set());
    expect(vol.lstatSync('/srv/data/link.txt').isFile()).toBe(true);
    expect(vol.readFileSync('/srv/data/link.txt', 'utf8')).toBe('now a file');
    expect(vol.existsSync('/srv/data/gone.txt')).toBe(false);
  });

  it('never replaces a folder', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d/inner.txt': 'keep' });
    const target = root.uploadTargetSync('d', folders);
    expect(target.existing).toMatchObject({ type: 'dir' });
    expect(() => root.storeSync(target, Buffer.from('x'), {}, folders, new Set())).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_IS_DIRECTORY' }));
    expect(vol.readFileSync('/srv/data/d/inner.txt', 'utf8')).toBe('keep');
    expect(vol.readdirSync('/srv/data')).toEqual(['d']);
  });

  it('a full disk mid-write is NO_SPACE, and neither a part nor a file is left (an old file stays)', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/keep.txt': 'old' }, () => ({
      writeSync: () => {
        throw errno('ENOSPC');
      },
    }));
    expect(() => store(root, folders, 'new.txt', 'data')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NO_SPACE' }));
    expect(() => store(root, folders, 'keep.txt', 'data')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NO_SPACE' }));
    expect(vol.readdirSync('/srv/data')).toEqual(['keep.txt']);
    expect(vol.readFileSync('/srv/data/keep.txt', 'utf8')).toBe('old');
  });

  it('a failed fsync leaves no part and no file', async () => {
    const { root, vol, folders } = await setUp({}, () => ({
      fsyncSync: () => {
        throw errno('EIO');
      },
    }));
    expect(() => store(root, folders, 'f.txt', 'data')).toThrow();
    expect(vol.readdirSync('/srv/data')).toEqual([]);
  });

  it('refuses partial-file names, dotfiles and escapes before touching the disk', async () => {
    const { root, vol, folders } = await setUp();
    expect(() => root.uploadTargetSync(partNameFor('a.txt'), folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(() => root.uploadTargetSync('.ssh/authorized_keys', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(() => root.uploadTargetSync('../outside/secret.txt', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_BAD_PATH' }));
    expect(vol.readdirSync('/srv/data')).toEqual([]);
    expect(vol.readFileSync('/srv/outside/secret.txt', 'utf8')).toBe('secret');
  });

  it('a file where a folder must be is NOT_DIRECTORY', async () => {
    const { root, folders } = await setUp({ '/srv/data/f': 'a file' });
    expect(() => store(root, folders, 'f/inside.txt', 'x')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NOT_DIRECTORY' }));
  });
});

describe('openReadSync', () => {
  it('reads a file whole, and names what is missing or a folder', async () => {
    const { root, folders } = await setUp({ '/srv/data/s/a.txt': 'hello', '/srv/data/s/d': null });
    const file = root.openReadSync('s/a.txt', folders);
    try {
      expect(file.info).toMatchObject({ type: 'file', size: 5 });
      expect(file.readAll().toString()).toBe('hello');
    } finally {
      file.close();
    }
    expect(() => root.openReadSync('s/missing.txt', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NOT_FOUND' }));
    expect(() => root.openReadSync('s/d', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_IS_DIRECTORY' }));
  });

  it('a file that grows while it is read is CHANGED, not a mix of two versions', async () => {
    let grown = false;
    const { root, folders } = await setUp({ '/srv/data/g.txt': 'abc' }, (vol) => ({
      readSync: (fd, buffer, offset, length, position) => {
        if (!grown) {
          grown = true;
          vol.appendFileSync('/srv/data/g.txt', 'more');
        }
        return vol.readSync(fd, buffer, offset, length, position);
      },
    }));
    const file = root.openReadSync('g.txt', folders);
    try {
      expect(() => file.readAll()).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_CHANGED' }));
    } finally {
      file.close();
    }
  });
});

describe('syncFolderSync', () => {
  it('a batch touches each folder it wrote in, or created a folder in, once; each is fsynced', async () => {
    const synced: number[] = [];
    const { root, folders } = await setUp({}, (vol) => ({
      fsyncSync: (fd) => {
        synced.push(fd);
        vol.fsyncSync(fd);
      },
    }));
    const touched = new Set<string>();
    store(root, folders, 'a/1.txt', '1', touched);
    store(root, folders, 'a/2.txt', '2', touched);
    store(root, folders, 'b/3.txt', '3', touched);
    // a/ and b/ were created: the root is touched too (their names in it), and each once.
    expect([...touched].sort()).toEqual(['/srv/data', '/srv/data/a', '/srv/data/b']);
    synced.length = 0;
    for (const folder of touched) root.syncFolderSync(folder);
    expect(synced).toHaveLength(3);
  });
});

describe('a batch keeps to the root while it works', () => {
  it('a folder swapped for a symlink between two files: the second is refused and nothing lands outside', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d': null });
    store(root, folders, 'd/a.txt', 'first');
    // A local user moves the folder away and puts a symlink to a folder outside in its place.
    vol.renameSync('/srv/data/d', '/srv/data-old');
    vol.symlinkSync('/srv/outside', '/srv/data/d');
    expect(() => store(root, folders, 'd/pwned.txt', 'data')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(vol.readdirSync('/srv/outside')).toEqual(['secret.txt']);
  });

  it('a folder swapped after the checks, while the bytes are written: the rename is refused', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d': null }, (v) => ({
      fsyncSync: (fd) => {
        v.fsyncSync(fd);
        if (v.existsSync('/srv/data/d') && !v.lstatSync('/srv/data/d').isSymbolicLink()) {
          v.renameSync('/srv/data/d', '/srv/outside/d');
          v.symlinkSync('/srv/outside/d', '/srv/data/d');
        }
      },
    }));
    expect(() => store(root, folders, 'd/late.txt', 'data')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    // No file under its final name outside. The part went with the folder that was moved; it
    // is not chased through the symlink to be removed (nothing is done through a swapped folder).
    expect(vol.readdirSync('/srv/outside/d')).toEqual([partNameFor('late.txt')]);
  });

  it('a folder swapped between two files: what is outside is not looked at (no EXISTS for a file out there)', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d': null });
    store(root, folders, 'd/a.txt', 'first');
    vol.renameSync('/srv/data/d', '/srv/data-old');
    vol.symlinkSync('/srv/outside', '/srv/data/d');
    expect(() => root.uploadTargetSync('d/secret.txt', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
  });

  it('a folder swapped just before the part is created: nothing is created or removed outside', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d': null, [`/srv/outside/${partNameFor('x.txt')}`]: 'theirs' });
    const target = root.uploadTargetSync('d/x.txt', folders);
    vol.renameSync('/srv/data/d', '/srv/data-old');
    vol.symlinkSync('/srv/outside', '/srv/data/d');
    expect(() => root.storeSync(target, Buffer.from('data'), {}, folders, new Set())).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(vol.readdirSync('/srv/outside').sort()).toEqual([partNameFor('x.txt'), 'secret.txt'].sort());
    expect(vol.readFileSync(`/srv/outside/${partNameFor('x.txt')}`, 'utf8')).toBe('theirs');
  });

  it('a part name planted as a hard link to a file elsewhere is replaced, never written through', async () => {
    const { root, vol, folders } = await setUp();
    vol.linkSync('/srv/outside/secret.txt', `/srv/data/${partNameFor('x.txt')}`);
    store(root, folders, 'x.txt', 'uploaded');
    expect(vol.readFileSync('/srv/outside/secret.txt', 'utf8')).toBe('secret');
    expect(vol.readFileSync('/srv/data/x.txt', 'utf8')).toBe('uploaded');
  });

  it('batches take the synchronous path only where opened files are checked (/proc/self/fd)', async () => {
    const { root } = await setUp();
    expect(root.verifiesOpenedPath).toBe(false);
    expect(root.batchesSync).toBe(false);
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
