/**
 * Folder sync over real sockets (getTree, putTree against a real server on loopback): the
 * quick check moves and reads nothing on a re-run, the source wins, --delete and --dry-run,
 * filters, --checksum, --ignore-existing, hidden files, symlinks, and things in the way.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree, putTree, type EntryDone, type TreeOptions } from '../../src/client/tree.js';
import { ForbiddenError } from '../../src/errors.js';
import { utimesSeconds } from '../../src/files/mtime.js';
import { fakeServer, type FakeServer } from '../helpers/fake-server.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const T0 = 1_650_000_000_000;
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const servers: TestServer[] = [];
const fakes: FakeServer[] = [];
const closers: Array<() => Promise<void>> = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  dirs.push(s.root);
  return s;
}

async function work(prefix = 'tcpsend-sync-'): Promise<string> {
  const dir = await fsp.realpath(await tempDir(prefix));
  dirs.push(dir);
  return dir;
}

function reconnecting(target: string): ReconnectingClient {
  const client = new ReconnectingClient(target, { retries: 2, backoffMs: 10, idleTimeoutMs: 5000 });
  closers.push(() => client.close());
  return client;
}

async function writeFile(abs: string, data: string | Buffer, mtimeMs = T0): Promise<void> {
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.writeFile(abs, data);
  await fsp.utimes(abs, utimesSeconds(mtimeMs), utimesSeconds(mtimeMs));
}

/** A small tree: files at two depths, an empty folder. */
async function makeTree(dir: string): Promise<void> {
  await writeFile(path.join(dir, 'a.txt'), 'alpha\n');
  await writeFile(path.join(dir, 'keep.txt'), 'kept\n');
  await writeFile(path.join(dir, 'sub/b.txt'), 'bravo\n');
  await writeFile(path.join(dir, 'sub/old.txt'), 'old\n');
  await writeFile(path.join(dir, 'gone/x.txt'), 'x\n');
  await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(400_000, 7)); // not in a batch
  await fsp.mkdir(path.join(dir, 'empty'));
}

/** `diff -r` of two folders: its output ('' when they are the same). */
function diffR(a: string, b: string): string {
  const r = spawnSync('diff', ['-r', a, b], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return `${r.stdout}${r.stderr}`;
}

/** Every entry under `dir`, '/' after folders, '@target' after links. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const rel of (await fsp.readdir(dir, { recursive: true })) as string[]) {
    const st = await fsp.lstat(path.join(dir, rel));
    out.push(st.isDirectory() ? `${rel}/` : st.isSymbolicLink() ? `${rel}@${await fsp.readlink(path.join(dir, rel))}` : rel);
  }
  return out.sort();
}

/** Outcomes as `outcome rel` lines, sorted. */
function recorder(): { options: TreeOptions; events: EntryDone[]; lines: () => string[] } {
  const events: EntryDone[] = [];
  return {
    options: { onFileDone: (done) => events.push(done) },
    events,
    lines: () => events.filter((e) => e.outcome !== 'unchanged').map((e) => `${e.outcome} ${e.rel}`).sort(),
  };
}

/** Change a file, add one, delete a file and a folder, in `dir`. */
async function changeSource(dir: string): Promise<void> {
  await writeFile(path.join(dir, 'a.txt'), 'alpha, changed\n', T0 + 5000);
  await writeFile(path.join(dir, 'sub/new.txt'), 'new\n', T0 + 6000);
  await fsp.rm(path.join(dir, 'sub/old.txt'));
  await fsp.rm(path.join(dir, 'gone'), { recursive: true });
}

const TRANSFER_VERBS = ['GET', 'MGET', 'PUT', 'MPUT', 'STAT', 'HASH', 'MKDIR', 'DATA'];

describe('the quick check', () => {
  it('a re-run over an unchanged tree sends one LIST and nothing else, get and put, and every file is unchanged', async () => {
    const s = await serve({ allowUpload: true });
    const src = await work();
    await makeTree(src);
    const client = reconnecting(s.target);
    const put = await putTree(client, src, 'up');
    expect(put).toMatchObject({ sent: 6, failed: 0 });

    s.log.length = 0;
    const rec = recorder();
    const again = await putTree(client, src, 'up', rec.options);
    expect(again).toMatchObject({ files: 6, unchanged: 6, sent: 0, replaced: 0, skipped: 0, bytes: 0, failed: 0 });
    expect(s.log.filter((e) => TRANSFER_VERBS.includes(e.verb))).toEqual([]);
    expect(s.log.filter((e) => e.verb === 'LIST')).toHaveLength(1);
    // Unchanged by the quick check: no digest was computed for any of them.
    expect(rec.events.every((e) => e.outcome === 'unchanged' && e.digest === '')).toBe(true);

    const dest = path.join(await work(), 'copy');
    expect(await getTree(client, 'up', dest)).toMatchObject({ sent: 6, failed: 0 });
    expect(diffR(src, dest)).toBe('');
    s.log.length = 0;
    const getAgain = await getTree(client, 'up', dest);
    expect(getAgain).toMatchObject({ files: 6, unchanged: 6, sent: 0, bytes: 0, failed: 0 });
    expect(s.log.filter((e) => TRANSFER_VERBS.includes(e.verb))).toEqual([]);
  });

  it('--checksum: a same-size file with the same mtime but other bytes is replaced; without it, left as it is', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    const client = reconnecting(s.target);
    const dest = path.join(await work(), 'copy');
    await getTree(client, 'tree', dest);
    // Same size, same mtime, other bytes: the quick check cannot see it.
    await writeFile(path.join(dest, 'a.txt'), 'ALPHA\n'.padEnd(6, '!'));
    expect(await getTree(client, 'tree', dest)).toMatchObject({ unchanged: 6, replaced: 0 });
    expect(await fsp.readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('ALPHA\n');

    const checked = await getTree(client, 'tree', dest, { checksum: true });
    expect(checked).toMatchObject({ replaced: 1, unchanged: 5, failed: 0 });
    expect(diffR(path.join(s.root, 'tree'), dest)).toBe('');
    // The server answered STAT hash=1 for the same-size files: from its cache the second time.
    expect(s.log.filter((e) => e.verb === 'STAT').length).toBeGreaterThanOrEqual(6);
  });

  it('--checksum on put: identical contents under another mtime are unchanged, other contents replaced', async () => {
    const s = await serve({ allowUpload: true, allowOverwrite: true });
    const src = await work();
    await makeTree(src);
    const client = reconnecting(s.target);
    await putTree(client, src, 'up');
    await writeFile(path.join(s.root, 'up/keep.txt'), 'kept\n', T0 + 99_000); // same bytes, another mtime
    await writeFile(path.join(s.root, 'up/a.txt'), 'ALPHA\n'); // other bytes, same size and mtime
    const r = await putTree(client, src, 'up', { checksum: true });
    expect(r).toMatchObject({ replaced: 1, unchanged: 5, failed: 0 });
    expect(await fsp.readFile(path.join(s.root, 'up/a.txt'), 'utf8')).toBe('alpha\n');
  });
});

describe('the source wins', () => {
  it('get: a local file that differs is replaced atomically (exit 0 material: no failure), others untouched', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    const client = reconnecting(s.target);
    const dest = path.join(await work(), 'copy');
    await getTree(client, 'tree', dest);
    await writeFile(path.join(dest, 'sub/b.txt'), 'local edit\n', T0 + 1);
    await writeFile(path.join(dest, 'big.bin'), Buffer.alloc(10, 1), T0 + 1);
    const rec = recorder();
    const r = await getTree(client, 'tree', dest, rec.options);
    expect(r).toMatchObject({ replaced: 2, unchanged: 4, failed: 0, skipped: 0 });
    expect(rec.lines()).toEqual(['replaced big.bin', 'replaced sub/b.txt']);
    expect(diffR(path.join(s.root, 'tree'), dest)).toBe('');
    expect((await listing(dest)).filter((n) => n.includes('tcpsend'))).toEqual([]);
  });

  it('put: replaced on a server with --allow-overwrite; without it, skipped and named as refused', async () => {
    const src = await work();
    await makeTree(src);
    for (const allowOverwrite of [true, false]) {
      const s = await serve({ allowUpload: true, allowOverwrite });
      const client = reconnecting(s.target);
      await putTree(client, src, 'up');
      await writeFile(path.join(s.root, 'up/a.txt'), 'theirs\n');
      await writeFile(path.join(s.root, 'up/big.bin'), 'theirs too\n');
      const r = await putTree(client, src, 'up');
      if (allowOverwrite) {
        expect(r).toMatchObject({ replaced: 2, unchanged: 4, skipped: 0, failed: 0 });
        expect(diffR(src, path.join(s.root, 'up'))).toBe('');
      } else {
        expect(r).toMatchObject({ replaced: 0, unchanged: 4, skipped: 2, failed: 0 });
        expect(r.skips).toEqual([{ reason: expect.stringContaining('--allow-overwrite'), paths: ['a.txt', 'big.bin'].sort(), refused: true }]);
        expect(await fsp.readFile(path.join(s.root, 'up/a.txt'), 'utf8')).toBe('theirs\n');
      }
    }
  });

  it('--ignore-existing keeps what is there and still sends what is new', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    const client = reconnecting(s.target);
    const dest = path.join(await work(), 'copy');
    await writeFile(path.join(dest, 'a.txt'), 'mine\n');
    const r = await getTree(client, 'tree', dest, { ignoreExisting: true });
    expect(r).toMatchObject({ sent: 5, skipped: 1, failed: 0 });
    expect(r.skips).toEqual([{ reason: expect.stringContaining('--ignore-existing'), paths: ['a.txt'], refused: false }]);
    expect(await fsp.readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('mine\n');
  });

  it('a local folder where the source has a file: skipped (refused) without --delete, replaced with it', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    const client = reconnecting(s.target);
    const dest = path.join(await work(), 'copy');
    await writeFile(path.join(dest, 'a.txt/inside.txt'), 'in the way\n');
    const r = await getTree(client, 'tree', dest);
    expect(r.skips).toEqual([{ reason: expect.stringContaining('folder is in the way'), paths: ['a.txt/'], refused: true }]);
    expect(await fsp.readFile(path.join(dest, 'a.txt/inside.txt'), 'utf8')).toBe('in the way\n');
    const r2 = await getTree(client, 'tree', dest, { delete: true });
    expect(r2).toMatchObject({ skipped: 0, failed: 0 });
    expect(diffR(path.join(s.root, 'tree'), dest)).toBe('');
  });
});

/** A served tree fetched once into `dest`, then changed at the source (changeSource). */
async function fetchedThenChanged(): Promise<{ source: string; dest: string; client: ReconnectingClient }> {
  const s = await serve();
  const source = path.join(s.root, 'tree');
  await makeTree(source);
  const client = reconnecting(s.target);
  const dest = path.join(await work(), 'copy');
  await getTree(client, 'tree', dest);
  await changeSource(source);
  return { source, dest, client };
}

describe('--delete and --dry-run (get)', () => {
  it('after a change, an addition and deletions at the source: --dry-run names exactly them and touches nothing; then one run makes diff -r empty', async () => {
    const { source, dest, client } = await fetchedThenChanged();
    const before = await listing(dest);
    const beforeA = await fsp.readFile(path.join(dest, 'a.txt'), 'utf8');

    const dry = recorder();
    const planned = await getTree(client, 'tree', dest, { delete: true, dryRun: true, ...dry.options });
    expect(dry.lines()).toEqual(['deleted gone/', 'deleted sub/old.txt', 'replaced a.txt', 'sent sub/new.txt']);
    expect(dry.events.every((e) => e.dryRun === true)).toBe(true);
    expect(planned).toMatchObject({ sent: 1, replaced: 1, deleted: 2, dryRun: true });
    expect(await listing(dest)).toEqual(before);
    expect(await fsp.readFile(path.join(dest, 'a.txt'), 'utf8')).toBe(beforeA);

    const real = recorder();
    const done = await getTree(client, 'tree', dest, { delete: true, ...real.options });
    expect(real.lines()).toEqual(dry.lines());
    expect(done).toMatchObject({ sent: 1, replaced: 1, deleted: 2, failed: 0 });
    expect(diffR(source, dest)).toBe('');
    expect(await getTree(client, 'tree', dest, { delete: true })).toMatchObject({ sent: 0, replaced: 0, deleted: 0, unchanged: 5 });
  });

  it('without --delete, what the source lost stays', async () => {
    const { dest, client } = await fetchedThenChanged();
    expect(await getTree(client, 'tree', dest)).toMatchObject({ sent: 1, replaced: 1, deleted: 0 });
    expect(fs.existsSync(path.join(dest, 'sub/old.txt'))).toBe(true);
  });

  it('--dry-run on a new destination creates nothing', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    const dest = path.join(await work(), 'copy');
    const r = await getTree(reconnecting(s.target), 'tree', dest, { dryRun: true });
    expect(r).toMatchObject({ sent: 6, dryRun: true });
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('hidden local files stay when the server does not share hidden files; with serve --dotfiles they are synced', async () => {
    for (const dotfiles of [false, true]) {
      const s = await serve({ dotfiles });
      await makeTree(path.join(s.root, 'tree'));
      const client = reconnecting(s.target);
      const dest = path.join(await work(), 'copy');
      await writeFile(path.join(dest, '.local-config'), 'mine\n');
      await writeFile(path.join(dest, 'sub/.cache/x'), 'mine\n');
      const r = await getTree(client, 'tree', dest, { delete: true });
      expect(r.failed).toBe(0);
      expect(fs.existsSync(path.join(dest, '.local-config')), `dotfiles ${dotfiles}`).toBe(!dotfiles);
      expect(fs.existsSync(path.join(dest, 'sub/.cache/x')), `dotfiles ${dotfiles}`).toBe(!dotfiles);
    }
  });
});

describe('filters', () => {
  it('excluded paths are not fetched, and --delete never removes them', async () => {
    const s = await serve();
    await makeTree(path.join(s.root, 'tree'));
    await writeFile(path.join(s.root, 'tree/logs/app.log'), 'log\n');
    await writeFile(path.join(s.root, 'tree/sub/debug.log'), 'log\n');
    const client = reconnecting(s.target);
    const dest = path.join(await work(), 'copy');
    await writeFile(path.join(dest, 'local.log'), 'my log\n');
    await writeFile(path.join(dest, 'notes/x.log'), 'my log\n');
    await writeFile(path.join(dest, 'notes/y.txt'), 'not protected\n');
    const filter = [{ kind: 'exclude' as const, pattern: '*.log' }, { kind: 'exclude' as const, pattern: '/logs/' }];
    const r = await getTree(client, 'tree', dest, { delete: true, filter });
    expect(r).toMatchObject({ sent: 6, failed: 0, deleted: 1 });
    expect(fs.existsSync(path.join(dest, 'logs'))).toBe(false);
    expect(fs.existsSync(path.join(dest, 'sub/debug.log'))).toBe(false);
    // Protected from --delete: the excluded file, and the folder that holds one (its other files go).
    expect(await fsp.readFile(path.join(dest, 'local.log'), 'utf8')).toBe('my log\n');
    expect(await fsp.readFile(path.join(dest, 'notes/x.log'), 'utf8')).toBe('my log\n');
    expect(fs.existsSync(path.join(dest, 'notes/y.txt'))).toBe(false);
  });

  it('put: excluded paths are not sent; an include before an exclude wins', async () => {
    const s = await serve({ allowUpload: true });
    const src = await work();
    await makeTree(src);
    await writeFile(path.join(src, 'node_modules/m/index.js'), 'x');
    await writeFile(path.join(src, 'important.log'), 'x');
    await writeFile(path.join(src, 'sub/other.log'), 'x');
    const filter = [
      { kind: 'include' as const, pattern: 'important.log' },
      { kind: 'exclude' as const, pattern: '*.log' },
      { kind: 'exclude' as const, pattern: 'node_modules' },
    ];
    const r = await putTree(reconnecting(s.target), src, 'up', { filter });
    expect(r).toMatchObject({ sent: 7, failed: 0 });
    const there = await listing(path.join(s.root, 'up'));
    expect(there).toContain('important.log');
    expect(there.filter((n) => n.includes('node_modules') || n.includes('other.log'))).toEqual([]);
  });
});

describe('hidden files and symlinks on put', () => {
  it('hidden files are skipped (policy, not a failure) on a server without --dotfiles, a hidden folder once; sent with it', async () => {
    for (const dotfiles of [false, true]) {
      const s = await serve({ allowUpload: true, dotfiles });
      const src = await work();
      await makeTree(src);
      await writeFile(path.join(src, '.DS_Store'), 'junk');
      await writeFile(path.join(src, '.git/config'), '[core]');
      await writeFile(path.join(src, '.git/objects/aa'), 'obj');
      const r = await putTree(reconnecting(s.target), src, 'up');
      expect(r.failed).toBe(0);
      if (dotfiles) {
        expect(r).toMatchObject({ sent: 9, skipped: 0 });
        expect(fs.existsSync(path.join(s.root, 'up/.git/objects/aa'))).toBe(true);
      } else {
        expect(r).toMatchObject({ sent: 6, skipped: 2 });
        expect(r.skips).toEqual([{ reason: expect.stringContaining('serve --dotfiles'), paths: ['.DS_Store', '.git/'], refused: false }]);
        // Nothing under .git was even asked for: one probe tells the client.
        expect(s.log.filter((e) => e.path?.includes('.git'))).toEqual([]);
      }
    }
  });

  it('a symlink that leads out of the folder is never followed: its target is not uploaded, and it is named', async () => {
    const s = await serve({ allowUpload: true });
    const src = await work();
    const outside = await work('tcpsend-sync-outside-');
    await writeFile(path.join(outside, 'secret.txt'), 'SECRET\n');
    await makeTree(src);
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(src, 'abs-link'));
    await fsp.symlink('../../' + path.basename(outside) + '/secret.txt', path.join(src, 'sub/rel-link'));
    await fsp.symlink(outside, path.join(src, 'folder-link'));
    const r = await putTree(reconnecting(s.target), src, 'up');
    expect(r.failed).toBe(0);
    const reasons = Object.fromEntries(r.skips.map((g) => [g.paths.join(','), g.reason]));
    expect(reasons['abs-link,folder-link']).toMatch(/absolute symlinks/);
    expect(reasons['sub/rel-link']).toMatch(/lead out of the folder/);
    for (const group of r.skips) expect(group.refused).toBe(false);
    const everything = spawnSync('grep', ['-r', 'SECRET', s.root], { encoding: 'utf8' });
    expect(everything.stdout).toBe('');
  });
});

describe('--delete, --dry-run and symlinks (put)', () => {
  it('after a change, an addition and deletions at the source: --dry-run names exactly them and touches nothing; then one run makes diff -r empty', async () => {
    const s = await serve({ allowUpload: true, allowOverwrite: true, allowDelete: true });
    const src = await work();
    await makeTree(src);
    const client = reconnecting(s.target);
    await putTree(client, src, 'up');
    await changeSource(src);
    const there = path.join(s.root, 'up');
    const before = await listing(there);

    const dry = recorder();
    const planned = await putTree(client, src, 'up', { delete: true, dryRun: true, ...dry.options });
    expect(dry.lines()).toEqual(['deleted gone/', 'deleted sub/old.txt', 'replaced a.txt', 'sent sub/new.txt']);
    expect(planned).toMatchObject({ sent: 1, replaced: 1, deleted: 2, dryRun: true });
    expect(await listing(there)).toEqual(before);
    // Nothing that changes anything was even asked for.
    s.log.length = 0;
    await putTree(client, src, 'up', { delete: true, dryRun: true });
    expect(s.log.filter((e) => ['DELETE', 'PUT', 'MPUT', 'MKDIR', 'SYMLINK'].includes(e.verb))).toEqual([]);

    const real = recorder();
    const done = await putTree(client, src, 'up', { delete: true, ...real.options });
    expect(real.lines()).toEqual(dry.lines());
    expect(done).toMatchObject({ sent: 1, replaced: 1, deleted: 2, failed: 0, skipped: 0 });
    expect(diffR(src, there)).toBe('');
    s.log.length = 0;
    expect(await putTree(client, src, 'up', { delete: true })).toMatchObject({ sent: 0, replaced: 0, deleted: 0, unchanged: 5 });
    expect(s.log.filter((e) => TRANSFER_VERBS.includes(e.verb) || e.verb === 'DELETE')).toEqual([]);
  });

  it('excluded paths on the server are never deleted, nor the folder that holds one', async () => {
    const s = await serve({ allowUpload: true, allowDelete: true });
    const src = await work();
    await makeTree(src);
    const client = reconnecting(s.target);
    await putTree(client, src, 'up');
    await writeFile(path.join(s.root, 'up/server.log'), 'theirs\n');
    await writeFile(path.join(s.root, 'up/extra/keep.log'), 'theirs\n');
    await writeFile(path.join(s.root, 'up/extra/drop.txt'), 'theirs\n');
    const r = await putTree(client, src, 'up', { delete: true, filter: [{ kind: 'exclude', pattern: '*.log' }] });
    expect(r).toMatchObject({ deleted: 1, failed: 0 });
    expect(await listing(path.join(s.root, 'up'))).toEqual(expect.arrayContaining(['server.log', 'extra/', 'extra/keep.log']));
    expect(fs.existsSync(path.join(s.root, 'up/extra/drop.txt'))).toBe(false);
  });

  it('a symlink inside the folder is recreated on the server, unchanged on a re-run, replaced when it changes; one that leads out is skipped', async () => {
    const s = await serve({ allowUpload: true, allowOverwrite: true });
    const src = await work();
    await makeTree(src);
    await fsp.symlink('a.txt', path.join(src, 'to-a'));
    await fsp.symlink('../keep.txt', path.join(src, 'sub/to-keep'));
    await fsp.symlink('../../elsewhere', path.join(src, 'sub/out'));
    const client = reconnecting(s.target);
    const r = await putTree(client, src, 'up');
    expect(r).toMatchObject({ sent: 8, skipped: 1, failed: 0 });
    expect(await fsp.readlink(path.join(s.root, 'up/to-a'))).toBe('a.txt');
    expect(await fsp.readlink(path.join(s.root, 'up/sub/to-keep'))).toBe('../keep.txt');
    expect(fs.existsSync(path.join(s.root, 'up/sub/out'))).toBe(false);
    expect(r.skips).toEqual([{ reason: expect.stringContaining('lead out'), paths: ['sub/out'], refused: false }]);

    s.log.length = 0;
    expect(await putTree(client, src, 'up')).toMatchObject({ unchanged: 8, sent: 0, replaced: 0 });
    expect(s.log.filter((e) => e.verb === 'SYMLINK')).toEqual([]);

    await fsp.rm(path.join(src, 'to-a'));
    await fsp.symlink('keep.txt', path.join(src, 'to-a'));
    expect(await putTree(client, src, 'up')).toMatchObject({ replaced: 1, unchanged: 7 });
    expect(await fsp.readlink(path.join(s.root, 'up/to-a'))).toBe('keep.txt');
  });

  it('get recreates the links a server lists inside the folder; links that lead out of the root are not even listed', async () => {
    const s = await serve();
    const tree = path.join(s.root, 'tree');
    await makeTree(tree);
    await fsp.symlink('a.txt', path.join(tree, 'to-a'));
    await fsp.symlink('../a.txt', path.join(tree, 'sub/up-a'));
    const outside = await work('tcpsend-sync-outside-');
    await fsp.symlink(outside, path.join(tree, 'out'));
    const dest = path.join(await work(), 'copy');
    const r = await getTree(reconnecting(s.target), 'tree', dest);
    expect(r).toMatchObject({ sent: 8, failed: 0 });
    expect(await fsp.readlink(path.join(dest, 'to-a'))).toBe('a.txt');
    expect(await fsp.readlink(path.join(dest, 'sub/up-a'))).toBe('../a.txt');
    expect(fs.existsSync(path.join(dest, 'out'))).toBe(false);
  });

  it('a server file where the source has a folder is removed first on a server that deletes; refused and named on one that does not', async () => {
    const src = await work();
    await makeTree(src);
    for (const allowDelete of [true, false]) {
      const s = await serve({ allowUpload: true, allowDelete });
      await writeFile(path.join(s.root, 'up/sub'), 'a file where a folder goes\n');
      const r = await putTree(reconnecting(s.target), src, 'up');
      if (allowDelete) {
        expect(r).toMatchObject({ failed: 0, skipped: 0 });
        expect(diffR(src, path.join(s.root, 'up'))).toBe('');
      } else {
        expect(r.skips).toEqual([{ reason: expect.stringContaining('in the way on the server'), paths: ['sub/'], refused: true }]);
        expect(await fsp.readFile(path.join(s.root, 'up/sub'), 'utf8')).toBe('a file where a folder goes\n');
      }
    }
  });
});

describe('capabilities', () => {
  it('put --delete against a server without the delete capability: a clear error before anything is sent', async () => {
    const fake = await fakeServer((line) => ({ send: [line.startsWith('LIST') ? 'OK type=dir\r\n.\r\n' : 'OK\r\n'] }));
    fakes.push(fake);
    const src = await work();
    await makeTree(src);
    const client = reconnecting(`127.0.0.1:${fake.port}`);
    const err = await putTree(client, src, 'up', { delete: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as Error).message).toMatch(/--delete.*'delete' capability.*serve --allow-delete/);
    expect(fake.requests).toEqual([]);
  });
});

// The expected file contents, to catch a test that compares two wrong trees.
it('the trees above hold what makeTree wrote', async () => {
  const dir = await work();
  await makeTree(dir);
  expect(sha(await fsp.readFile(path.join(dir, 'a.txt')))).toBe(sha('alpha\n'));
  expect(await listing(dir)).toEqual(['a.txt', 'big.bin', 'empty/', 'gone/', 'gone/x.txt', 'keep.txt', 'sub/', 'sub/b.txt', 'sub/old.txt']);
});
