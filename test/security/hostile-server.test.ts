/**
 * The client against a hostile server: a fake server on 127.0.0.1 that speaks just enough of
 * the protocol (greeting, OK to HELLO) and then answers with scripted lies. Whatever it says,
 * the client writes only inside the destination it was given, and only bytes it verified.
 */
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadPathError,
  ChecksumMismatchError,
  ConnectionLostError,
  ProtocolError,
  TcpsendError,
  UnexpectedEofError,
} from '../../src/errors.js';
import { fakeServer as startFake, type FakeServer, type Reply } from '../helpers/fake-server.js';
import { TcpsendClient } from '../../src/client/client.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree } from '../../src/client/tree.js';
import { tempDir } from '../helpers/server.js';
import { snapshot } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const MTIME = 1_700_000_000_000;

const fakes: FakeServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

async function fakeServer(script: (line: string) => Reply, options?: { caps?: string }): Promise<FakeServer> {
  const fake = await startFake(script, options);
  fakes.push(fake);
  return fake;
}

async function workDir(): Promise<string> {
  const dir = await fsp.realpath(await tempDir('tcpsend-hostile-'));
  dirs.push(dir);
  return dir;
}

const header = (fields: string) => `OK ${fields}\r\n`;
const trailer = (digest: string) => `OK sha256=${digest}\r\n`;
const entry = (wirePath: string, type: 'file' | 'dir', size?: number) =>
  `${wirePath} type=${type}${size === undefined ? '' : ` size=${size}`} mtime=${MTIME} mode=${type === 'dir' ? 755 : 644}\r\n`;

async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(
    () => true,
    () => false,
  );
}

async function readOrNull(file: string): Promise<Buffer | null> {
  return fsp.readFile(file).catch(() => null);
}

describe('a hostile LIST fed to getTree', () => {
  it('entries that lead out are reported as failures, the good ones arrive, nothing is written outside', async () => {
    const work = await workDir();
    const dest = path.join(work, 'dest');
    await fsp.writeFile(path.join(work, 'keep.txt'), 'keep\n');
    await fsp.mkdir(path.join(work, 'dest-evil'));
    const absName = `/tcpsend-hostile-${randomBytes(6).toString('hex')}`;
    const good = Buffer.from('good file\n');
    const inner = Buffer.from('inner file\n');
    const evil = Buffer.from('EVIL CONTENT\n');

    // Wire forms (percent-encoded as a server would send them) of paths that must be refused.
    const hostile: Array<[wire: string, decoded: string, type: 'file' | 'dir']> = [
      ['../x', '../x', 'file'],
      [absName, absName, 'file'],
      ['a/../../b', 'a/../../b', 'file'],
      ['..', '..', 'dir'],
      ['C:%5Cx', 'C:\\x', 'file'],
      ['sub/../../evil', 'sub/../../evil', 'dir'],
      ['%2e%2e/y', '../y', 'file'],
      ['sub/%2E%2E/%2E%2E/z', 'sub/../../z', 'file'],
      ['../dest-evil/w', '../dest-evil/w', 'file'],
      ['./', './', 'dir'],
      ['sub%5C..%5C..%5Cq', 'sub\\..\\..\\q', 'file'],
      ['CON', 'CON', 'file'],
    ];
    const fake = await fakeServer((line) => {
      if (line === 'LIST remote recursive=1 links=1') {
        const listing = [
          'OK type=dir\r\n',
          entry('good.txt', 'file', good.length),
          ...hostile.map(([wire, , type]) => entry(wire, type, type === 'file' ? evil.length : undefined)),
          entry('sub', 'dir'),
          entry('sub/inner.txt', 'file', inner.length),
          '.\r\n',
        ];
        return { send: listing };
      }
      const body = line === 'GET remote/good.txt' ? good : line === 'GET remote/sub/inner.txt' ? inner : evil;
      // Anything else asked for gets the evil bytes: the test fails below if it was asked.
      return { send: [header(`size=${body.length} offset=0 length=${body.length} mtime=${MTIME} mode=644`), body, trailer(sha(body))] };
    });

    await fsp.mkdir(dest); // its creation would move work's mtime
    const before = await snapshot(work, dest);
    const client = new ReconnectingClient(`127.0.0.1:${fake.port}`, { retries: 0, idleTimeoutMs: 5000 });
    clients.push(client);
    const failures: Array<[string, unknown]> = [];
    const summary = await getTree(client, 'remote', dest, { onFileError: (rel, err) => failures.push([rel, err]) });

    // Every hostile entry is a failure, reported as a bad path; the good ones arrived.
    expect(failures.map(([rel]) => rel).sort()).toEqual(hostile.map(([, decoded]) => decoded).sort());
    for (const [, err] of failures) expect(err).toBeInstanceOf(BadPathError);
    expect(summary).toMatchObject({ failed: hostile.length, sent: 2, files: hostile.length + 2 });
    expect(await fsp.readFile(path.join(dest, 'good.txt'))).toEqual(good);
    expect(await fsp.readFile(path.join(dest, 'sub', 'inner.txt'))).toEqual(inner);

    // Only the good files were asked for; nothing was created outside dest, nor odd names in it.
    expect(fake.requests.filter((r) => r.startsWith('GET')).sort()).toEqual(['GET remote/good.txt', 'GET remote/sub/inner.txt']);
    expect(await snapshot(work, dest)).toEqual(before);
    expect(await exists(absName)).toBe(false);
    const inDest = Object.keys(await snapshot(dest, '')).sort();
    expect(inDest).toEqual(['.', 'good.txt', 'sub', 'sub/inner.txt']);
  });
});

describe('symlinks in a LIST fed to getTree', () => {
  it('a link inside the folder is recreated as a link; links that lead out are skipped and named; none is followed or written through', async () => {
    const work = await workDir();
    const dest = path.join(work, 'dest');
    const outside = path.join(work, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'victim.txt'), 'keep me\n');
    const good = Buffer.from('good file\n');
    const link = (wire: string, target: string) => `${wire} type=link target=${target} mtime=${MTIME} mode=777\r\n`;
    const fake = await fakeServer((line) => {
      if (line === 'LIST remote recursive=1 links=1') {
        return {
          send: [
            'OK type=dir\r\n',
            entry('good.txt', 'file', good.length),
            link('in', 'good.txt'),
            entry('sub', 'dir'),
            link('sub/up', '../good.txt'),
            link('abs', encodeURIComponent(path.join(outside, 'victim.txt'))),
            link('climb', '../outside'),
            link('sub/climb', '..%2F..%2Foutside%2Fvictim.txt'),
            '.\r\n',
          ],
        };
      }
      return { send: [header(`size=${good.length} offset=0 length=${good.length} mtime=${MTIME} mode=644`), good, trailer(sha(good))] };
    });
    const client = new ReconnectingClient(`127.0.0.1:${fake.port}`, { retries: 0, idleTimeoutMs: 5000 });
    clients.push(client);
    const summary = await getTree(client, 'remote', dest);

    expect(await fsp.readlink(path.join(dest, 'in'))).toBe('good.txt');
    expect(await fsp.readlink(path.join(dest, 'sub/up'))).toBe('../good.txt');
    for (const name of ['abs', 'climb', 'sub/climb']) expect(await exists(path.join(dest, name)), name).toBe(false);
    expect(summary).toMatchObject({ sent: 3, skipped: 3, failed: 0 });
    expect(summary.skips.map((g) => [g.reason, g.paths, g.refused])).toEqual([
      ['absolute symlinks (not followed, not recreated)', ['abs'], false],
      ['symlinks that lead out of the folder (not followed)', ['climb', 'sub/climb'], false],
    ]);
    // A second run: the links are unchanged, nothing is asked for.
    fake.requests.length = 0;
    const again = await getTree(client, 'remote', dest);
    expect(again).toMatchObject({ sent: 0, unchanged: 3, failed: 0 });
    expect(fake.requests.filter((r) => !r.startsWith('LIST'))).toEqual([]);
    expect(await fsp.readFile(path.join(outside, 'victim.txt'), 'utf8')).toBe('keep me\n');
  });

  it('--delete removes a local symlink as a link, never what it leads to', async () => {
    const work = await workDir();
    const dest = path.join(work, 'dest');
    const outside = path.join(work, 'outside');
    await fsp.mkdir(path.join(outside, 'deep'), { recursive: true });
    await fsp.writeFile(path.join(outside, 'deep/victim.txt'), 'keep me\n');
    await fsp.mkdir(dest);
    await fsp.symlink(outside, path.join(dest, 'linked-folder'));
    await fsp.symlink(path.join(outside, 'deep/victim.txt'), path.join(dest, 'linked-file'));
    const fake = await fakeServer((line) => {
      if (line.startsWith('LIST')) return { send: ['OK type=dir\r\n', '.\r\n'] };
      return { send: ['ERR NOT_FOUND no\r\n'] };
    });
    const client = new ReconnectingClient(`127.0.0.1:${fake.port}`, { retries: 0, idleTimeoutMs: 5000 });
    clients.push(client);
    const summary = await getTree(client, 'remote', dest, { delete: true });
    expect(summary).toMatchObject({ deleted: 2, failed: 0 });
    expect(await fsp.readdir(dest)).toEqual([]);
    expect(await fsp.readFile(path.join(outside, 'deep/victim.txt'), 'utf8')).toBe('keep me\n');
  });
});

describe('a hostile GET', () => {
  const SMALL = 100;
  /** Bodies above 1 MB are streamed into a part file rather than received whole. */
  const LARGE = 2 * 1024 * 1024;

  interface Case {
    name: string;
    /** The bytes of the file the fake pretends to have. */
    size: number;
    reply: (data: Buffer) => Reply;
    /** The error the download must fail with, or null for success. */
    error: Array<new (...args: never[]) => TcpsendError> | null;
    /** The bytes the client actually received of the body (what a part may hold, at most). */
    arrived?: (data: Buffer) => Buffer;
    /** A part left behind must be empty (the bytes are not to be trusted). */
    noPart?: boolean;
  }

  const fields = (size: number, extra = '') => `size=${size} offset=0 length=${size} mtime=${MTIME} mode=644${extra}`;
  const cases: Case[] = [];
  for (const size of [SMALL, LARGE]) {
    const kind = size === SMALL ? 'small' : 'streamed';
    cases.push(
      {
        name: `${kind}: says ${size} bytes, sends half, closes`,
        size,
        reply: (data) => ({ send: [header(fields(size)), data.subarray(0, size / 2)], close: true }),
        error: [UnexpectedEofError, ConnectionLostError, ProtocolError],
        arrived: (data) => data.subarray(0, size / 2),
      },
      {
        name: `${kind}: length=10 while offset+length != size`,
        size,
        reply: (data) => ({ send: [header(`size=${size} offset=0 length=10 mtime=${MTIME} mode=644`), data.subarray(0, 10), trailer(sha(data))] }),
        error: [ProtocolError],
        arrived: () => Buffer.alloc(0),
      },
      {
        name: `${kind}: another offset than asked for`,
        size,
        reply: (data) => ({ send: [header(`size=${size} offset=10 length=${size - 10} mtime=${MTIME} mode=644`), data.subarray(10), trailer(sha(data))] }),
        error: [ProtocolError],
        arrived: () => Buffer.alloc(0),
      },
      {
        name: `${kind}: a length past the size`,
        size,
        reply: (data) => ({ send: [header(`size=${size} offset=0 length=${size + 10} mtime=${MTIME} mode=644`), data, Buffer.alloc(10), trailer(sha(data))] }),
        error: [ProtocolError],
        arrived: () => Buffer.alloc(0),
      },
      {
        name: `${kind}: more bytes than announced`,
        size,
        reply: (data) => ({ send: [header(fields(size)), data, Buffer.alloc(20, 0x58), trailer(sha(data))] }),
        error: [ProtocolError],
        arrived: (data) => data,
      },
      {
        name: `${kind}: a trailer SHA-256 that does not match`,
        size,
        reply: (data) => ({ send: [header(fields(size)), data, trailer(sha('something else'))] }),
        error: [ChecksumMismatchError],
        noPart: true,
      },
      {
        name: `${kind}: a header SHA-256 that disagrees with the trailer's`,
        size,
        reply: (data) => ({ send: [header(fields(size, ` sha256=${sha('other')}`)), data, trailer(sha(data))] }),
        error: [ChecksumMismatchError],
        noPart: true,
      },
      {
        name: `${kind}: a trailer that is not a trailer`,
        size,
        reply: (data) => ({ send: [header(fields(size)), data, 'TCPSEND 1 surprise\r\n'] }),
        error: [ProtocolError],
        arrived: (data) => data,
      },
    );
  }

  it.each(cases)('$name', async (c) => {
    const work = await workDir();
    const dest = path.join(work, 'f.bin');
    const partPath = path.join(work, '.f.bin.tcpsend-part');
    const data = randomBytes(c.size);
    const fake = await fakeServer(() => c.reply(data));
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);

    const outcome = await client.download('f.bin', dest).then(
      () => null,
      (err: unknown) => err,
    );
    expect(outcome, 'the download must fail').not.toBeNull();
    expect(c.error!.some((cls) => outcome instanceof cls), `got ${String(outcome)}`).toBe(true);
    expect((outcome as Error).message).not.toBe('');

    // No final file; a part, if kept for resume, holds only bytes that arrived, in place.
    expect(await exists(dest)).toBe(false);
    const part = await readOrNull(partPath);
    if (c.noPart) expect(part === null || part.length === 0).toBe(true);
    else if (part !== null) {
      const arrived = c.arrived!(data);
      expect(part.length).toBeLessThanOrEqual(arrived.length);
      expect(part.equals(arrived.subarray(0, part.length))).toBe(true);
    }
    // Nothing else was written next to it.
    const names = (await fsp.readdir(work)).filter((n) => n !== '.f.bin.tcpsend-part');
    expect(names).toEqual([]);
  });

  it.each([
    [4755, SMALL],
    [7755, LARGE],
  ])('mode=%i (setuid…) from the server: the file is saved without those bits (%i bytes)', async (mode, size) => {
    const work = await workDir();
    const dest = path.join(work, 'tool');
    const data = randomBytes(size);
    const fake = await fakeServer(() => ({ send: [header(`size=${size} offset=0 length=${size} mtime=${MTIME} mode=${mode}`), data, trailer(sha(data))] }));
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);
    await client.download('tool', dest);
    const st = await fsp.stat(dest);
    expect(st.mode & 0o7000).toBe(0); // no setuid, setgid or sticky
    expect(st.mode & 0o777).toBe(0o755);
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
  });

  // A far-future mtime is metadata, not a path: the client applies it (the file system clamps
  // what it cannot store, ext4 at 2446) and the download succeeds, even for 2^53 − 1, which no
  // Date can hold: utimes takes seconds, not a Date.
  it.each([
    ['the year 3000', Date.UTC(3000, 0, 1), SMALL],
    ['2^53 - 1 ms', Number.MAX_SAFE_INTEGER, SMALL],
    ['2^53 - 1 ms, streamed', Number.MAX_SAFE_INTEGER, LARGE],
  ])('an mtime of %s is applied (or clamped by the file system), never an error', async (_label, mtime, size) => {
    const work = await workDir();
    const dest = path.join(work, 'future.bin');
    const data = randomBytes(size);
    const fake = await fakeServer(() => ({ send: [header(`size=${size} offset=0 length=${size} mtime=${mtime} mode=644`), data, trailer(sha(data))] }));
    const client = await TcpsendClient.connect(`127.0.0.1:${fake.port}`, { idleTimeoutMs: 5000 });
    clients.push(client);
    await client.download('future.bin', dest);
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    const { mtimeMs } = await fsp.stat(dest);
    expect(mtimeMs === Math.floor(mtime) || mtimeMs > Date.UTC(2400, 0, 1)).toBe(true);
    expect(await exists(path.join(work, '.future.bin.tcpsend-part'))).toBe(false);
  });
});
