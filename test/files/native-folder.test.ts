/**
 * The native folder reader (native/folder.c through src/files/native-folder.ts) is a faster way
 * to do what fs.readdirSync and fs.lstatSync do: held here to give the same names and the same
 * numbers, and the local walk to give the same entries whichever way it reads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CTIME_MS,
  DEV,
  entryError,
  ERRNO,
  FIELDS,
  helperPath,
  INO,
  openAt,
  renameAt,
  MODE,
  MTIME_MS,
  NLINK,
  nativeFolderReads,
  readFolderStats,
  SIZE,
  useNativeFolderReads,
} from '../../src/files/native-folder.js';
import { Root, storeWholeFiles, uploadTarget, type Folder } from '../../src/server/root/index.js';
import { partNameFor } from '../../src/files/index.js';
import { SORTED_FOLDER_MAX } from '../../src/server/root/listing.js';
import { walkLocal } from '../../src/transfer/walk.js';
import { WalkedFolder } from '../../src/transfer/walked-file.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const clean of cleanups.splice(0).reverse()) clean();
  useNativeFolderReads(true);
});

/** A folder of every kind of entry: files, a folder, links in and out, a FIFO, names in several scripts. */
function folder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-native-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hello');
  fs.writeFileSync(path.join(dir, 'données 数据 😀.bin'), Buffer.alloc(70_000, 1));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'deep.txt'), 'deep');
  fs.symlinkSync('a.txt', path.join(dir, 'in-link'));
  fs.symlinkSync('/etc/hostname', path.join(dir, 'out-link'));
  fs.utimesSync(path.join(dir, 'a.txt'), 1_700_000_000.123456, 1_700_000_000.987654);
  if (process.platform !== 'win32') execFileSync('mkfifo', [path.join(dir, 'pipe')]);
  return dir;
}

function opened(dir: string): number {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  cleanups.push(() => fs.closeSync(fd));
  return fd;
}

const hasCompiler = process.platform !== 'win32' && spawnSync(process.env.CC || 'cc', ['--version']).status === 0;

describe('the native folder reader', () => {
  it.runIf(hasCompiler)('was built by npm run build here, and loads', () => {
    expect(fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'native', 'folder.node'))).toBe(true);
    expect(nativeFolderReads()).toBe(true);
  });

  it.runIf(hasCompiler)('gives the names fs.readdirSync gives, each with the numbers fs.lstatSync gives', () => {
    const dir = folder();
    const read = readFolderStats(opened(dir), dir)!;
    expect(read).not.toBeNull();
    expect([...read.names].sort()).toEqual(fs.readdirSync(dir).sort());
    expect(read.stats.length).toBe(read.names.length * FIELDS);
    read.names.forEach((name, i) => {
      const st = fs.lstatSync(path.join(dir, name));
      const at = i * FIELDS;
      expect([read.stats[at + MODE], read.stats[at + SIZE], read.stats[at + MTIME_MS], read.stats[at + CTIME_MS]], name).toEqual([st.mode, st.size, st.mtimeMs, st.ctimeMs]);
      expect([read.stats[at + DEV], read.stats[at + INO], read.stats[at + NLINK], read.stats[at + ERRNO]], name).toEqual([st.dev, st.ino, st.nlink, 0]);
    });
  });

  it.runIf(hasCompiler)('gives null for a folder of more than `max` names, and reads one of exactly `max`', () => {
    const dir = folder();
    const count = fs.readdirSync(dir).length;
    expect(readFolderStats(opened(dir), dir, count - 1)).toBeNull();
    expect(readFolderStats(opened(dir), dir, count)!.names).toHaveLength(count);
  });

  it.runIf(hasCompiler)("words an entry's failed lstat, and a folder it cannot read, as Node does", () => {
    const dir = folder();
    const stats = new Float64Array(FIELDS);
    stats[ERRNO] = 2; // ENOENT: an entry gone between readdir and fstatat
    const err = entryError(stats, 0, path.join(dir, 'gone'));
    let node: NodeJS.ErrnoException | undefined;
    try {
      fs.lstatSync(path.join(dir, 'gone'));
    } catch (e) {
      node = e as NodeJS.ErrnoException;
    }
    expect(err.message).toBe(node!.message);
    expect([err.code, err.errno, err.syscall]).toEqual([node!.code, node!.errno, node!.syscall]);
    const fd = fs.openSync(dir, 'r');
    fs.closeSync(fd);
    expect(() => readFolderStats(fd, dir)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'scandir' }));
  });

  it('with it or without, a walk finds the same entries', () => {
    const dir = folder();
    const walk = () => [...walkLocal(dir, { onSkip: () => {} })];
    const withIt = walk();
    expect(useNativeFolderReads(false)).toBe(false);
    expect(walk()).toEqual(withIt);
    expect(withIt.map((e) => `${e.rel} ${e.type}`)).toEqual(['a.txt file', 'données 数据 😀.bin file', 'in-link link', 'out-link link', 'sub dir', 'sub/deep.txt file']);
  });
});

describe('a walk of a big folder', () => {
  it('the same entries either way, of 3,000 files in 30 folders', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-native-big-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (let d = 0; d < 30; d++) {
      fs.mkdirSync(path.join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}`), String(f));
    }
    const walk = () => [...walkLocal(dir)];
    const withIt = walk();
    useNativeFolderReads(false);
    expect(walk()).toEqual(withIt);
    expect(withIt).toHaveLength(3030);
  });
});

describe("a server's listing", () => {
  async function listed(root: Root, at: string, options = { recursive: true, links: true }): Promise<unknown[]> {
    const all: unknown[] = [];
    for await (const entry of root.list(at, options)) all.push(entry);
    return all;
  }

  it('is the same with the native helper and without: files, folders, links in, out and dangling, FIFOs, partial files, dotfiles', async () => {
    const dir = folder();
    fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
    fs.symlinkSync('sub', path.join(dir, 'sub-link'));
    fs.writeFileSync(path.join(dir, '.hidden'), 'h');
    fs.writeFileSync(path.join(dir, 'sub', '.x.tcpsend-part'), 'part');
    for (const dotfiles of [false, true]) {
      for (const options of [{ recursive: true, links: true }, { recursive: true, links: false }, { recursive: false, links: false }]) {
        useNativeFolderReads(true);
        const root = await Root.open(dir, { dotfiles });
        const withIt = await listed(root, '', options);
        useNativeFolderReads(false);
        expect(await listed(root, '', options), JSON.stringify({ dotfiles, options })).toEqual(withIt);
        expect(withIt.length).toBeGreaterThan(3);
      }
    }
  });

  it(`lists a folder of more than ${SORTED_FOLDER_MAX} names as it is read, every name once, either way`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-native-huge-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'big'));
    const count = SORTED_FOLDER_MAX + 10;
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, 'big', `f${i}`), '');
    const root = await Root.open(dir);
    for (const native of [true, false]) {
      useNativeFolderReads(native);
      const names = ((await listed(root, 'big', { recursive: false, links: false })) as { path: string }[]).map((e) => e.path);
      expect(new Set(names).size).toBe(count);
    }
  }, 30_000);
});

describe('files stored in a folder held open (openat, renameat)', () => {
  /** A batch of small files stored through a Root over a real folder: what is there after, and the errors. */
  async function store(native: boolean) {
    useNativeFolderReads(native);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-native-store-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'a', 'in-the-way'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a', partNameFor('stale.txt')), 'left by a crash');
    fs.writeFileSync(path.join(dir, 'a', 'old.txt'), 'old');
    const root = await Root.open(dir);
    const scope = root.newScope();
    cleanups.push(() => scope.close());
    const file = (rel: string, body: string, mode: number) => ({
      target: uploadTarget(root, root.segments(rel), scope),
      body: Buffer.from(body),
      attributes: { mtimeMs: 1_700_000_000_123, mode },
    });
    const errors = storeWholeFiles(
      root,
      [file('a/one.txt', 'one', 0o640), file('a/in-the-way', 'no', 0o644), file('a/stale.txt', 'fresh', 0o600), file('a/old.txt', 'new', 0o644), file('b/c/deep.txt', 'deep', 0o604)],
      scope,
      new Set<Folder>(),
    );
    const there: Record<string, string> = {};
    for (const rel of ['a/one.txt', 'a/stale.txt', 'a/old.txt', 'b/c/deep.txt']) {
      const st = fs.statSync(path.join(dir, rel));
      there[rel] = `${fs.readFileSync(path.join(dir, rel), 'utf8')} ${(st.mode & 0o777).toString(8)} ${Math.floor(st.mtimeMs)}`;
    }
    return { errors: errors.map((e) => e?.code ?? null), there, left: fs.readdirSync(path.join(dir, 'a')).sort() };
  }

  it.runIf(hasCompiler)('stores the same files, with the same modes, mtimes and errors, with the helper and without', async () => {
    const withIt = await store(true);
    expect(await store(false)).toEqual(withIt);
    expect(withIt.errors).toEqual([null, 'TCPSEND_ERR_IS_DIRECTORY', null, null, null]);
    expect(withIt.there['a/stale.txt']).toBe('fresh 600 1700000000123');
    expect(withIt.left).toEqual(['in-the-way', 'old.txt', 'one.txt', 'stale.txt']);
  });

  it.runIf(hasCompiler)('openAt and renameAt act on one name in the folder held, and word their errors as Node does', () => {
    const dir = folder();
    const fd = opened(dir);
    const made = openAt(fd, 'new.txt', fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600, path.join(dir, 'new.txt'))!;
    fs.writeSync(made, 'made');
    fs.closeSync(made);
    expect(renameAt(fd, 'new.txt', fd, 'a.txt', path.join(dir, 'a.txt'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('made');
    expect(() => openAt(fd, 'a.txt', fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600, 'shown')).toThrow("EEXIST: file already exists, open 'shown'");
    expect(() => openAt(fd, 'in-link', fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW, 0, 'shown')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(() => renameAt(fd, 'gone', fd, 'x', 'shown')).toThrow("ENOENT: no such file or directory, rename 'shown'");
    expect(() => openAt(fd, 'sub/deep.txt', fs.constants.O_RDONLY, 0, 'shown')).toThrow(/no '\/'/);
    expect(() => openAt(fd, '', fs.constants.O_RDONLY, 0, 'shown')).toThrow(/not empty/);
    useNativeFolderReads(false);
    expect(openAt(fd, 'a.txt', fs.constants.O_RDONLY, 0, 'shown')).toBeNull();
    expect(renameAt(fd, 'a.txt', fd, 'b.txt', 'shown')).toBe(false);
  });
});

describe('files opened to be read in a folder held open (openat)', () => {
  /** What a server's GET and MGET read (Root.openRead) of each name: its bytes and type, or the error's code. */
  async function served(dir: string): Promise<Record<string, string>> {
    const root = await Root.open(dir);
    const seen: Record<string, string> = {};
    for (const rel of ['a.txt', 'sub/deep.txt', 'in-link', 'out-link', 'sub', 'pipe', 'gone.txt', 'sub/gone.txt']) {
      try {
        const { file, info } = root.openRead(rel);
        const body = Buffer.alloc(info.size);
        file.readSyncInto(body, 0);
        file.close();
        seen[rel] = `${info.type} ${info.size} ${body.toString('latin1').slice(0, 8)}`;
      } catch (err) {
        seen[rel] = (err as { code?: string }).code ?? String(err);
      }
    }
    return seen;
  }

  /** What a folder put reads of each walked file (WalkedFolder.openSync), after some were swapped since the walk. */
  function walkedReads(dir: string): string[] {
    const walked = WalkedFolder.open(dir);
    try {
      const entries = [...walkLocal(dir, { at: walked.walkAt })].filter((e) => e.type === 'file');
      fs.rmSync(path.join(dir, 'sub', 'deep.txt'));
      fs.symlinkSync('/etc/hostname', path.join(dir, 'sub', 'deep.txt'));
      return entries.map((e) => {
        try {
          const { fd, stats } = walked.openSync(e.rel, e);
          fs.closeSync(fd);
          return `${e.rel}: ${stats.size}`;
        } catch (err) {
          return `${e.rel}: ${(err as Error).message.replaceAll(dir, 'DIR')}`;
        }
      });
    } finally {
      walked.close();
    }
  }

  it.runIf(hasCompiler && process.platform === 'linux')('a server reads the same files, and refuses the same names, with the helper and without', async () => {
    const withIt = await served(folder());
    useNativeFolderReads(false);
    expect(await served(folder())).toEqual(withIt);
    expect(withIt).toMatchObject({ 'a.txt': 'file 5 hello', 'sub/deep.txt': 'file 4 deep', 'in-link': 'file 5 hello', sub: 'TCPSEND_ERR_IS_DIRECTORY', 'gone.txt': 'TCPSEND_ERR_NOT_FOUND' });
    expect(withIt['out-link']).toMatch(/FORBIDDEN/);
    expect(withIt.pipe).toMatch(/FORBIDDEN/);
  });

  it.runIf(hasCompiler && process.platform === 'linux')("a folder put opens the walked files the same way with the helper and without, and refuses one swapped for a link", () => {
    const withIt = walkedReads(folder());
    useNativeFolderReads(false);
    expect(walkedReads(folder())).toEqual(withIt);
    expect(withIt).toContain('a.txt: 5');
    expect(withIt.find((line) => line.startsWith('sub/deep.txt'))).toMatch(/replaced by a symlink/);
  });
});

describe('names the native helper must treat as the plain way does', () => {
  it.runIf(hasCompiler && process.platform === 'linux')('a name that is not UTF-8 is looked at and listed as the plain way would: not found', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-native-bytes-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const raw = Buffer.from(dir);
    fs.writeFileSync(Buffer.concat([raw, Buffer.from('/bad\xff', 'latin1')]), 'x');
    fs.mkdirSync(Buffer.concat([raw, Buffer.from('/bdir\xfe', 'latin1')]));
    fs.writeFileSync(path.join(dir, 'good.txt'), 'ok');
    const walk = () => {
      const skipped: string[] = [];
      const entries = [...walkLocal(dir, { onSkip: (rel, why) => skipped.push(`${rel}: ${why.split(',')[0]}`) })].map((e) => e.rel);
      return { entries, skipped: skipped.sort() };
    };
    const root = await Root.open(dir);
    const list = async () => {
      const all: string[] = [];
      for await (const entry of root.list('', { recursive: true })) all.push(entry.path);
      return all;
    };
    const withIt = { walk: walk(), list: await list() };
    useNativeFolderReads(false);
    expect({ walk: walk(), list: await list() }).toEqual(withIt);
    expect(withIt.walk.entries).toEqual(['good.txt']);
    expect(withIt.list).toEqual(['good.txt']);
  });

  it.runIf(hasCompiler)("openAt and renameAt refuse '.', '..' and a name past 255 bytes, even one cut in the middle of a character", () => {
    const dir = folder();
    const fd = opened(dir);
    for (const name of ['.', '..', `${'a'.repeat(255)}€`, `${'a'.repeat(254)}😀`, 'a'.repeat(256)]) {
      expect(() => openAt(fd, name, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600, 'shown'), name.slice(0, 8)).toThrow(/at most 255 bytes/);
      expect(() => renameAt(fd, 'a.txt', fd, name, 'shown'), name.slice(0, 8)).toThrow(/at most 255 bytes/);
    }
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('aaaa'))).toEqual([]);
    const longest = 'é'.repeat(127); // 254 bytes
    fs.closeSync(openAt(fd, longest, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600, 'shown')!);
    expect(fs.existsSync(path.join(dir, longest))).toBe(true);
  });

  it('is looked for only where each layout keeps it: never beside the single executable, nor above the file it runs from', () => {
    expect(helperPath('/opt/pkg/dist/tcpsend-cli.cjs')).toBe('/opt/pkg/dist/native/folder.node');
    expect(helperPath('/opt/pkg/dist/files/native-folder.js')).toBe('/opt/pkg/dist/native/folder.node');
    expect(helperPath('/work/src/files/native-folder.ts')).toBe('/work/dist/native/folder.node');
    expect(helperPath(process.execPath)).toBeNull();
    expect(helperPath('/tmp/x/y/tcpsend')).toBeNull();
    expect(helperPath('/tmp/x/y/other-bundle.cjs')).toBeNull();
  });
});
