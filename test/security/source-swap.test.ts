/**
 * A folder put never reads through a symlink (docs/security.md, "Symlinks in folder
 * transfers"), even one a local user puts in place after the walk: a file swapped for a
 * symlink, or a folder above it swapped for a symlink to the outside, between the moment the
 * walk saw the file and the moment it is read. What is sent must be the very file the walk
 * found (the same device and inode, a regular file), or nothing is sent for it and it is
 * named as changed (issue 14, finding 3; docs/security.md).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileChangedError } from '../../src/errors.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { putTree } from '../../src/client/tree.js';
import { useNativeFolderReads } from '../../src/files/native-folder.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

/** Bodies above this go one by one (PUT, streamed); smaller ones in batches (MPUT). */
const LARGE = 2 * 1024 * 1024;

const servers: TestServer[] = [];
const clients: ReconnectingClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  useNativeFolderReads(true);
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

/**
 * work/src (the folder put: d/small.txt, d/big.bin, top.txt, top.bin) and work/outside (the
 * same names, holding a secret), and a server that takes uploads and replacements.
 */
async function layout() {
  const work = await fsp.realpath(await tempDir('tcpsend-source-swap-'));
  dirs.push(work);
  const src = path.join(work, 'src');
  const outside = path.join(work, 'outside');
  const secret = `OUTSIDE-SECRET-${randomBytes(8).toString('hex')}`;
  await fsp.mkdir(path.join(src, 'd'), { recursive: true });
  await fsp.mkdir(outside);
  const mine = (size: number) => Buffer.concat([Buffer.from('mine\n'), randomBytes(size - 5)]);
  const theirs = (size: number) => Buffer.concat([Buffer.from(`${secret}\n`), randomBytes(size - secret.length - 1)]);
  for (const [name, size] of [
    ['small.txt', 100],
    ['big.bin', LARGE],
  ] as const) {
    await fsp.writeFile(path.join(src, 'd', name), mine(size));
    await fsp.writeFile(path.join(outside, name), theirs(size));
  }
  await fsp.writeFile(path.join(src, 'top.txt'), mine(100));
  await fsp.writeFile(path.join(src, 'top.bin'), mine(LARGE));
  const server = await startServer({ allowUpload: true, allowOverwrite: true });
  servers.push(server);
  const client = new ReconnectingClient(server.target, { retries: 0, idleTimeoutMs: 10_000 });
  clients.push(client);
  return { src, outside, secret, server, client };
}

/** Every file under `dir` whose bytes hold `secret`, relative. */
async function holding(dir: string, secret: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const abs = path.join(entry.parentPath ?? entry.path, entry.name);
    if ((await fsp.readFile(abs)).includes(secret)) found.push(path.relative(dir, abs));
  }
  return found;
}

/** Swap `at` for a symlink to `to` (what a local user racing the put does), now. */
function swapForLink(at: string, to: string): void {
  fs.renameSync(at, `${at}.aside`);
  fs.symlinkSync(to, at);
}

// onPlan below is the moment the walk is over: a tree this small is then all still unread (its
// small files wait in one batch not yet full, a large file waits for the end of the walk).
describe('a folder put whose source changes between the walk and the read', () => {
  it('a folder swapped for a symlink to the outside after the walk: nothing outside is read or sent', async () => {
    const { src, outside, secret, server, client } = await layout();
    const failures = new Map<string, unknown>();
    const summary = await putTree(client, src, 'up', {
      onPlan: () => swapForLink(path.join(src, 'd'), outside),
      onFileError: (rel, err) => failures.set(rel, err),
    });
    expect(await holding(server.root, secret)).toEqual([]);
    for (const rel of ['d/small.txt', 'd/big.bin']) {
      expect(failures.get(rel), rel).toBeInstanceOf(FileChangedError);
      expect((failures.get(rel) as Error).message, rel).toMatch(/changed while it was being sent|replaced/);
    }
    // The files the swap did not touch went up.
    // (Buffer.equals: toEqual on 2 MiB walks it element by element, for many seconds.)
    for (const name of ['top.txt', 'top.bin']) {
      const [there, here] = await Promise.all([fsp.readFile(path.join(server.root, 'up', name)), fsp.readFile(path.join(src, name))]);
      expect(there.equals(here), name).toBe(true);
    }
    expect(summary.failed).toBe(2);
  });

  it.each([
    ['small (in a batch)', 'top.txt', 'small.txt'],
    ['streamed (on its own)', 'top.bin', 'big.bin'],
  ])('a file swapped for a symlink after the walk (%s): its target is not sent', async (_kind, name, target) => {
    const { src, outside, secret, server, client } = await layout();
    const failures = new Map<string, unknown>();
    await putTree(client, src, 'up', {
      onPlan: () => swapForLink(path.join(src, name), path.join(outside, target)),
      onFileError: (rel, err) => failures.set(rel, err),
    });
    expect(await holding(server.root, secret)).toEqual([]);
    expect(failures.get(name)).toBeInstanceOf(FileChangedError);
  });

  it('--checksum: a same-size file whose folder was swapped is not hashed through the link (and not called unchanged)', async () => {
    const { src, outside, secret, server, client } = await layout();
    // The server holds the outside's bytes under the local names: a hash read through the
    // swapped folder would match and call them unchanged.
    await fsp.mkdir(path.join(server.root, 'up', 'd'), { recursive: true });
    for (const name of ['small.txt', 'big.bin']) await fsp.copyFile(path.join(outside, name), path.join(server.root, 'up', 'd', name));
    const outcomes = new Map<string, string>();
    const failures = new Map<string, unknown>();
    await putTree(client, src, 'up', {
      checksum: true,
      onPlan: () => swapForLink(path.join(src, 'd'), outside),
      onFileDone: (done) => outcomes.set(done.rel, done.outcome),
      onFileError: (rel, err) => failures.set(rel, err),
    });
    for (const rel of ['d/small.txt', 'd/big.bin']) {
      expect(outcomes.get(rel), rel).not.toBe('unchanged');
      expect(failures.get(rel), rel).toBeInstanceOf(FileChangedError);
    }
    expect((await holding(server.root, secret)).sort()).toEqual(['up/d/big.bin', 'up/d/small.txt']); // as they were
  });

  it.skipIf(process.platform === 'win32')('a folder swapped for a symlink while the walk reads it: nothing outside is listed or sent', async () => {
    const { src, outside, secret, server, client } = await layout();
    // The walk names a FIFO it skips (d/a.fifo, the first name in d) after it has opened d and
    // before it looks at the files in it: the moment a local user swaps d.
    execFileSync('mkfifo', [path.join(src, 'd', 'a.fifo')]);
    const failures = new Map<string, unknown>();
    await putTree(client, src, 'up', {
      onNotice: (message) => {
        if (message.startsWith('skipped d/a.fifo')) swapForLink(path.join(src, 'd'), outside);
      },
      onFileError: (rel, err) => failures.set(rel, err),
    });
    expect(await holding(server.root, secret)).toEqual([]);
    for (const rel of ['d/small.txt', 'd/big.bin']) expect(failures.get(rel), rel).toBeInstanceOf(FileChangedError);
  });

  it.skipIf(process.platform === 'win32')('a file swapped for a FIFO after the walk: no hang, named as changed', async () => {
    const { src, server, client } = await layout();
    const failures = new Map<string, unknown>();
    await putTree(client, src, 'up', {
      onPlan: () => {
        for (const name of ['top.txt', 'top.bin']) {
          fs.renameSync(path.join(src, name), path.join(src, `${name}.aside`));
          execFileSync('mkfifo', [path.join(src, name)]);
        }
      },
      onFileError: (rel, err) => failures.set(rel, err),
    });
    expect(failures.get('top.txt')).toBeInstanceOf(FileChangedError);
    expect(failures.get('top.bin')).toBeInstanceOf(FileChangedError);
    expect(fs.existsSync(path.join(server.root, 'up', 'top.txt'))).toBe(false);
  }, 20_000);

  it.skipIf(process.platform === 'win32').each([
    ['native helper', true],
    ['plain lstats', false],
  ])("a folder swapped while the walk reads it (%s): no outside folder's mode or mtime reaches the server", async (_how, native) => {
    useNativeFolderReads(native);
    const { src, outside, server, client } = await layout();
    await fsp.mkdir(path.join(src, 'd', 'sub'));
    await fsp.writeFile(path.join(src, 'd', 'sub', 'f.txt'), 'mine');
    await fsp.mkdir(path.join(outside, 'sub'));
    await fsp.chmod(path.join(outside, 'sub'), 0o710);
    const then = new Date('2001-02-03T04:05:06Z');
    await fsp.utimes(path.join(outside, 'sub'), then, then);
    // As above: d/a.fifo, the first name in d, is skipped (and said) before the names after it are looked at.
    execFileSync('mkfifo', [path.join(src, 'd', 'a.fifo')]);
    await putTree(client, src, 'up', {
      onNotice: (message) => {
        if (message.startsWith('skipped d/a.fifo')) swapForLink(path.join(src, 'd'), outside);
      },
    });
    const there = await fsp.stat(path.join(server.root, 'up', 'd', 'sub'));
    expect((there.mode & 0o777).toString(8)).not.toBe('710');
    expect(there.mtime.toISOString()).not.toBe(then.toISOString());
  });
});
