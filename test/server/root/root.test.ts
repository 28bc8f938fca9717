/** The Root over an in-memory file system (memfs): no disk, no /proc, so folders are checked before each call. */
import path from 'node:path';
import { memfs } from 'memfs';
import { describe, expect, it } from 'vitest';
import { NoSpaceError } from '../../../src/errors.js';
import { partNameFor } from '../../../src/files/index.js';
import { commitPart, discardPart, openPart, Root, type RootFs, type UploadPart } from '../../../src/server/root/index.js';
import { wrapFs } from '../../helpers/fs-wrap.js';
import { collect, errno, rejection } from './fs-doubles.js';

const SHA = 'ab'.repeat(32);
const MTIME = 1_763_750_000_000;

type Vol = ReturnType<typeof memfs>['fs'];

async function setUp(
  files: Record<string, string | null> = {},
  wrap?: (base: RootFs, vol: Vol) => RootFs,
): Promise<{ root: Root; vol: Vol }> {
  const { fs: vol } = memfs({ '/srv/data': null, '/srv/data-evil/secret.txt': 'secret', ...files });
  const base = vol as unknown as RootFs;
  const root = await Root.open('/srv/data', { fs: wrap ? wrap(base, vol) : base });
  return { root, vol };
}

/** Where a part's bytes are on the (memfs) disk. */
function partPathOf(part: UploadPart): string {
  return path.join(part.folder.path, part.partName);
}

describe('Root.open', () => {
  it('resolves the root, and checks folders (no /proc) on an injected fs', async () => {
    const { root } = await setUp();
    expect(root.rootPath).toBe('/srv/data');
    expect(root.holdsFolders).toBe(false);
  });

  it('refuses a missing root or a file', async () => {
    const { fs: vol } = memfs({ '/srv/file': 'x' });
    expect((await rejection(Root.open('/srv/none', { fs: vol as unknown as RootFs }))).code).toBe(
      'TCPSEND_ERR_NOT_FOUND',
    );
    expect((await rejection(Root.open('/srv/file', { fs: vol as unknown as RootFs }))).code).toBe(
      'TCPSEND_ERR_NOT_DIRECTORY',
    );
  });
});

describe('stat', () => {
  it('describes a file: size, whole-ms mtime, permission bits', async () => {
    const { root, vol } = await setUp({ '/srv/data/a.txt': 'hello' });
    vol.chmodSync('/srv/data/a.txt', 0o4755); // setuid is not reported
    vol.utimesSync('/srv/data/a.txt', 1, (MTIME + 0.9) / 1000); // floored to whole ms
    const info = await root.stat('a.txt');
    expect(info).toMatchObject({ type: 'file', size: 5, mtimeMs: MTIME, mode: 0o755 });
    expect(Number.isInteger(info.ino)).toBe(true);
    expect(await root.stat('/a.txt')).toEqual(info);
  });

  it('describes folders, the root included', async () => {
    const { root } = await setUp({ '/srv/data/sub': null });
    expect(await root.stat('sub')).toMatchObject({ type: 'dir', size: 0 });
    expect(await root.stat('')).toMatchObject({ type: 'dir' });
    expect(await root.stat('/')).toMatchObject({ type: 'dir' });
  });

  it('maps errors without naming the server path', async () => {
    const { root } = await setUp({ '/srv/data/a.txt': 'x' });
    const missing = await rejection(() => root.stat('nope/x.txt'));
    expect(missing.code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect(missing.message).toContain("'nope/x.txt'");
    expect(missing.message).not.toContain('/srv');
    expect((await rejection(() => root.stat('a.txt/x'))).code).toBe('TCPSEND_ERR_NOT_DIRECTORY');
    expect((await rejection(() => root.stat('../data-evil/secret.txt'))).code).toBe('TCPSEND_ERR_BAD_PATH');
  });

  it('refuses partial files by name', async () => {
    const part = partNameFor('a.txt');
    const { root } = await setUp({ [`/srv/data/${part}`]: 'x' });
    const err = await rejection(() => root.stat(part));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/partial upload/);
  });

  it('follows a symlink inside the root and refuses one that leads out', async () => {
    const { root, vol } = await setUp({ '/srv/data/real.txt': 'abc' });
    vol.symlinkSync('real.txt', '/srv/data/alias.txt');
    vol.symlinkSync('/srv/data-evil/secret.txt', '/srv/data/leak.txt');
    vol.symlinkSync('/srv/data-evil', '/srv/data/evil-dir');
    expect(await root.stat('alias.txt')).toEqual(await root.stat('real.txt'));
    expect((await rejection(() => root.stat('leak.txt'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => root.stat('evil-dir/secret.txt'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    // Even a path that does not exist yet, below a link that leads out.
    expect((await rejection(() => root.stat('evil-dir/new/x'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
  });

  it('refuses a symlink inside that points at a partial file', async () => {
    const part = partNameFor('a.txt');
    const { root, vol } = await setUp({ [`/srv/data/${part}`]: 'partial' });
    vol.symlinkSync(part, '/srv/data/sneaky');
    const err = await rejection(() => root.openRead('sneaky'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/partial upload/);
    expect(await collect(root.list(''))).toEqual([]);
  });

  it('folder() gives the real folder a path names, symlinks resolved', async () => {
    const { root, vol } = await setUp({ '/srv/data/sub/a.txt': 'x' });
    vol.symlinkSync('sub', '/srv/data/link');
    root.withScope((scope) => {
      expect(root.folder(['link'], scope).path).toBe('/srv/data/sub');
      expect(root.entry(['link', 'a.txt'], scope, false).folder.path).toBe('/srv/data/sub');
      expect(root.folder([], scope).path).toBe('/srv/data');
    });
  });
});

describe('list', () => {
  const tree = {
    '/srv/data/b.txt': 'bb',
    '/srv/data/B.txt': 'B',
    '/srv/data/é.txt': 'e',
    '/srv/data/a': null,
    '/srv/data/a/z.txt': 'zzz',
    '/srv/data/a/inner': null,
    '/srv/data/a/inner/deep.txt': 'd',
    '/srv/data/c': null,
  };

  it('lists one folder sorted by name, folders without a size', async () => {
    const { root } = await setUp(tree);
    const entries = await collect(root.list(''));
    expect(entries.map((e) => e.path)).toEqual(['B.txt', 'a', 'b.txt', 'c', 'é.txt']);
    expect(entries[1]).toMatchObject({ type: 'dir', size: null });
    expect(entries[2]).toMatchObject({ type: 'file', size: 2 });
    expect(typeof entries[2]!.mtimeMs).toBe('number');
    expect(entries[2]!.mode).toBe(0o666);
  });

  it('recursive: depth first, each folder before its contents, paths relative with /', async () => {
    const { root } = await setUp(tree);
    const paths = (await collect(root.list('/', { recursive: true }))).map((e) => e.path);
    expect(paths).toEqual([
      'B.txt',
      'a',
      'a/inner',
      'a/inner/deep.txt',
      'a/z.txt',
      'b.txt',
      'c',
      'é.txt',
    ]);
    const sub = (await collect(root.list('a', { recursive: true }))).map((e) => e.path);
    expect(sub).toEqual(['inner', 'inner/deep.txt', 'z.txt']);
  });

  it('leaves out partial files and names a client could not use', async () => {
    const { root } = await setUp({
      '/srv/data/ok.txt': '',
      [`/srv/data/${partNameFor('ok.txt')}`]: 'partial',
      '/srv/data/CON': '',
      '/srv/data/trailing.': '',
      '/srv/data/back\\slash': '',
      '/srv/data/line\nbreak': '',
      '/srv/data/cafe\u0301': '',
      '/srv/data/C:x': '',
    });
    const paths = (await collect(root.list('', { recursive: true }))).map((e) => e.path);
    expect(paths).toEqual(['ok.txt']);
  });

  it('lists a symlink inside as its target, never descends into it, skips links out', async () => {
    const { root, vol } = await setUp(tree);
    vol.symlinkSync('/srv/data/a', '/srv/data/a-link');
    vol.symlinkSync('/srv/data', '/srv/data/a/loop');
    vol.symlinkSync('b.txt', '/srv/data/b-link');
    vol.symlinkSync('/srv/data-evil/secret.txt', '/srv/data/leak');
    vol.symlinkSync('/srv/data-evil', '/srv/data/evil-dir');
    vol.symlinkSync('/nowhere', '/srv/data/dangling');
    const entries = await collect(root.list('', { recursive: true }));
    expect(entries.map((e) => e.path)).toEqual([
      'B.txt',
      'a',
      'a/inner',
      'a/inner/deep.txt',
      'a/loop',
      'a/z.txt',
      'a-link',
      'b-link',
      'b.txt',
      'c',
      'é.txt',
    ]);
    expect(entries.find((e) => e.path === 'a/loop')).toMatchObject({ type: 'dir', size: null });
    expect(entries.find((e) => e.path === 'b-link')).toMatchObject({ type: 'file', size: 2 });
  });

  it('does not descend into a folder swapped for a symlink after it was seen', async () => {
    const { root } = await setUp({ '/srv/data/sub/inside.txt': 'x' }, (base, vol) =>
      wrapFs({
        lstatSync: (p, options) => {
          const stats = base.lstatSync(p, options);
          if (p === '/srv/data/sub') {
            vol.renameSync('/srv/data/sub', '/srv/data/.moved');
            vol.symlinkSync('/srv/data-evil', '/srv/data/sub');
          }
          return stats;
        },
      }, base),
    );
    const paths = (await collect(root.list('', { recursive: true }))).map((e) => e.path);
    expect(paths).toEqual(['sub']);
  });

  it('listing a file is NOT_DIRECTORY, a missing folder NOT_FOUND, before any entry', async () => {
    const { root } = await setUp(tree);
    expect((await rejection(() => root.list('b.txt').next())).code).toBe('TCPSEND_ERR_NOT_DIRECTORY');
    expect((await rejection(() => root.list('nope').next())).code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect((await rejection(() => root.list('a/../..').next())).code).toBe('TCPSEND_ERR_BAD_PATH');
  });

  it('streams: reads a folder only when the walk reaches it', async () => {
    const files: Record<string, string | null> = {};
    for (let i = 0; i < 50; i++) files[`/srv/data/d${String(i).padStart(2, '0')}/f.txt`] = 'x';
    const readdirs: string[] = [];
    const { root } = await setUp(files, (base) =>
      wrapFs({
        readdirSync: (p, o) => {
          readdirs.push(p);
          return base.readdirSync(p, o);
        },
        opendirSync: (p, o) => {
          readdirs.push(p);
          return base.opendirSync!(p, o);
        },
      }, base),
    );
    const walk = root.list('', { recursive: true });
    expect((await walk.next()).value).toMatchObject({ path: 'd00' });
    expect((await walk.next()).value).toMatchObject({ path: 'd00/f.txt' });
    expect(readdirs).toEqual(['/srv/data', '/srv/data/d00']);
    await walk.return();
  });
});

describe('openRead', () => {
  it('opens a file and reports the opened version', async () => {
    const { root } = await setUp({ '/srv/data/sub/a.txt': 'hello' });
    const { file, info } = root.openRead('sub/a.txt');
    try {
      const buffer = Buffer.alloc(16);
      const { bytesRead } = await file.read(buffer, 0, 16, 0);
      expect(buffer.subarray(0, bytesRead).toString()).toBe('hello');
      expect(info).toMatchObject({ type: 'file', size: 5 });
    } finally {
      file.close();
    }
  });

  it('refuses folders, partial files and missing files', async () => {
    const part = partNameFor('a.txt');
    const { root } = await setUp({ '/srv/data/sub': null, [`/srv/data/${part}`]: 'x' });
    expect((await rejection(() => root.openRead('sub'))).code).toBe('TCPSEND_ERR_IS_DIRECTORY');
    expect((await rejection(() => root.openRead(''))).code).toBe('TCPSEND_ERR_IS_DIRECTORY');
    expect((await rejection(() => root.openRead(part))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => root.openRead('none.txt'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
  });

  it('refuses, and closes the descriptor, when its folder was swapped just before the open', async () => {
    const closed: number[] = [];
    const opened: number[] = [];
    const { root } = await setUp({ '/srv/data/sub/a.txt': 'checked', '/srv/data-evil/a.txt': 'secret' }, (base, vol) =>
      wrapFs({
        openSync: (p, flags, mode) => {
          if (p === '/srv/data/sub/a.txt') {
            // Between the check and the open, the folder is replaced by a symlink out.
            vol.renameSync('/srv/data/sub', '/srv/data/old');
            vol.symlinkSync('/srv/data-evil', '/srv/data/sub');
          }
          const fd = base.openSync(p, flags, mode);
          opened.push(fd);
          return fd;
        },
        closeSync: (fd) => {
          closed.push(fd);
          base.closeSync(fd);
        },
      }, base),
    );
    const err = await rejection(() => root.openRead('sub/a.txt'));
    expect(err.code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(err.message).toMatch(/changed while it was being (opened|used)/);
    expect(err.message).not.toContain('secret');
    expect(closed).toEqual(opened);
  });
});

describe('mkdirs', () => {
  it('makes each new folder durable: the folder holding its name is fsynced (folders that existed are not)', async () => {
    const synced: string[] = [];
    const { root } = await setUp({ '/srv/data/old': null }, (base) =>
      (() => {
        const folderFds = new Map<number, string>();
        return wrapFs({
          openSync: (file, flags, mode) => {
            const fd = base.openSync(file, flags, mode);
            if (flags === 'r') folderFds.set(fd, file);
            return fd;
          },
          fsyncSync: (fd) => {
            if (folderFds.has(fd)) synced.push(folderFds.get(fd)!);
            base.fsyncSync(fd);
          },
        }, base);
      })(),
    );
    await root.mkdirs('old/a/b');
    expect(synced.sort()).toEqual(['/srv/data/old', '/srv/data/old/a']);
    synced.length = 0;
    await root.mkdirs('old/a/b');
    expect(synced).toEqual([]);
  });

  it('creates the folder and its parents; an existing folder is fine', async () => {
    const { root } = await setUp();
    await root.mkdirs('a/b/c');
    expect(await root.stat('a/b/c')).toMatchObject({ type: 'dir' });
    await root.mkdirs('a/b/c');
    await root.mkdirs('/a//b/');
  });

  it('sets mode and mtime on the last folder only', async () => {
    const { root } = await setUp();
    await root.mkdirs('x/y', { mode: 0o2750, mtimeMs: MTIME });
    expect(await root.stat('x/y')).toMatchObject({ mode: 0o750, mtimeMs: MTIME });
    expect((await root.stat('x')).mtimeMs).not.toBe(MTIME);
  });

  it('leaves the root alone', async () => {
    const { root } = await setUp();
    const before = await root.stat('');
    await root.mkdirs('', { mode: 0o000, mtimeMs: 0 });
    expect(await root.stat('')).toEqual(before);
  });

  it('a file in the way is NOT_DIRECTORY, naming the step', async () => {
    const { root } = await setUp({ '/srv/data/a/file.txt': 'x' });
    const deep = await rejection(() => root.mkdirs('a/file.txt/b'));
    expect(deep.code).toBe('TCPSEND_ERR_NOT_DIRECTORY');
    expect(deep.message).toContain("'a/file.txt'");
    expect((await rejection(() => root.mkdirs('a/file.txt'))).code).toBe('TCPSEND_ERR_NOT_DIRECTORY');
  });

  it('goes through a symlinked folder inside, never through one that leads out', async () => {
    const { root, vol } = await setUp({ '/srv/data/real': null });
    vol.symlinkSync('/srv/data/real', '/srv/data/inside');
    vol.symlinkSync('/srv/data-evil', '/srv/data/out');
    vol.symlinkSync('/srv/data/nowhere', '/srv/data/dangling');
    await root.mkdirs('inside/new');
    expect(vol.statSync('/srv/data/real/new').isDirectory()).toBe(true);
    expect((await rejection(() => root.mkdirs('out/new'))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(vol.existsSync('/srv/data-evil/new')).toBe(false);
    expect((await rejection(() => root.mkdirs('dangling/x'))).code).toBe('TCPSEND_ERR_NOT_DIRECTORY');
    expect(vol.existsSync('/srv/data/nowhere')).toBe(false);
  });

  it('refuses bad paths, partial names and bad attributes', async () => {
    const { root } = await setUp();
    expect((await rejection(() => root.mkdirs('a/../b'))).code).toBe('TCPSEND_ERR_BAD_PATH');
    expect((await rejection(() => root.mkdirs(partNameFor('x')))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    expect((await rejection(() => root.mkdirs('m', { mode: 0o10000 }))).code).toBe('TCPSEND_ERR_BAD_REQUEST');
    expect((await rejection(() => root.mkdirs('m', { mtimeMs: -1 }))).code).toBe('TCPSEND_ERR_BAD_REQUEST');
    expect((await rejection(() => root.mkdirs('m', { mtimeMs: 1.5 }))).code).toBe('TCPSEND_ERR_BAD_REQUEST');
  });
});

describe('upload parts', () => {
  it('collects bytes in a hidden part; the file appears only on finalize', async () => {
    const { root, vol } = await setUp();
    const part = await openPart(root, 'in/sub/file.bin');
    expect(part.size).toBe(0);
    expect(partPathOf(part)).toBe(`/srv/data/in/sub/${partNameFor('file.bin')}`);
    await part.write(Buffer.from('hello '));
    await part.write(Buffer.from('world'));
    expect(part.size).toBe(11);
    expect((await rejection(() => root.stat('in/sub/file.bin'))).code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect((await collect(root.list('in/sub'))).map((e) => e.path)).toEqual([]);

    await commitPart(root, part, { mtimeMs: MTIME, mode: 0o4640 });
    expect(vol.readFileSync('/srv/data/in/sub/file.bin', 'utf8')).toBe('hello world');
    expect(await root.stat('in/sub/file.bin')).toMatchObject({ size: 11, mtimeMs: MTIME, mode: 0o640 });
    expect(vol.existsSync(partPathOf(part))).toBe(false);
    expect(part.closed).toBe(true);
  });

  it('keeps the part across a crash, one per destination', async () => {
    const { root } = await setUp();
    const first = await openPart(root, 'f.bin');
    await first.write(Buffer.alloc(1000, 1));
    await first.close(); // the connection dropped
    const again = await openPart(root, 'f.bin');
    expect(again.size).toBe(1000);
    await again.write(Buffer.alloc(24, 2));
    expect(again.size).toBe(1024);
    await again.close();
    const other = await openPart(root, 'g.bin');
    expect(other.size).toBe(0);
    await other.close();
  });

  it('a part name planted as a hard link to a file elsewhere is not resumed or written through', async () => {
    const { root, vol } = await setUp();
    vol.linkSync('/srv/data-evil/secret.txt', `/srv/data/${partNameFor('f.txt')}`);
    const part = await openPart(root, 'f.txt');
    expect(part.size).toBe(0);
    await part.write(Buffer.from('uploaded'));
    await commitPart(root, part);
    expect(vol.readFileSync('/srv/data-evil/secret.txt', 'utf8')).toBe('secret');
    expect(vol.readFileSync('/srv/data/f.txt', 'utf8')).toBe('uploaded');
  });

  it('truncate starts over (DATA offset=0)', async () => {
    const { root, vol } = await setUp();
    const part = await openPart(root, 'f.txt');
    await part.write(Buffer.from('stale bytes'));
    await part.truncate(0);
    await part.write(Buffer.from('fresh'));
    await commitPart(root, part);
    expect(vol.readFileSync('/srv/data/f.txt', 'utf8')).toBe('fresh');
    const next = await openPart(root, 'g.txt');
    expect((await rejection(() => next.truncate(5))).code).toBe('TCPSEND_ERR_BAD_RANGE');
    await next.close();
  });

  it('finalize replaces an existing file, and a symlink rather than writing through it', async () => {
    const { root, vol } = await setUp({ '/srv/data/old.txt': 'old' });
    vol.symlinkSync('/srv/data-evil/secret.txt', '/srv/data/link.txt');
    const part = await openPart(root, 'old.txt');
    await part.write(Buffer.from('new'));
    await commitPart(root, part);
    expect(vol.readFileSync('/srv/data/old.txt', 'utf8')).toBe('new');

    const viaLink = await openPart(root, 'link.txt');
    await viaLink.write(Buffer.from('mine'));
    await commitPart(root, viaLink);
    expect(vol.lstatSync('/srv/data/link.txt').isSymbolicLink()).toBe(false);
    expect(vol.readFileSync('/srv/data/link.txt', 'utf8')).toBe('mine');
    expect(vol.readFileSync('/srv/data-evil/secret.txt', 'utf8')).toBe('secret');
  });

  it('syncs and closes the part before the rename', async () => {
    const events: string[] = [];
    const { root } = await setUp({}, (base) =>
      (() => {
        const names = new Map<number, string>();
        return wrapFs({
          openSync: (p, flags, mode) => {
            const fd = base.openSync(p, flags, mode);
            names.set(fd, p.endsWith('.tcpsend-part') ? 'part' : 'dir');
            return fd;
          },
          fsync: (fd, done) => {
            events.push(`sync ${names.get(fd)}`);
            base.fsync(fd, done);
          },
          fsyncSync: (fd) => {
            events.push(`sync ${names.get(fd)}`);
            base.fsyncSync(fd);
          },
          closeSync: (fd) => {
            events.push(`close ${names.get(fd)}`);
            base.closeSync(fd);
          },
          renameSync: (a, b) => {
            events.push('rename');
            base.renameSync(a, b);
          },
        }, base);
      })(),
    );
    const part = await openPart(root, 'f.txt');
    await part.write(Buffer.from('x'));
    await commitPart(root, part);
    expect(events.slice(0, 3)).toEqual(['sync part', 'close part', 'rename']);
  });

  it('a folder at the destination is IS_DIRECTORY, at open and at finalize', async () => {
    const { root, vol } = await setUp({ '/srv/data/dir': null });
    expect((await rejection(() => openPart(root, 'dir'))).code).toBe('TCPSEND_ERR_IS_DIRECTORY');
    expect((await rejection(() => openPart(root, ''))).code).toBe('TCPSEND_ERR_IS_DIRECTORY');
    const part = await openPart(root, 'late');
    vol.mkdirSync('/srv/data/late');
    expect((await rejection(() => commitPart(root, part))).code).toBe('TCPSEND_ERR_IS_DIRECTORY');
    expect(vol.existsSync(partPathOf(part))).toBe(true); // kept: nothing was lost
    await discardPart(root, part);
  });

  it('refuses bad names, partial names and the wrong destination', async () => {
    const { root } = await setUp();
    expect((await rejection(() => openPart(root, 'a/../b'))).code).toBe('TCPSEND_ERR_BAD_PATH');
    expect((await rejection(() => openPart(root, 'nul.txt'))).code).toBe('TCPSEND_ERR_BAD_PATH');
    expect((await rejection(() => openPart(root, partNameFor('x')))).code).toBe('TCPSEND_ERR_FORBIDDEN');
    // (A part knows its own destination: it cannot be committed onto another name.)
  });

  it('discard removes the part, and is safe to repeat', async () => {
    const { root, vol } = await setUp();
    const part = await openPart(root, 'gone.txt');
    await part.write(Buffer.from('bytes'));
    await discardPart(root, part);
    expect(vol.existsSync(partPathOf(part))).toBe(false);
    await discardPart(root, part);
    expect((await openPart(root, 'gone.txt')).size).toBe(0);
  });

  it('a full disk is NO_SPACE, and the bytes that made it stay for resume', async () => {
    let room = 10;
    const { root, vol } = await setUp({}, (base) =>
      wrapFs({
        write: (fd, buffer, offset, length, position, done) => {
          if (room === 0) {
            done(errno('ENOSPC'), 0);
            return;
          }
          const n = Math.min(length, room);
          room -= n;
          base.write(fd, buffer, offset, n, position, done);
        },
      }, base),
    );
    const part = await openPart(root, 'big.bin');
    const err = await rejection(part.write(Buffer.alloc(25, 7)));
    expect(err).toBeInstanceOf(NoSpaceError);
    expect(err.message).toContain("'big.bin'");
    expect(part.size).toBe(10);
    await part.close();
    expect(vol.statSync(partPathOf(part)).size).toBe(10);
    expect((await openPart(root, 'big.bin')).size).toBe(10);
  });

  it('short writes are continued until the whole chunk is written', async () => {
    const { root, vol } = await setUp({}, (base) =>
      wrapFs({
        write: (fd, buffer, offset, length, position, done) => base.write(fd, buffer, offset, Math.min(length, 3), position, done),
      }, base),
    );
    const part = await openPart(root, 's.txt');
    await part.write(Buffer.from('0123456789'));
    expect(part.size).toBe(10);
    await commitPart(root, part);
    expect(vol.readFileSync('/srv/data/s.txt', 'utf8')).toBe('0123456789');
  });

  it('a closed part cannot be written', async () => {
    const { root } = await setUp();
    const part = await openPart(root, 'c.txt');
    await part.close();
    await part.close();
    expect((await rejection(part.write(Buffer.from('x')))).code).toBe('TCPSEND_ERR_INTERNAL');
  });
});
