/**
 * WalkedFolder: a walked file is opened through the folders held open, and must be the file
 * the walk saw; never through a symlink, never stuck on a FIFO.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileChangedError } from '../../src/errors.js';
import { walkLocal } from '../../src/transfer/walk.js';
import { WalkedFolder } from '../../src/transfer/walked-file.js';
import { tempDir } from '../helpers/server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** work/src/d/f.txt ("mine") and work/outside/f.txt ("theirs"); the src folder held as a WalkedFolder. */
async function walked() {
  const work = await fsp.realpath(await tempDir('tcpsend-walked-'));
  cleanups.push(() => fsp.rm(work, { recursive: true, force: true }));
  const src = path.join(work, 'src');
  const outside = path.join(work, 'outside');
  await fsp.mkdir(path.join(src, 'd'), { recursive: true });
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(src, 'd', 'f.txt'), 'mine\n');
  await fsp.writeFile(path.join(outside, 'f.txt'), 'theirs\n');
  const folder = WalkedFolder.open(src);
  cleanups.push(() => folder.close());
  return { src, outside, folder, seen: await fsp.lstat(path.join(src, 'd', 'f.txt')) };
}

function readFd(fd: number): string {
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('WalkedFolder', () => {
  it('opens the file the walk saw, through its folder (sync and as a FileHandle)', async () => {
    const { folder, seen } = await walked();
    const { fd, stats } = folder.openSync('d/f.txt', seen);
    expect(stats.ino).toBe(seen.ino);
    expect(readFd(fd)).toBe('mine\n');
    const handle = await folder.open('d/f.txt', seen);
    try {
      expect((await handle.readFile()).toString()).toBe('mine\n');
    } finally {
      await handle.close();
    }
  });

  it('another file put under the name since: FileChangedError, nothing opened', async () => {
    const { src, folder, seen } = await walked();
    const file = path.join(src, 'd', 'f.txt');
    await fsp.writeFile(`${file}.new`, 'theirs\n');
    await fsp.rename(`${file}.new`, file);
    expect(() => folder.openSync('d/f.txt', seen)).toThrow(/was replaced after its folder was read/);
    await expect(folder.open('d/f.txt', seen)).rejects.toThrow(FileChangedError);
  });

  it('a symlink put under the name since, even to the very file seen: not followed', async () => {
    const { src, folder, seen } = await walked();
    const file = path.join(src, 'd', 'f.txt');
    await fsp.rename(file, path.join(src, 'aside'));
    await fsp.symlink(path.join(src, 'aside'), file);
    expect(() => folder.openSync('d/f.txt', seen)).toThrow(/replaced by a symlink/);
    await expect(folder.open('d/f.txt', seen)).rejects.toThrow(FileChangedError);
  });

  it.skipIf(process.platform !== 'linux')(
    'a folder above it swapped for a symlink to the outside: refused even where the walk saw the outside file',
    async () => {
      const { src, outside, folder } = await walked();
      // A walk looks at entries by their plain paths: through the swapped folder it sees the
      // outside file, and that is the identity it passes. The open still goes through d as held
      // (or refuses the link at d): never the outside file.
      await fsp.rename(path.join(src, 'd'), path.join(src, 'd.aside'));
      await fsp.symlink(outside, path.join(src, 'd'));
      const seenOutside = await fsp.lstat(path.join(src, 'd', 'f.txt'));
      expect(() => folder.openSync('d/f.txt', seenOutside)).toThrow(FileChangedError);
      await expect(folder.open('d/f.txt', seenOutside)).rejects.toThrow(/a folder above it was replaced/);
    },
  );

  it.skipIf(process.platform !== 'linux')('a folder held open and swapped afterwards: the file opened is the one inside, and must be the one seen', async () => {
    const { src, outside, folder, seen } = await walked();
    readFd(folder.openSync('d/f.txt', seen).fd); // d is held from here
    await fsp.rename(path.join(src, 'd'), path.join(src, 'd.aside'));
    await fsp.symlink(outside, path.join(src, 'd'));
    expect(readFd(folder.openSync('d/f.txt', seen).fd)).toBe('mine\n');
    const seenOutside = await fsp.lstat(path.join(src, 'd', 'f.txt'));
    expect(() => folder.openSync('d/f.txt', seenOutside)).toThrow(/was replaced after its folder was read/);
  });

  it.skipIf(process.platform === 'win32')('a FIFO put under the name since: refused at once, no wait for a writer', async () => {
    const { src, folder, seen } = await walked();
    const file = path.join(src, 'd', 'f.txt');
    await fsp.rm(file);
    execFileSync('mkfifo', [file]);
    expect(() => folder.openSync('d/f.txt', seen)).toThrow(/not a regular file/);
  });

  it.skipIf(process.platform !== 'linux')('holds a bounded number of folders, and a folder let go while an open waits on it stays open until it is done', async () => {
    const { src, folder } = await walked();
    const names = Array.from({ length: 80 }, (_, i) => `f${String(i).padStart(2, '0')}/x`);
    for (const name of names) {
      await fsp.mkdir(path.join(src, path.dirname(name)));
      await fsp.writeFile(path.join(src, name), name);
    }
    const seen = new Map(await Promise.all(names.map(async (name) => [name, await fsp.lstat(path.join(src, name))] as const)));
    const before = openFds();
    const waiting = folder.open(names[0]!, seen.get(names[0]!)!); // its folder is let go below, before this open runs
    for (const name of names.slice(1)) expect(readFd(folder.openSync(name, seen.get(name)!).fd)).toBe(name);
    const handle = await waiting;
    try {
      expect((await handle.readFile()).toString()).toBe(names[0]);
    } finally {
      await handle.close();
    }
    expect(openFds() - before).toBeLessThanOrEqual(32);
  });

  it('a walk from walkAt finds what a walk of the path finds', async () => {
    const { src, folder } = await walked();
    const rels = (at?: string) => [...walkLocal(src, { at })].map((e) => `${e.rel} ${e.abs} ${e.ino}`);
    expect(rels(folder.walkAt)).toEqual(rels());
  });

  it.skipIf(process.platform !== 'linux')('closes its folders once: a second close() closes nothing of anyone else, and an open after it is refused', async () => {
    const { src, folder, seen } = await walked();
    folder.close();
    const other = fs.openSync(path.join(src, 'd', 'f.txt'), 'r'); // the lowest free number: the root's
    folder.close();
    expect(() => fs.fstatSync(other)).not.toThrow();
    fs.closeSync(other);
    const before = openFds();
    expect(() => folder.openSync('d/f.txt', seen)).toThrow(/no longer held/);
    await expect(folder.open('d/f.txt', seen)).rejects.toThrow(/no longer held/);
    expect(openFds()).toBe(before);
  });

  it.skipIf(process.platform !== 'linux')("names the file by its own path when it is gone, and calls a socket put under its name a change", async () => {
    const { src, folder, seen } = await walked();
    const file = path.join(src, 'd', 'f.txt');
    await fsp.rm(file);
    const gone = (() => {
      try {
        folder.openSync('d/f.txt', seen);
      } catch (err) {
        return err as NodeJS.ErrnoException;
      }
    })();
    expect([gone?.code, gone?.message]).toEqual(['ENOENT', `ENOENT: no such file or directory, open '${file}'`]);
    const server = net.createServer().listen(file);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      expect(() => folder.openSync('d/f.txt', seen)).toThrow(FileChangedError);
    } finally {
      server.close();
    }
    await fsp.rm(path.join(src, 'd'), { recursive: true, force: true });
    expect(() => folder.openSync('d/f.txt', seen)).toThrow(`ENOENT: no such file or directory, open '${file}'`);
  });
});
