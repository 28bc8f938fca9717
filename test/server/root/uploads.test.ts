/**
 * Writing into the Root (uploadTarget, storeWhole, syncFolders) over an in-memory file system
 * (folders checked before each call), with faults injected into single calls.
 */
import { memfs } from 'memfs';
import { describe, expect, it } from 'vitest';
import { partNameFor } from '../../../src/files/index.js';
import {
  Root,
  storeWhole,
  storeWholeFiles,
  syncFolders,
  uploadTarget,
  type Folder,
  type FolderScope,
  type RootFs,
} from '../../../src/server/root/index.js';
import { wrapFs } from '../../helpers/fs-wrap.js';
import { errno } from './fs-doubles.js';

const MTIME = 1_763_750_000_000;
type Vol = ReturnType<typeof memfs>['fs'];

async function setUp(
  files: Record<string, string | null> = {},
  overrides: (vol: Vol) => Partial<RootFs> = () => ({}),
): Promise<{ root: Root; vol: Vol; folders: FolderScope }> {
  const { fs: vol } = memfs({ '/srv/data': null, '/srv/outside/secret.txt': 'secret', ...files });
  const root = await Root.open('/srv/data', { fs: wrapFs(overrides(vol), vol as unknown as RootFs) });
  return { root, vol, folders: root.newScope() };
}

function store(root: Root, folders: FolderScope, path: string, body: string, touched = new Set<Folder>()) {
  return storeWhole(root, uploadTarget(root, root.segments(path), folders), Buffer.from(body), { mtimeMs: MTIME, mode: 0o640 }, folders, touched);
}

const paths = (touched: Set<Folder>) => [...touched].map((folder) => folder.path).sort();

describe('storeWhole', () => {
  it('writes a file whole into new folders, with its mtime and mode, and leaves no part', async () => {
    const { root, vol, folders } = await setUp();
    const touched = new Set<Folder>();
    store(root, folders, 'a/b/c.txt', 'hello', touched);
    expect(vol.readFileSync('/srv/data/a/b/c.txt', 'utf8')).toBe('hello');
    const stats = vol.statSync('/srv/data/a/b/c.txt');
    expect(Number(stats.mode) & 0o777).toBe(0o640);
    expect(Math.floor(Number(stats.mtimeMs))).toBe(MTIME);
    expect(vol.readdirSync('/srv/data/a/b')).toEqual(['c.txt']);
    expect(paths(touched)).toEqual(['/srv/data', '/srv/data/a', '/srv/data/a/b']); // new folders' names are durable too
  });

  it('replaces a file that is there (the caller decided it may)', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/x.txt': 'old content' });
    const target = uploadTarget(root, root.segments('x.txt'), folders);
    expect(target.existing).toMatchObject({ type: 'file', size: 11 });
    storeWhole(root, target, Buffer.from('new'), {}, folders, new Set());
    expect(vol.readFileSync('/srv/data/x.txt', 'utf8')).toBe('new');
  });

  it('replaces a symlink that leads nowhere (never writes through it)', async () => {
    const { root, vol, folders } = await setUp();
    vol.symlinkSync('/srv/data/gone.txt', '/srv/data/link.txt');
    const target = uploadTarget(root, root.segments('link.txt'), folders);
    expect(target.existing).toBeNull();
    storeWhole(root, target, Buffer.from('now a file'), {}, folders, new Set());
    expect(vol.lstatSync('/srv/data/link.txt').isFile()).toBe(true);
    expect(vol.readFileSync('/srv/data/link.txt', 'utf8')).toBe('now a file');
    expect(vol.existsSync('/srv/data/gone.txt')).toBe(false);
  });

  it('never replaces a folder', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d/inner.txt': 'keep' });
    const target = uploadTarget(root, root.segments('d'), folders);
    expect(target.existing).toMatchObject({ type: 'dir' });
    expect(() => storeWhole(root, target, Buffer.from('x'), {}, folders, new Set())).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_IS_DIRECTORY' }));
    expect(vol.readFileSync('/srv/data/d/inner.txt', 'utf8')).toBe('keep');
    expect(vol.readdirSync('/srv/data')).toEqual(['d']);
  });

  it('many files as one batch (storeWholeFiles): each gets its outcome in order, a refused one stops none of the others', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d/inner.txt': 'keep' });
    const touched = new Set<Folder>();
    const file = (rel: string, body: string) => ({ target: uploadTarget(root, root.segments(rel), folders), body: Buffer.from(body), attributes: { mtimeMs: MTIME } });
    const errors = storeWholeFiles(root, [file('a/one.txt', 'one'), file('d', 'not over a folder'), file('a/two.txt', 'two')], folders, touched);
    expect(errors.map((e) => e?.code ?? null)).toEqual([null, 'TCPSEND_ERR_IS_DIRECTORY', null]);
    expect(vol.readFileSync('/srv/data/a/one.txt', 'utf8')).toBe('one');
    expect(vol.readFileSync('/srv/data/a/two.txt', 'utf8')).toBe('two');
    expect(Math.floor(Number(vol.statSync('/srv/data/a/two.txt').mtimeMs))).toBe(MTIME);
    expect(vol.readdirSync('/srv/data/a').sort()).toEqual(['one.txt', 'two.txt']);
    expect(vol.readdirSync('/srv/data').sort()).toEqual(['a', 'd']);
    expect(vol.readFileSync('/srv/data/d/inner.txt', 'utf8')).toBe('keep');
    expect(paths(touched)).toEqual(['/srv/data', '/srv/data/a']);
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
    expect(() => uploadTarget(root, root.segments(partNameFor('a.txt')), folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(() => uploadTarget(root, root.segments('.ssh/authorized_keys'), folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    expect(() => uploadTarget(root, root.segments('../outside/secret.txt'), folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_BAD_PATH' }));
    expect(vol.readdirSync('/srv/data')).toEqual([]);
    expect(vol.readFileSync('/srv/outside/secret.txt', 'utf8')).toBe('secret');
  });

  it('a file where a folder must be is NOT_DIRECTORY', async () => {
    const { root, folders } = await setUp({ '/srv/data/f': 'a file' });
    expect(() => store(root, folders, 'f/inside.txt', 'x')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NOT_DIRECTORY' }));
  });
});

describe('syncFolders', () => {
  it('a batch touches each folder it wrote in, or created a folder in, once; each is fsynced', async () => {
    const synced: number[] = [];
    const { root, folders } = await setUp({}, (vol) => ({
      fsyncSync: (fd) => {
        synced.push(fd);
        vol.fsyncSync(fd);
      },
    }));
    const touched = new Set<Folder>();
    store(root, folders, 'a/1.txt', '1', touched);
    store(root, folders, 'a/2.txt', '2', touched);
    store(root, folders, 'b/3.txt', '3', touched);
    // a/ and b/ were created: the root is touched too (their names in it), and each once.
    expect(paths(touched)).toEqual(['/srv/data', '/srv/data/a', '/srv/data/b']);
    synced.length = 0;
    syncFolders(root, touched, folders);
    expect(synced).toHaveLength(3);
    expect(touched.size).toBe(0);
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
    expect(() => uploadTarget(root, root.segments('d/secret.txt'), folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
  });

  it('a folder swapped just before the part is created: nothing is created or removed outside', async () => {
    const { root, vol, folders } = await setUp({ '/srv/data/d': null, [`/srv/outside/${partNameFor('x.txt')}`]: 'theirs' });
    const target = uploadTarget(root, root.segments('d/x.txt'), folders);
    vol.renameSync('/srv/data/d', '/srv/data-old');
    vol.symlinkSync('/srv/outside', '/srv/data/d');
    expect(() => storeWhole(root, target, Buffer.from('data'), {}, folders, new Set())).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
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

  it('without /proc/self/fd (memfs) folders are checked before each call, not held', async () => {
    const { root } = await setUp();
    expect(root.holdsFolders).toBe(false);
  });
});
