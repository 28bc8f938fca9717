/**
 * The Root on a real temp folder: symlinks, folders swapped for symlinks between a check and
 * the call after it (with folders held open, and with folders checked), partial files.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import nodeFs, { fstatSync } from 'node:fs';
import { partNameFor } from '../../../src/files/index.js';
import {
  commitPart,
  discardPart,
  openPart,
  Root,
  storeWhole,
  storeWholeFiles,
  uploadTarget,
  type Folder,
  type OpenFile,
  type RootFs,
} from '../../../src/server/root/index.js';
import { wrapFs } from '../../helpers/fs-wrap.js';
import { collect, rejection } from './fs-doubles.js';

const SHA = 'ab'.repeat(32);
const MTIME = 1_700_000_000_123;
const SECRET = 'the outside secret';
const onLinux = process.platform === 'linux';
const realFs = nodeFs as unknown as RootFs;

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

async function readAll(file: OpenFile): Promise<string> {
  const buffer = Buffer.alloc(1024);
  const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
  return buffer.subarray(0, bytesRead).toString();
}

async function readOpened(root: Root, requestPath: string): Promise<string> {
  const { file } = root.openRead(requestPath);
  try {
    return await readAll(file);
  } finally {
    file.close();
  }
}

/** Every way a path may be used, each expected to be refused with `code`. */
async function expectRefusedEverywhere(root: Root, requestPath: string, code: string) {
  expect((await rejection(() => root.stat(requestPath))).code).toBe(code);
  expect((await rejection(() => root.openRead(requestPath))).code).toBe(code);
  expect((await rejection(() => root.list(requestPath).next())).code).toBe(code);
}

describe('opening the root', () => {
  it('resolves a root given through a symlink, and checks opened files via /proc on Linux', async () => {
    await fsp.symlink(data, path.join(base, 'root-link'));
    const root = await Root.open(path.join(base, 'root-link'));
    expect(root.rootPath).toBe(data);
    expect(root.holdsFolders).toBe(onLinux);
    expect(await readOpened(root, 'top.txt')).toBe('top');
  });
});

describe('symlinks that lead out', () => {
  it('a direct link to a file outside', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'leak.txt'));
    const root = await Root.open(data);
    await expectRefusedEverywhere(root, 'leak.txt', 'TCPSEND_ERR_FORBIDDEN');
    const err = await rejection(() => root.openRead('leak.txt'));
    expect(err.message).toContain("'leak.txt'");
    expect(err.message).not.toContain(base);
  });

  it('a chain of two links, the first pointing inside', async () => {
    await fsp.symlink('second', path.join(data, 'first'));
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'second'));
    const root = await Root.open(data);
    await expectRefusedEverywhere(root, 'first', 'TCPSEND_ERR_FORBIDDEN');
  });

  it('a parent folder that is a link out', async () => {
    await fsp.symlink(outside, path.join(data, 'dir-link'));
    const root = await Root.open(data);
    await expectRefusedEverywhere(root, 'dir-link/secret.txt', 'TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => root.list('dir-link').next())).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => root.mkdirs('dir-link/new'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => openPart(root, 'dir-link/upload.bin'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => openPart(root, 'dir-link/deeper/upload.bin'))).code).toBe(
      'TCPSEND_ERR_FORBIDDEN',
    );
    expect((await fsp.readdir(outside)).sort()).toEqual(['a.txt', 'secret.txt']);
  });

  it('a sibling folder whose name starts with the root name', async () => {
    await fsp.symlink('../data-evil/secret.txt', path.join(data, 'sibling.txt'));
    await fsp.symlink(evil, path.join(data, 'sibling-dir'));
    const root = await Root.open(data);
    await expectRefusedEverywhere(root, 'sibling.txt', 'TCPSEND_ERR_FORBIDDEN');
    await expectRefusedEverywhere(root, 'sibling-dir/secret.txt', 'TCPSEND_ERR_FORBIDDEN');
  });

  it('are never listed', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'leak.txt'));
    await fsp.symlink(outside, path.join(data, 'dir-link'));
    await fsp.symlink(evil, path.join(data, 'sub', 'sibling-dir'));
    await fsp.symlink(path.join(base, 'nowhere'), path.join(data, 'dangling'));
    const root = await Root.open(data);
    const paths = (await collect(root.list('', { recursive: true }))).map((e) => e.path);
    expect(paths).toEqual(['sub', 'sub/a.txt', 'top.txt']);
  });
});

describe('symlinks that stay inside', () => {
  it('are followed for reading and listed as their target', async () => {
    await fsp.symlink('sub/a.txt', path.join(data, 'alias.txt'));
    await fsp.symlink(path.join(data, 'sub'), path.join(data, 'sub-link'));
    await fsp.symlink('..', path.join(data, 'sub', 'up')); // a loop back to the root
    const root = await Root.open(data);
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
  /** node:fs whose `method` runs `swap` once, just before it handles a path ending in `target`. */
  function racingFs(method: 'openSync' | 'lstatSync', target: string, swap: () => void, hideProc = false): RootFs {
    let done = false;
    const before = (p: string) => {
      if (!done && p.endsWith(target)) {
        done = true;
        swap();
      }
    };
    return wrapFs({
      openSync: (p, flags, mode) => {
        if (method === 'openSync') before(p);
        return nodeFs.openSync(p, flags, mode);
      },
      lstatSync: (p, options) => {
        if (method === 'lstatSync') before(p);
        return nodeFs.lstatSync(p, options);
      },
      ...(hideProc ? {} : {}),
    });
  }

  function swapFileForLink(): void {
    nodeFs.rmSync(path.join(data, 'sub', 'a.txt'));
    nodeFs.symlinkSync(path.join(outside, 'secret.txt'), path.join(data, 'sub', 'a.txt'));
  }

  function swapFolderForLink(): void {
    nodeFs.renameSync(path.join(data, 'sub'), path.join(data, 'sub-old'));
    nodeFs.symlinkSync(outside, path.join(data, 'sub'));
  }

  it('the file itself, swapped just before the open', async () => {
    const fs = racingFs('openSync', path.join(data, 'sub', 'a.txt'), swapFileForLink);
    const root = await Root.open(data, { fs, heldFolders: false });
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).not.toContain(SECRET);
  });

  it('a parent folder, swapped just before the open: caught by device and inode (folders checked)', async () => {
    const fs = racingFs('openSync', path.join(data, 'sub', 'a.txt'), swapFolderForLink);
    const root = await Root.open(data, { fs, heldFolders: false });
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/changed while it was being opened/);
  });

  it.runIf(onLinux)('a parent folder, swapped before the stat: caught by /proc/self/fd (folders held)', async () => {
    const fs = racingFs('lstatSync', '/sub', swapFolderForLink);
    const root = await Root.open(data, { fs, heldFolders: true });
    expect(root.holdsFolders).toBe(true);
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/leads outside/);
  });

  it.runIf(onLinux)('a parent folder swapped once it is held: the read goes on in the folder held, inside', async () => {
    const root = await Root.open(data);
    await root.withScope(async (scope) => {
      root.folder(['sub'], scope);
      swapFolderForLink();
      const { file } = root.openRead('sub/a.txt', scope);
      try {
        expect(await readAll(file)).toBe('inside a');
      } finally {
        file.close();
      }
    });
  });

  it('(with folders checked, the same race before the stat is refused too: folders are resolved one name at a time)', async () => {
    const fs = racingFs('lstatSync', path.join(data, 'sub'), swapFolderForLink);
    const root = await Root.open(data, { fs, heldFolders: false });
    const err = await rejection(readOpened(root, 'sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).not.toContain(SECRET);
  });

  it('closes every descriptor it opened on the way', async () => {
    const opened: number[] = [];
    const closed: number[] = [];
    let swapped = false;
    const fs = wrapFs({
      openSync: (p, flags, mode) => {
        if (!swapped && p === path.join(data, 'sub', 'a.txt')) {
          swapped = true;
          swapFolderForLink();
        }
        const fd = nodeFs.openSync(p, flags, mode);
        opened.push(fd);
        return fd;
      },
      closeSync: (fd) => {
        closed.push(fd);
        nodeFs.closeSync(fd);
      },
    });
    const root = await Root.open(data, { fs, heldFolders: false });
    await rejection(() => root.openRead('sub/a.txt'));
    expect(opened).toHaveLength(1);
    expect(closed).toEqual(opened);
    expect(() => fstatSync(opened[0]!)).toThrow(expect.objectContaining({ code: 'EBADF' }));
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
    const root = await Root.open(data);
    const err = await rejection(() => root.openRead('pipe'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/not a regular file or folder/);
    expect((await rejection(() => root.stat('pipe'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await collect(root.list(''))).map((e) => e.path)).toEqual(['sub', 'top.txt']);
  });
});

describe('partial uploads on disk', () => {
  it('write, crash, resume, finalize: the file appears only at the end, with its mode and mtime', async () => {
    const root = await Root.open(data);
    const first = await openPart(root, 'up/load.bin');
    await first.write(Buffer.from('first half, '));
    await first.close(); // the connection dropped: no finalize

    expect((await rejection(() => root.stat('up/load.bin'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect((await collect(root.list('', { recursive: true }))).map((e) => e.path)).toEqual([
      'sub',
      'sub/a.txt',
      'top.txt',
      'up',
    ]);
    const partName = partNameFor('load.bin');
    expect((await fsp.readdir(path.join(data, 'up')))).toEqual([partName]);
    expect((await rejection(() => root.openRead(`up/${partName}`))).code).toBe('TCPSEND_ERR_FORBIDDEN');

    const resumed = await openPart(root, 'up/load.bin');
    expect(resumed.size).toBe('first half, '.length);
    await resumed.write(Buffer.from('second half'));
    await commitPart(root, resumed, { mtimeMs: MTIME, mode: 0o640 });

    const stats = await fsp.stat(path.join(data, 'up', 'load.bin'));
    expect(stats.mode & 0o777).toBe(0o640);
    expect(Math.floor(stats.mtimeMs)).toBe(MTIME); // the raw stat, as any other reader sees it
    expect(await readOpened(root, 'up/load.bin')).toBe('first half, second half');
    expect(await fsp.readdir(path.join(data, 'up'))).toEqual(['load.bin']);
    expect(await root.stat('up/load.bin')).toMatchObject({ size: 23, mtimeMs: MTIME, mode: 0o640 });
  });

  it('discard removes the part', async () => {
    const root = await Root.open(data);
    const part = await openPart(root, 'gone.bin');
    await part.write(Buffer.from('bytes'));
    await discardPart(root, part);
    expect(await fsp.readdir(data)).not.toContain(partNameFor('gone.bin'));
    expect((await rejection(() => root.stat('gone.bin'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
  });

  it('finalize replaces a symlink at the destination instead of writing through it', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, 'target.txt'));
    const root = await Root.open(data);
    const part = await openPart(root, 'target.txt');
    await part.write(Buffer.from('uploaded'));
    await commitPart(root, part);
    expect((await fsp.lstat(path.join(data, 'target.txt'))).isSymbolicLink()).toBe(false);
    expect(await fsp.readFile(path.join(data, 'target.txt'), 'utf8')).toBe('uploaded');
    expect(await fsp.readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  });

  it('a symlink planted under the part name is not opened (O_NOFOLLOW, even without /proc)', async () => {
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(data, partNameFor('x.bin')));
    for (const heldFolders of onLinux ? [true, false] : [false]) {
      const root = await Root.open(data, { fs: realFs, heldFolders });
      expect((await rejection(() => openPart(root, 'x.bin'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    }
    expect(await fsp.readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  });

  it('a folder swapped for a link out during the upload: the rename never goes out (checked: refused; held: lands in the folder held, inside)', async () => {
    for (const heldFolders of onLinux ? [true, false] : [false]) {
      const root = await Root.open(data, { fs: realFs, heldFolders });
      const part = openPart(root, 'sub/late.bin');
      await part.write(Buffer.from('x'));
      await swapSubForOutsideLink();
      if (heldFolders) {
        await commitPart(root, part);
        expect(await fsp.readFile(path.join(data, 'sub-old', 'late.bin'), 'utf8')).toBe('x');
      } else {
        expect((await rejection(commitPart(root, part))).code).toBe('TCPSEND_ERR_FORBIDDEN');
        discardPart(root, part);
      }
      expect(await fsp.readdir(outside)).not.toContain('late.bin');
      await fsp.rm(path.join(data, 'sub'));
      await fsp.rm(path.join(data, 'sub-old'), { recursive: true });
      await fsp.mkdir(path.join(data, 'sub'));
    }
  });
});

async function swapSubForOutsideLink(): Promise<void> {
  await fsp.rename(path.join(data, 'sub'), path.join(data, 'sub-old'));
  await fsp.symlink(outside, path.join(data, 'sub'));
}

describe.skipIf(!onLinux)('uploads on Linux name files through the folder held open', () => {
  it('a folder moved out and replaced by a symlink mid-batch: nothing is written through the symlink, nor left in the folder moved out', async () => {
    const root = await Root.open(data);
    expect(root.holdsFolders).toBe(true);
    const touched = new Set<Folder>();
    await root.withScope(async (scope) => {
      storeWhole(root, uploadTarget(root, root.segments('sub/one.txt'), scope), Buffer.from('one'), {}, scope, touched);
      // A local user moves the folder out of the root and puts a symlink to another folder
      // outside in its place. The batch still holds the folder it resolved, which is now
      // outside too: what it opens there is refused where the kernel says it landed.
      await fsp.rename(path.join(data, 'sub'), path.join(base, 'moved-sub'));
      await fsp.symlink(outside, path.join(data, 'sub'));
      const target = uploadTarget(root, root.segments('sub/two.txt'), scope);
      expect(() => storeWhole(root, target, Buffer.from('two'), {}, scope, touched)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_FORBIDDEN' }));
    });
    expect((await fsp.readdir(outside)).sort()).toEqual(['a.txt', 'secret.txt']);
    expect(await fsp.readFile(path.join(outside, 'a.txt'), 'utf8')).toBe(SECRET);
    expect((await fsp.readdir(path.join(base, 'moved-sub'))).sort()).toEqual(['a.txt', 'one.txt']);
  });

  it('a batch whose folder is moved out after its parts are written: none of its files lands there, the parts are removed, the rest are stored', async () => {
    let moved = false;
    const fs = wrapFs({
      fsyncSync: (fd) => {
        nodeFs.fsyncSync(fd);
        if (!moved) {
          // After the first part (in sub) is written: a local user moves the folder out.
          moved = true;
          nodeFs.renameSync(path.join(data, 'sub'), path.join(base, 'moved-sub'));
          nodeFs.symlinkSync(outside, path.join(data, 'sub'));
        }
      },
    });
    const root = await Root.open(data, { fs, heldFolders: true });
    const touched = new Set<Folder>();
    const errors = root.withScope((scope) => {
      const file = (rel: string) => ({ target: uploadTarget(root, root.segments(rel), scope), body: Buffer.from(rel), attributes: {} });
      return storeWholeFiles(root, [file('sub/one.txt'), file('top2.txt'), file('sub/two.txt')], scope, touched);
    });
    expect(errors.map((e) => e?.code ?? null)).toEqual(['TCPSEND_ERR_FORBIDDEN', null, 'TCPSEND_ERR_FORBIDDEN']);
    expect(await fsp.readFile(path.join(data, 'top2.txt'), 'utf8')).toBe('top2.txt');
    expect((await fsp.readdir(path.join(base, 'moved-sub'))).sort()).toEqual(['a.txt']);
    expect((await fsp.readdir(outside)).sort()).toEqual(['a.txt', 'secret.txt']);
    expect([...touched].map((folder) => folder.path)).toEqual([data]);
  });

  it('a batch looks where each folder is once, not once per file', async () => {
    let looks = 0;
    const fs = wrapFs({
      readlinkSync: ((file: string) => {
        looks += 1;
        return nodeFs.readlinkSync(file);
      }) as RootFs['readlinkSync'],
    });
    const root = await Root.open(data, { fs, heldFolders: true });
    await root.withScope(async (scope) => {
      const file = (rel: string) => ({ target: uploadTarget(root, root.segments(rel), scope), body: Buffer.from(rel), attributes: {} });
      const files = Array.from({ length: 20 }, (_, i) => file(`sub/f${i}.txt`));
      looks = 0; // the folders were resolved (and looked at) above
      expect(storeWholeFiles(root, files, scope, new Set())).toEqual(files.map(() => null));
      expect(looks).toBe(1);
    });
    expect((await fsp.readdir(path.join(data, 'sub'))).filter((name) => name.startsWith('f'))).toHaveLength(20);
  });

  it('names what is in a folder through /proc/<its own pid>/fd, not /proc/self (a lookup fewer per call)', async () => {
    const named: string[] = [];
    const fs = wrapFs({
      lstatSync: ((file: string) => {
        named.push(file);
        return nodeFs.lstatSync(file);
      }) as RootFs['lstatSync'],
    });
    const root = await Root.open(data, { fs });
    expect(root.holdsFolders).toBe(true);
    await collect(root.list('/', { recursive: true }));
    const throughFd = named.filter((file) => file.startsWith('/proc/'));
    expect(throughFd.length).toBeGreaterThan(0);
    for (const file of throughFd) expect(file).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+/`));
  });

  it('closing the scope closes what it held open', async () => {
    const root = await Root.open(data);
    const scope = root.newScope();
    storeWhole(root, uploadTarget(root, root.segments('sub/x.txt'), scope), Buffer.from('x'), {}, scope, new Set());
    const fds = [scope.get('')!.fd!, scope.get('sub')!.fd!];
    for (const fd of fds) expect(fstatSync(fd).isDirectory()).toBe(true);
    scope.close();
    for (const fd of fds) expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
