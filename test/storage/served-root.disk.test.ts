/** ServedRoot on a real temp folder: symlinks, races between check and open, partial files. */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fstatSync } from 'node:fs';
import {
  FolderCache,
  ServedRoot,
  partNameFor,
  type FileHandleLike,
  type FsPromises,
} from '../../src/storage/index.js';
import { collect, rejection, wrapFs } from './fs-doubles.js';

const SHA = 'ab'.repeat(32);
const MTIME = 1_700_000_000_123;
const SECRET = 'the outside secret';
const onLinux = process.platform === 'linux';
const realFs: FsPromises = fsp;

let base: string; // <tmp>/tcpsend-storage-XXXX
let data: string; // the served root
let evil: string; // a sibling whose name starts with the root's: <base>/data-evil
let outside: string; // any other folder outside

beforeEach(async () => {
  base = await fsp.realpath(await fsp.mkdtemp(path.join(tmpdir(), 'tcpsend-storage-')));
  data = path.join(base, 'data');
  evil = path.join(base, 'data-evil');
  outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(data, 'sub'), { recursive: true });
  await fsp.mkdir(evil);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(data, 'sub', 'a.txt'), 'inside a');
  await fsp.writeFile(path.join(data, 'top.txt'), 'top');
  await fsp.writeFile(path.join(evil, 'secret.txt'), SECRET);
  await fsp.writeFile(path.join(outside, 'secret.txt'), SECRET);
  await fsp.writeFile(path.join(outside, 'a.txt'), SECRET);
});

afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

async function readAll(handle: FileHandleLike): Promise<string> {
  const buffer = Buffer.alloc(1024);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  return buffer.subarray(0, bytesRead).toString();
}

async function readOpened(root: ServedRoot, requestPath: string): Promise<string> {
  const { handle } = await root.openRead(requestPath);
  try {
    return await readAll(handle);
  } finally {
    await handle.close();
  }
}

/** Every way a path may be used, each expected to be refused with `code`. */
async function expectRefusedEverywhere(root: ServedRoot, requestPath: string, code: string) {
  expect((await rejection(root.stat(requestPath))).code).toBe(code);
  expect((await rejection(root.openRead(requestPath))).code).toBe(code);
  expect((await rejection(root.resolve(requestPath))).code).toBe(code);
}

describe('opening the root', () => {
  it('resolves a root given through a symlink, and checks opened files via /proc on Linux', async () => {
    await fsp.symlink(data, path.join(base, 'root-link'));
    const root = await ServedRoot.open(path.join(base, 'root-link'));
    expect(root.rootPath).toBe(data);
    expect(root.verifiesOpenedPath).toBe(onLinux);
    expect(await readOpened(root, 'top.txt')).toBe('top');
  });
});

describe('symlinks that lead out', () => {
  it('a direct link to a file outside', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'leak.txt'));
    const root = await ServedRoot.open(data);
    await expectRefusedEverywhere(root, 'leak.txt', 'TCPSEND_ERR_FORBIDDEN');
    const err = await rejection(root.openRead('leak.txt'));
    expect(err.message).toContain("'leak.txt'");
    expect(err.message).not.toContain(base);
  });

  it('a chain of two links, the first pointing inside', async () => {
    await fsp.symlink('second', path.join(data, 'first'));
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'second'));
    const root = await ServedRoot.open(data);
    await expectRefusedEverywhere(root, 'first', 'TCPSEND_ERR_FORBIDDEN');
  });

  it('a parent folder that is a link out', async () => {
    await fsp.symlink(outside, path.join(data, 'dir-link'));
    const root = await ServedRoot.open(data);
    await expectRefusedEverywhere(root, 'dir-link/secret.txt', 'TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(root.list('dir-link').next())).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(root.mkdirs('dir-link/new'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(root.openPart('dir-link/upload.bin'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(root.openPart('dir-link/deeper/upload.bin'))).code).toBe(
      'TCPSEND_ERR_FORBIDDEN',
    );
    expect((await fsp.readdir(outside)).sort()).toEqual(['a.txt', 'secret.txt']);
  });

  it('a sibling folder whose name starts with the root name', async () => {
    await fsp.symlink('../data-evil/secret.txt', path.join(data, 'sibling.txt'));
    await fsp.symlink(evil, path.join(data, 'sibling-dir'));
    const root = await ServedRoot.open(data);
    await expectRefusedEverywhere(root, 'sibling.txt', 'TCPSEND_ERR_FORBIDDEN');
    await expectRefusedEverywhere(root, 'sibling-dir/secret.txt', 'TCPSEND_ERR_FORBIDDEN');
  });

  it('are never listed', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'leak.txt'));
    await fsp.symlink(outside, path.join(data, 'dir-link'));
    await fsp.symlink(evil, path.join(data, 'sub', 'sibling-dir'));
    await fsp.symlink(path.join(base, 'nowhere'), path.join(data, 'dangling'));
    const root = await ServedRoot.open(data);
    const paths = (await collect(root.list('', { recursive: true }))).map((e) => e.path);
    expect(paths).toEqual(['sub', 'sub/a.txt', 'top.txt']);
  });
});

describe('symlinks that stay inside', () => {
  it('are followed for reading and listed as their target', async () => {
    await fsp.symlink('sub/a.txt', path.join(data, 'alias.txt'));
    await fsp.symlink(path.join(data, 'sub'), path.join(data, 'sub-link'));
    await fsp.symlink('..', path.join(data, 'sub', 'up')); // a loop back to the root
    const root = await ServedRoot.open(data);
    expect(await readOpened(root, 'alias.txt')).toBe('inside a');
    expect(await readOpened(root, 'sub-link/a.txt')).toBe('inside a');
    expect(await readOpened(root, 'sub/up/top.txt')).toBe('top');
    const entries = await collect(root.list('', { recursive: true }));
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['alias.txt', 'file'],
      ['sub', 'dir'],
      ['sub/a.txt', 'file'],
      ['sub/up', 'dir'],
      ['sub-link', 'dir'],
      ['top.txt', 'file'],
    ]);
    expect(entries[0]!.size).toBe('inside a'.length);
  });
});

describe('a symlink swapped in between the check and the open', () => {
  /** An fs whose `method` runs `swap` once, just before it handles `target`. */
  function racingFs(method: 'open' | 'lstat', target: string, swap: () => Promise<void>): FsPromises {
    let done = false;
    const real = realFs;
    const before = async (p: string) => {
      if (!done && p === target) {
        done = true;
        await swap();
      }
    };
    return wrapFs(real, {
      open: async (p, flags, mode) => {
        if (method === 'open') await before(p);
        return real.open(p, flags, mode);
      },
      lstat: async (p) => {
        if (method === 'lstat') await before(p);
        return real.lstat(p);
      },
    });
  }

  async function swapFileForLink(): Promise<void> {
    await fsp.rm(path.join(data, 'sub', 'a.txt'));
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'sub', 'a.txt'));
  }

  async function swapFolderForLink(): Promise<void> {
    await fsp.rename(path.join(data, 'sub'), path.join(data, 'sub-old'));
    await fsp.symlink(outside, path.join(data, 'sub'));
  }

  it('the file itself, swapped just before the open', async () => {
    const fs = racingFs('open', path.join(data, 'sub', 'a.txt'), swapFileForLink);
    const root = await ServedRoot.open(data, { fs, verifyOpenedPath: false });
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).not.toContain(SECRET);
  });

  it('a parent folder, swapped just before the open: caught by device and inode', async () => {
    const fs = racingFs('open', path.join(data, 'sub', 'a.txt'), swapFolderForLink);
    const root = await ServedRoot.open(data, { fs, verifyOpenedPath: false });
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/changed while it was being opened/);
  });

  it.runIf(onLinux)('a parent folder, swapped before the stat: caught by /proc/self/fd', async () => {
    const fs = racingFs('lstat', path.join(data, 'sub', 'a.txt'), swapFolderForLink);
    const root = await ServedRoot.open(data, { fs, verifyOpenedPath: true });
    expect(root.verifiesOpenedPath).toBe(true);
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/leads outside/);
  });

  it('(the same race with the /proc check off does reach the outside file: the check is needed)', async () => {
    const fs = racingFs('lstat', path.join(data, 'sub', 'a.txt'), swapFolderForLink);
    const root = await ServedRoot.open(data, { fs, verifyOpenedPath: false });
    expect(await readOpened(root, 'sub/a.txt')).toBe(SECRET);
  });

  it('closes every handle it opened on the way', async () => {
    const opened: FileHandleLike[] = [];
    const real = realFs;
    let swapped = false;
    const fs = wrapFs(real, {
      open: async (p, flags, mode) => {
        if (!swapped && p === path.join(data, 'sub', 'a.txt')) {
          swapped = true;
          await swapFolderForLink();
        }
        const handle = await real.open(p, flags, mode);
        opened.push(handle);
        return handle;
      },
    });
    const root = await ServedRoot.open(data, { fs, verifyOpenedPath: false });
    await rejection(root.openRead('sub/a.txt'));
    expect(opened).toHaveLength(1);
    // A closed FileHandle has fd -1.
    expect(opened[0]!.fd).toBe(-1);
  });
});

describe('files that are not regular files or folders', () => {
  const hasMkfifo = (() => {
    try {
      execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.runIf(hasMkfifo)('a FIFO is neither listed nor opened (and does not hang the open)', async () => {
    execFileSync('mkfifo', [path.join(data, 'pipe')]);
    const root = await ServedRoot.open(data);
    const err = await rejection(root.openRead('pipe'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/not a regular file or folder/);
    expect((await rejection(root.stat('pipe'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await collect(root.list(''))).map((e) => e.path)).toEqual(['sub', 'top.txt']);
  });
});

describe('partial uploads on disk', () => {
  it('write, crash, resume, finalize: the file appears only at the end, with its mode and mtime', async () => {
    const root = await ServedRoot.open(data);
    const first = await root.openPart('up/load.bin');
    await first.write(Buffer.from('first half, '));
    await first.close(); // the connection dropped: no finalize

    expect((await rejection(root.stat('up/load.bin'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect((await collect(root.list('', { recursive: true }))).map((e) => e.path)).toEqual([
      'sub',
      'sub/a.txt',
      'top.txt',
      'up',
    ]);
    const partName = partNameFor('load.bin');
    expect((await fsp.readdir(path.join(data, 'up')))).toEqual([partName]);
    expect((await rejection(root.openRead(`up/${partName}`))).code).toBe('TCPSEND_ERR_FORBIDDEN');

    const resumed = await root.openPart('up/load.bin');
    expect(resumed.size).toBe('first half, '.length);
    await resumed.write(Buffer.from('second half'));
    await root.finalizePart(resumed, 'up/load.bin', { mtimeMs: MTIME, mode: 0o640 });

    const stats = await fsp.stat(path.join(data, 'up', 'load.bin'));
    expect(stats.mode & 0o777).toBe(0o640);
    expect(Math.floor(stats.mtimeMs)).toBe(MTIME); // the raw stat, as any other reader sees it
    expect(await readOpened(root, 'up/load.bin')).toBe('first half, second half');
    expect(await fsp.readdir(path.join(data, 'up'))).toEqual(['load.bin']);
    expect(await root.stat('up/load.bin')).toMatchObject({ size: 23, mtimeMs: MTIME, mode: 0o640 });
  });

  it('discard removes the part', async () => {
    const root = await ServedRoot.open(data);
    const part = await root.openPart('gone.bin');
    await part.write(Buffer.from('bytes'));
    await root.discardPart(part);
    expect(await fsp.readdir(data)).not.toContain(partNameFor('gone.bin'));
    expect((await rejection(root.stat('gone.bin'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
  });

  it('finalize replaces a symlink at the destination instead of writing through it', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'target.txt'));
    const root = await ServedRoot.open(data);
    const part = await root.openPart('target.txt');
    await part.write(Buffer.from('uploaded'));
    await root.finalizePart(part, 'target.txt');
    expect((await fsp.lstat(path.join(data, 'target.txt'))).isSymbolicLink()).toBe(false);
    expect(await fsp.readFile(path.join(data, 'target.txt'), 'utf8')).toBe('uploaded');
    expect(await fsp.readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  });

  it('a symlink planted under the part name is not opened (O_NOFOLLOW, even without /proc)', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, partNameFor('x.bin')));
    for (const verifyOpenedPath of [true, false]) {
      const root = await ServedRoot.open(data, { fs: realFs, verifyOpenedPath });
      expect((await rejection(root.openPart('x.bin'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    }
    expect(await fsp.readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  });

  it('finalize refuses when the folder was swapped for a link out during the upload', async () => {
    const root = await ServedRoot.open(data);
    const part = await root.openPart('sub/late.bin');
    await part.write(Buffer.from('x'));
    await swapSubForOutsideLink();
    expect((await rejection(root.finalizePart(part, 'sub/late.bin'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(await fsp.readdir(outside)).not.toContain('late.bin');
    await root.discardPart(part);
  });
});

async function swapSubForOutsideLink(): Promise<void> {
  await fsp.rename(path.join(data, 'sub'), path.join(data, 'sub-old'));
  await fsp.symlink(outside, path.join(data, 'sub'));
}

describe.skipIf(!onLinux)('a batch upload on Linux names files through the folder it holds open', () => {
  it('a folder swapped for a symlink mid-batch: nothing is written through the symlink, nor left in the folder moved out', async () => {
    const root = await ServedRoot.open(data);
    expect(root.batchesSync).toBe(true);
    const folders = new FolderCache();
    const touched = new Set<string>();
    try {
      root.storeSync(root.uploadTargetSync('sub/one.txt', folders), Buffer.from('one'), {}, folders, touched);
      // A local user moves the folder out of the root and puts a symlink to another folder
      // outside in its place. The batch still holds the folder it resolved, which is now
      // outside too: what it opens there is refused where the kernel says it landed.
      await fsp.rename(path.join(data, 'sub'), path.join(base, 'moved-sub'));
      await fsp.symlink(outside, path.join(data, 'sub'));
      const target = root.uploadTargetSync('sub/two.txt', folders);
      expect(() => root.storeSync(target, Buffer.from('two'), {}, folders, touched)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    } finally {
      root.releaseFolders(folders);
    }
    expect((await fsp.readdir(outside)).sort()).toEqual(['a.txt', 'secret.txt']);
    expect(await fsp.readFile(path.join(outside, 'a.txt'), 'utf8')).toBe(SECRET);
    expect((await fsp.readdir(path.join(base, 'moved-sub'))).sort()).toEqual(['a.txt', 'one.txt']);
  });

  it('releaseFolders closes what the batch held open', async () => {
    const root = await ServedRoot.open(data);
    const folders = new FolderCache();
    root.storeSync(root.uploadTargetSync('sub/x.txt', folders), Buffer.from('x'), {}, folders, new Set());
    expect(folders.held.length).toBeGreaterThan(0);
    const fds = folders.held.map((folder) => folder.fd!);
    root.releaseFolders(folders);
    expect(folders.held).toEqual([]);
    for (const fd of fds) expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
