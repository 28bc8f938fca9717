/**
 * The client's destination folder is a confinement boundary too (issue 14, finding 3): a
 * hostile server chooses the names below it, and a local user may plant or swap symlinks in
 * it. Whatever either does, the client writes only inside the destination, never through a
 * symlink that leads out of it, and sets modes and dates only on what is inside.
 */
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExistsError, ForbiddenError, TcpsendError } from '../../src/errors.js';
import { TcpsendClient } from '../../src/client/client.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree } from '../../src/client/tree.js';
import { fakeServer, type FakeServer, type Reply } from '../helpers/fake-server.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { startSwapper } from '../helpers/swapper.js';
import { snapshot } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const MTIME = 1_700_000_000_000;
/** Bodies above 256 KiB are streamed into a part file; smaller ones are written whole. */
const LARGE = 2 * 1024 * 1024;

const fakes: FakeServer[] = [];
const servers: TestServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

/**
 * work/dest (the destination, holding `link` → work/outside) and work/outside (mode 700, an
 * old date, holding victim.txt), so a test can prove nothing outside changed.
 */
async function layout(): Promise<{ work: string; dest: string; outside: string }> {
  const work = await fsp.realpath(await tempDir('tcpsend-destination-'));
  dirs.push(work);
  const dest = path.join(work, 'dest');
  const outside = path.join(work, 'outside');
  await fsp.mkdir(dest);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'victim.txt'), 'keep me\n');
  await fsp.writeFile(path.join(outside, 'victim.bin'), 'keep me too\n');
  await fsp.chmod(outside, 0o700);
  await fsp.utimes(outside, 1_600_000_000, 1_600_000_000);
  await fsp.symlink(outside, path.join(dest, 'link'));
  return { work, dest, outside };
}

const entry = (wirePath: string, type: 'file' | 'dir', size?: number, mode = type === 'dir' ? 755 : 644, mtime = MTIME) =>
  `${wirePath} type=${type}${size === undefined ? '' : ` size=${size}`} mtime=${mtime} mode=${mode}\r\n`;

/** A fake server whose LIST of `remote` is `listing` and whose GET of `remote/<rel>` sends `files[rel]`. */
async function hostile(listing: string[], files: Record<string, Buffer>): Promise<FakeServer> {
  const fake = await fakeServer((line): Reply => {
    if (line.startsWith('LIST remote')) return { send: ['OK type=dir\r\n', ...listing, '.\r\n'] };
    const asked = /^(GET|STAT) remote\/(\S+)/.exec(line);
    const body = asked ? files[decodeURIComponent(asked[2]!)] : undefined;
    if (body === undefined) return { send: ['ERR NOT_FOUND no such file\r\n'] };
    if (asked![1] === 'STAT') return { send: [`OK type=file size=${body.length} mtime=${MTIME} mode=644 sha256=${sha(body)}\r\n`] };
    return {
      send: [`OK size=${body.length} offset=0 length=${body.length} mtime=${MTIME} mode=777\r\n`, body, `OK sha256=${sha(body)}\r\n`],
    };
  });
  fakes.push(fake);
  return fake;
}

async function treeFrom(fake: FakeServer, dest: string) {
  const client = new ReconnectingClient(`127.0.0.1:${fake.port}`, { retries: 0, idleTimeoutMs: 5000 });
  clients.push(client);
  const failures = new Map<string, unknown>();
  const summary = await getTree(client, 'remote', dest, { onFileError: (rel, err) => failures.set(rel, err) });
  return { summary, failures };
}

describe('a hostile server and symlinks in the client destination', () => {
  it('a planted symlink to a folder outside: nothing is written through it, small or streamed, however deep', async () => {
    const { work, dest, outside } = await layout();
    const small = Buffer.from('EVIL small\n');
    const large = randomBytes(LARGE);
    const good = Buffer.from('good\n');
    const fake = await hostile(
      [
        entry('good.txt', 'file', good.length),
        entry('link', 'dir'),
        entry('link/evil.txt', 'file', small.length),
        entry('link/evil.bin', 'file', large.length),
        entry('link/deep', 'dir'),
        entry('link/deep/evil.txt', 'file', small.length),
      ],
      { 'good.txt': good, 'link/evil.txt': small, 'link/evil.bin': large, 'link/deep/evil.txt': small },
    );
    const before = await snapshot(work, dest);
    const { summary, failures } = await treeFrom(fake, dest);

    expect(await snapshot(work, dest)).toEqual(before);
    expect(await fsp.readFile(path.join(dest, 'good.txt'))).toEqual(good);
    // The source wins: the local link where the server has a folder is removed as a link and
    // a real folder made in its place, or the files below it are refused; never written through.
    const linkNow = await fsp.lstat(path.join(dest, 'link'));
    for (const rel of ['link/evil.txt', 'link/evil.bin', 'link/deep/evil.txt']) {
      if (linkNow.isSymbolicLink()) {
        expect(failures.get(rel), rel).toBeInstanceOf(ForbiddenError);
        expect((failures.get(rel) as Error).message).toMatch(/'link(\/deep)?' leads outside the destination folder/);
      } else {
        expect(linkNow.isDirectory()).toBe(true);
        expect((await fsp.lstat(path.join(dest, ...rel.split('/')))).isFile(), rel).toBe(true);
      }
    }
    expect(summary.failed).toBe(linkNow.isSymbolicLink() ? 3 : 0);
  });

  it('a listed path whose parent is a symlink, with no folder entry before it: refused, nothing made outside', async () => {
    const { work, dest } = await layout();
    const small = Buffer.from('EVIL small\n');
    const large = randomBytes(LARGE);
    const fake = await hostile(
      [entry('link/evil.txt', 'file', small.length), entry('link/new/evil.bin', 'file', large.length)],
      { 'link/evil.txt': small, 'link/new/evil.bin': large },
    );
    const before = await snapshot(work, dest);
    const { failures } = await treeFrom(fake, dest);
    expect(await snapshot(work, dest)).toEqual(before);
    expect(failures.get('link/evil.txt')).toBeInstanceOf(ForbiddenError);
    expect(failures.get('link/new/evil.bin')).toBeInstanceOf(ForbiddenError);
  });

  it('mode=777 and an old mtime on a folder reached through a link: the folder outside keeps its own', async () => {
    const { work, dest, outside } = await layout();
    await fsp.mkdir(path.join(dest, 'real'));
    const fake = await hostile([entry('link', 'dir', undefined, 777, 1000), entry('real', 'dir', undefined, 750, 1000)], {});
    const before = await snapshot(work, dest);
    await treeFrom(fake, dest);
    expect(await snapshot(work, dest)).toEqual(before);
    const st = await fsp.stat(outside);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.mtimeMs).toBe(1_600_000_000_000);
    // A real folder inside does get the server's mode and date.
    const real = await fsp.stat(path.join(dest, 'real'));
    expect(real.mode & 0o777).toBe(0o750);
    expect(Math.floor(real.mtimeMs)).toBe(1000);
  });

  it.each([
    ['small', 100],
    ['streamed', LARGE],
  ])('a planted symlink at the file’s own name (%s): never written through; the source wins, as a file', async (_kind, size) => {
    const { work, dest, outside } = await layout();
    await fsp.symlink(path.join(outside, 'victim.txt'), path.join(dest, 'f.txt'));
    const body = randomBytes(size);
    const fake = await hostile([entry('f.txt', 'file', body.length)], { 'f.txt': body });
    const before = await snapshot(work, dest);
    await treeFrom(fake, dest);
    expect(await snapshot(work, dest)).toEqual(before);
    expect((await fsp.lstat(path.join(dest, 'f.txt'))).isFile()).toBe(true);
    // Buffer.equals: toEqual walks 2 MiB element by element, for tens of seconds on a busy machine.
    expect((await fsp.readFile(path.join(dest, 'f.txt'))).equals(body)).toBe(true);
  });

  it('a single-file get: a symlink under the part name is not written through', async () => {
    const { work, dest, outside } = await layout();
    await fsp.symlink(path.join(outside, 'victim.bin'), path.join(dest, '.f.bin.tcpsend-part'));
    const body = randomBytes(LARGE);
    const fake = await hostile([], { 'f.bin': body });
    const before = await snapshot(work, dest);
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);
    const outcome = await client.download('remote/f.bin', path.join(dest, 'f.bin')).then(() => null, (err: unknown) => err);
    expect(outcome === null || outcome instanceof TcpsendError, String(outcome)).toBe(true);
    expect(await snapshot(work, dest)).toEqual(before);
  });

  it('a single-file get that fails leaves no folder it made behind', async () => {
    const { dest } = await layout();
    const fake = await hostile([], {});
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);
    const outcome = await client.download('remote/missing.txt', path.join(dest, 'new', 'sub', 'f.txt')).then(() => null, (err: unknown) => err);
    expect(outcome).toBeInstanceOf(TcpsendError);
    expect(await fsp.readdir(dest)).toEqual(['link']);
  });

  it('a single-file get into a path the user names may go through the user’s own symlink', async () => {
    const { dest, outside } = await layout();
    const body = randomBytes(1000);
    const fake = await hostile([], { 'f.bin': body });
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);
    await client.download('remote/f.bin', path.join(dest, 'link', 'f.bin'));
    expect(await fsp.readFile(path.join(outside, 'f.bin'))).toEqual(body);
  });
});

/** A fresh folder (removed after the test), real path, naming served/, dest/ and outside/ in it. */
async function swapFolders(prefix: string): Promise<{ served: string; dest: string; outside: string }> {
  const base = await fsp.realpath(await tempDir(prefix));
  dirs.push(base);
  return { served: path.join(base, 'served'), dest: path.join(base, 'dest'), outside: path.join(base, 'outside') };
}

describe.skipIf(process.platform !== 'linux')('a destination folder swapped for a symlink to the outside during a folder get', () => {
  it('no file, part, folder, mode or date outside is written or changed', async () => {
    const { served, dest, outside } = await swapFolders('tcpsend-dest-swap-');
    // Each round gets a tree of its own (r<n>/d/), so every round writes new files: many small
    // ones (MGET), a few streamed ones, and sub-folders that carry mode 777 and a 1970 date.
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      const d = path.join(served, `r${round}`, 'd');
      await fsp.mkdir(d, { recursive: true });
      for (let i = 0; i < 300; i++) await fsp.writeFile(path.join(d, `s${round}-${i}.txt`), `small ${i}\n`);
      for (let i = 0; i < 2; i++) await fsp.writeFile(path.join(d, `big${round}-${i}.bin`), randomBytes(LARGE));
      for (let i = 0; i < 10; i++) {
        const sub = path.join(d, `k${i}`);
        await fsp.mkdir(sub, { recursive: true });
        await fsp.writeFile(path.join(sub, `inner${round}.txt`), `inner ${i}\n`);
        await fsp.chmod(sub, 0o777);
        await fsp.utimes(sub, 1, 1);
      }
    }
    await fsp.mkdir(path.join(dest, 'd'), { recursive: true });
    await fsp.mkdir(path.join(outside, 'k0'), { recursive: true });
    await fsp.writeFile(path.join(outside, 'secret.txt'), 'outside\n');
    await fsp.chmod(path.join(outside, 'k0'), 0o700);
    await fsp.chmod(outside, 0o755);
    await fsp.symlink(outside, path.join(dest, 'link'));
    const before = await snapshot(outside, '');

    const server = await startServer({ root: served });
    servers.push(server);
    const swapper = await startSwapper(path.join(dest, 'd'), path.join(dest, 'link'), 6000, { evict: true });
    let swapping = true;
    void swapper.done.finally(() => (swapping = false));
    let rounds = 0;
    let sent = 0;
    while (rounds < 20 * ROUNDS && (swapping || rounds === 0)) {
      const client = new ReconnectingClient(`127.0.0.1:${server.port}`, { retries: 0, idleTimeoutMs: 10_000 });
      clients.push(client);
      // A round that meets a folder mid-swap may fail as a whole (its folder vanished): that is
      // a safe outcome, so rounds go on, over the same trees again, for as long as the swaps do.
      const summary = await getTree(client, `r${rounds % ROUNDS}`, dest, { onFileError: () => {} }).catch(() => null);
      sent += summary?.sent ?? 0;
      await client.close();
      rounds += 1;
    }
    const swaps = await swapper.done;
    expect(swaps).toBeGreaterThan(10);
    expect(rounds).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(0); // the gets did write, inside, while the folder was swapped
    expect(await snapshot(outside, '')).toEqual(before);
  }, 60_000);
});

describe('a destination folder swapped for a symlink at the moment --checksum compares a file', () => {
  it('the date the same content gets is set on the file compared, never through the swapped folder', async () => {
    const work = await fsp.realpath(await tempDir('tcpsend-dest-touch-'));
    dirs.push(work);
    const dest = path.join(work, 'dest');
    const outside = path.join(work, 'outside');
    const body = Buffer.from('the same bytes on both sides\n');
    await fsp.mkdir(path.join(dest, 'd'), { recursive: true });
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(dest, 'd', 'f.txt'), body);
    await fsp.utimes(path.join(dest, 'd', 'f.txt'), 1_650_000_000, 1_650_000_000);
    await fsp.writeFile(path.join(outside, 'f.txt'), body);
    await fsp.utimes(path.join(outside, 'f.txt'), 1_600_000_000, 1_600_000_000);
    const before = await snapshot(outside, '');
    // A local user swaps d for a symlink to the outside while the server answers the STAT that
    // compares the contents: between the client's hash and its setting of the date.
    const fake = await fakeServer((line): Reply => {
      if (line.startsWith('LIST remote')) {
        return { send: ['OK type=dir\r\n', entry('d', 'dir'), entry('d/f.txt', 'file', body.length), '.\r\n'] };
      }
      if (line.startsWith('STAT remote/d/f.txt')) {
        fsSync.renameSync(path.join(dest, 'd'), path.join(dest, 'd.aside'));
        fsSync.symlinkSync(outside, path.join(dest, 'd'));
        return { send: [`OK type=file size=${body.length} mtime=${MTIME} mode=644 sha256=${sha(body)}\r\n`] };
      }
      return { send: ['ERR NOT_FOUND no such file\r\n'] };
    });
    fakes.push(fake);
    const client = new ReconnectingClient(`127.0.0.1:${fake.port}`, { retries: 0, idleTimeoutMs: 5000 });
    clients.push(client);
    const summary = await getTree(client, 'remote', dest, { checksum: true, onFileError: () => {} });
    expect(fake.requests.some((line) => line.startsWith('STAT remote/d/f.txt'))).toBe(true);
    expect(await snapshot(outside, '')).toEqual(before);
    // The file compared (inside, now under d.aside) is the one that got the server's date.
    expect(Math.floor((await fsp.stat(path.join(dest, 'd.aside', 'f.txt'))).mtimeMs)).toBe(MTIME);
    expect(summary.unchanged).toBe(1);
  });
});

describe.skipIf(process.platform !== 'linux')('a destination folder swapped for a symlink during a folder get of links and --checksum', () => {
  it('no link is made, and no date set, outside', async () => {
    const { served, dest, outside } = await swapFolders('tcpsend-dest-swap-links-');
    // Each round has a tree of its own (r<n>/d/), so every round makes new links and compares
    // new files: the same bytes in dest/d and in outside, with other dates than the server's.
    const ROUNDS = 10;
    await fsp.mkdir(path.join(dest, 'd'), { recursive: true });
    await fsp.mkdir(outside, { recursive: true });
    for (let round = 0; round < ROUNDS; round++) {
      const d = path.join(served, `r${round}`, 'd');
      await fsp.mkdir(d, { recursive: true });
      await fsp.writeFile(path.join(d, 't.txt'), 'target\n');
      for (let i = 0; i < 100; i++) await fsp.symlink('t.txt', path.join(d, `l${round}-${i}`));
      for (let i = 0; i < 30; i++) {
        const name = `c${round}-${i}.txt`;
        for (const dir of [d, path.join(dest, 'd'), outside]) await fsp.writeFile(path.join(dir, name), `same ${i}\n`);
        await fsp.utimes(path.join(d, name), 1_700_000_000, 1_700_000_000);
        await fsp.utimes(path.join(dest, 'd', name), 1_650_000_000, 1_650_000_000);
        await fsp.utimes(path.join(outside, name), 1_600_000_000, 1_600_000_000);
      }
    }
    await fsp.symlink(outside, path.join(dest, 'link'));
    const before = await snapshot(outside, '');

    const server = await startServer({ root: served });
    servers.push(server);
    const swapper = await startSwapper(path.join(dest, 'd'), path.join(dest, 'link'), 6000, { evict: true });
    let swapping = true;
    void swapper.done.finally(() => (swapping = false));
    let rounds = 0;
    while (rounds < 20 * ROUNDS && (swapping || rounds === 0)) {
      const client = new ReconnectingClient(`127.0.0.1:${server.port}`, { retries: 0, idleTimeoutMs: 10_000 });
      clients.push(client);
      await getTree(client, `r${rounds % ROUNDS}`, dest, { checksum: true, onFileError: () => {} }).catch(() => null);
      await client.close();
      rounds += 1;
    }
    expect(await swapper.done).toBeGreaterThan(10);
    expect(await snapshot(outside, '')).toEqual(before);
  }, 60_000);
});
