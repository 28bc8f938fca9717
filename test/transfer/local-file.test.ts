/**
 * The client's local files: a LocalFolder is the destination's confinement boundary (the
 * server's Root over it). Each case runs with folders held open (Linux) and with the identity
 * checks used elsewhere.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BadPathError, ForbiddenError, IsDirectoryError } from '../../src/errors.js';
import { LocalFolder, LocalPlace, readWholeFileSync, type FileFacts } from '../../src/transfer/local-file.js';
import { WalkedFolder } from '../../src/transfer/walked-file.js';
import { utimesSeconds } from '../../src/files/index.js';
import { tempDir } from '../helpers/server.js';
import { snapshot } from '../security/jail.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0)) await clean();
});

/** work/dest holding `link` → work/outside (mode 700, an old date, holding victim.txt). */
async function layout(heldFolders: boolean) {
  const work = await fsp.realpath(await tempDir('tcpsend-local-file-'));
  const dest = path.join(work, 'dest');
  const outside = path.join(work, 'outside');
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'victim.txt'), 'keep me\n');
  await fsp.chmod(outside, 0o700);
  await fsp.utimes(outside, 1_600_000_000, 1_600_000_000);
  const folder = await LocalFolder.open(dest, { heldFolders });
  await fsp.symlink(outside, path.join(dest, 'link'));
  cleanups.push(async () => {
    folder.close();
    await fsp.rm(work, { recursive: true, force: true });
  });
  return { work, dest, outside, folder };
}

describe.each([
  ['held folders', true],
  ['checked folders', false],
])('LocalFolder (%s)', (_label, heldFolders) => {
  it('stores a small file whole, with its mode and mtime, and makes folders on the way', async () => {
    const { dest, folder } = await layout(heldFolders);
    expect(folder.created).toBe(true);
    folder.place('a/b/f.txt').storeWhole(Buffer.from('hello\n'), { mode: 0o4640, mtimeMs: 1_650_000_000_000 });
    const st = await fsp.stat(path.join(dest, 'a', 'b', 'f.txt'));
    expect(await fsp.readFile(path.join(dest, 'a', 'b', 'f.txt'), 'utf8')).toBe('hello\n');
    expect(st.mode & 0o7777).toBe(0o640); // never setuid from a peer
    expect(Math.floor(st.mtimeMs)).toBe(1_650_000_000_000);
    expect(await fsp.readdir(path.join(dest, 'a', 'b'))).toEqual(['f.txt']);
  });

  it('streams into a part, resumes it, and commits it with its attributes', async () => {
    const { dest, folder } = await layout(heldFolders);
    const place = folder.place('big.bin');
    const first = place.openPart(0);
    await first.write(Buffer.from('abc'));
    first.close();
    expect(place.partSize()).toBe(3);
    const part = place.openPart(2); // the third byte is dropped
    await part.write(Buffer.from('XY'));
    await place.commit(part, { mode: 0o600, mtimeMs: 1000 });
    expect(await fsp.readFile(path.join(dest, 'big.bin'), 'utf8')).toBe('abXY');
    expect((await fsp.stat(path.join(dest, 'big.bin'))).mode & 0o777).toBe(0o600);
    expect(place.partSize()).toBe(0);
  });

  it('a mtime past what a Date holds is clamped, never an error', async () => {
    const { dest, folder } = await layout(heldFolders);
    folder.place('future').storeWhole(Buffer.from('x'), { mtimeMs: Number.MAX_SAFE_INTEGER });
    expect((await fsp.stat(path.join(dest, 'future'))).mtimeMs).toBeGreaterThan(Date.UTC(2400, 0, 1));
  });

  it('never writes, makes folders or sets attributes through a symlink that leads out', async () => {
    const { work, dest, folder } = await layout(heldFolders);
    const before = await snapshot(work, dest);
    expect(() => folder.place('link/evil.txt').storeWhole(Buffer.from('evil'), {})).toThrow(ForbiddenError);
    expect(() => folder.place('link/new/evil.txt').storeWhole(Buffer.from('evil'), {})).toThrow(ForbiddenError);
    expect(() => folder.place('link/evil.bin').openPart(0)).toThrow(ForbiddenError);
    expect(() => folder.mkdirs('link/new')).toThrow(ForbiddenError);
    expect(() => folder.setAttributes('link', { mode: 0o777, mtimeMs: 1000 })).toThrow(ForbiddenError);
    expect(() => folder.place('link/victim.txt').existing()).toThrow(ForbiddenError);
    expect(() => folder.place('link/victim.txt').partSize()).toThrow(ForbiddenError);
    expect(await snapshot(work, dest)).toEqual(before);
  });

  it('a symlink at the file’s own name: leading out, it is refused; leading inside, followed', async () => {
    const { work, dest, outside, folder } = await layout(heldFolders);
    await fsp.symlink(path.join(outside, 'victim.txt'), path.join(dest, 'out.txt'));
    await fsp.writeFile(path.join(dest, 'real.txt'), 'inside\n');
    await fsp.symlink('real.txt', path.join(dest, 'in.txt'));
    const before = await snapshot(work, dest);
    expect(() => folder.place('out.txt').existing()).toThrow(ForbiddenError);
    expect(() => folder.place('out.txt').openExisting()).toThrow(ForbiddenError);
    expect(await snapshot(work, dest)).toEqual(before);
    expect(folder.place('in.txt').existing()).toMatchObject({ type: 'file', size: 7 });
  });

  it('places a symlink, and replaces a file or a link atomically, leaving no temporary name; never through a link out', async () => {
    const { work, dest, folder } = await layout(heldFolders);
    const at = path.join(dest, 'sub', 'l');
    folder.placeSymlink('sub/l', 'first');
    expect(await fsp.readlink(at)).toBe('first');
    folder.placeSymlink('sub/l', 'second');
    expect(await fsp.readlink(at)).toBe('second');
    await fsp.rm(at);
    await fsp.writeFile(at, 'a file');
    folder.placeSymlink('sub/l', 'third');
    expect(await fsp.readlink(at)).toBe('third');
    expect(await fsp.readdir(path.join(dest, 'sub'))).toEqual(['l']);
    expect(() => folder.placeSymlink('sub', 'x')).toThrow(IsDirectoryError);
    const before = await snapshot(work, dest);
    expect(() => folder.placeSymlink('link/evil', 'victim.txt')).toThrow(ForbiddenError);
    expect(await snapshot(work, dest)).toEqual(before);
    folder.sync();
  });

  it('dates the very file it opened to read, on its descriptor', async () => {
    const { dest, folder } = await layout(heldFolders);
    await fsp.writeFile(path.join(dest, 'f.txt'), 'same\n');
    const place = folder.place('f.txt');
    const file = place.openExisting();
    await fsp.rename(path.join(dest, 'f.txt'), path.join(dest, 'moved.txt'));
    place.setMtime(file, 1_650_000_000_000);
    file.close();
    expect(Math.floor((await fsp.stat(path.join(dest, 'moved.txt'))).mtimeMs)).toBe(1_650_000_000_000);
  });

  it('refuses names that could leave the folder, and partial files’ names', async () => {
    const { folder } = await layout(heldFolders);
    expect(() => folder.place('../x')).toThrow(BadPathError);
    expect(() => folder.place('a/.b.tcpsend-part')).toThrow(ForbiddenError);
    expect(() => folder.place('')).toThrow(IsDirectoryError);
  });
});

describe('LocalPlace.forPath', () => {
  it('a path the user names: its folder is made and is the boundary, the user’s symlinks in it followed', async () => {
    const { dest, outside } = await layout(true);
    const place = await LocalPlace.forPath(path.join(dest, 'link', 'f.txt'));
    try {
      place.storeWhole(Buffer.from('mine\n'), {});
    } finally {
      place.folder.close();
    }
    expect(await fsp.readFile(path.join(outside, 'f.txt'), 'utf8')).toBe('mine\n');
  });
});

describe('readWholeFileSync', () => {
  async function fileWith(text: string) {
    const work = await fsp.realpath(await tempDir('tcpsend-read-whole-'));
    cleanups.push(() => fsp.rm(work, { recursive: true, force: true }));
    const file = path.join(work, 'f.txt');
    await fsp.writeFile(file, text);
    await fsp.chmod(file, 0o640);
    await fsp.utimes(file, utimesSeconds(1_700_000_000_123), utimesSeconds(1_700_000_000_123));
    return file;
  }
  const into = (facts: FileFacts) => Buffer.alloc(facts.size);

  it('reads a file whole, with its size, mtime in whole milliseconds and mode', async () => {
    const file = await fileWith('hello');
    const { body, facts } = readWholeFileSync(file, into);
    expect(Buffer.from(body).toString()).toBe('hello');
    expect(facts).toEqual({ size: 5, mtimeMs: 1_700_000_000_123, mode: 0o640 });
  });

  it('checked against what a walk saw: the same facts; a file changed since is read as it is now', async () => {
    const file = await fileWith('hello');
    const { dev, ino } = await fsp.stat(file);
    const seen = { size: 5, mtimeMs: 1_700_000_000_123, mode: 0o640, dev, ino };
    const folder = WalkedFolder.open(path.dirname(file));
    cleanups.push(async () => folder.close());
    const walked = (saw: typeof seen) => ({ folder, rel: path.basename(file), seen: saw });
    const places: FileFacts[] = [];
    const track = (facts: FileFacts) => {
      places.push(facts);
      return into(facts);
    };
    expect(readWholeFileSync(file, track, walked(seen)).facts).toBe(seen); // the walk's facts, as they are
    expect(places).toEqual([seen]); // laid out once
    for (const change of [{ size: 4 }, { mtimeMs: 1_700_000_000_122 }, { mode: 0o600 }]) {
      places.length = 0;
      const { body, facts } = readWholeFileSync(file, track, walked({ ...seen, ...change }));
      expect(Buffer.from(body).toString()).toBe('hello');
      expect(facts).toEqual({ size: 5, mtimeMs: 1_700_000_000_123, mode: 0o640 });
      expect(places).toHaveLength(1); // laid out once, for the file as it is now
    }
  });

});
