/**
 * MGET and MPUT spoken by hand over real loopback sockets. Every case runs twice: with folders
 * held open (the server on Node's own fs, on Linux) and with folders checked before each call
 * (an injected fs); the observable results must match.
 */
import { createHash } from 'node:crypto';
import nodeFs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatMgetItem, formatMputItem, joinItemPath } from '../../src/protocol/index.js';
import type { RootFs } from '../../src/server/root/index.js';
import { withoutProc } from '../helpers/fs-wrap.js';
import type { RawPeer } from '../helpers/raw-peer.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { endedAfterEachTest, startServer, tempDir, type TestServer } from '../helpers/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { snapshot } from '../security/jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const SECRET = 'OUTSIDE-SECRET-7f3a9c';
const PART_SECRET = 'PARTIAL-SECRET-51be20';
/** Over GET's 256 KiB small-body limit: sent by GET's streaming path, not from a slab. */
const LARGE = 300_000;

const { servers, peers, cleanups } = endedAfterEachTest();

/** Node's fs without /proc, handed in from outside: the server then checks folders before each call. */
function injectedFs(): { fs: RootFs; opened: string[] } {
  const opened: string[] = [];
  const fs = withoutProc({
    openSync: (file, flags, mode) => {
      opened.push(file);
      return nodeFs.openSync(file, flags, mode);
    },
  });
  return { fs, opened };
}

interface Mode {
  name: string;
  fs: () => RootFs | undefined;
}

const MODES: Mode[] = [
  { name: 'folders held open', fs: () => undefined },
  { name: 'injected fs (folders checked)', fs: () => injectedFs().fs },
];

/**
 * A jail folder around the served root, holding what an attacker would want:
 *
 *   jail/outside.txt, jail/outside-dir/, jail/data-evil/secret.txt
 *   jail/data/                                   the served root:
 *     a.txt, empty, big.bin (300 000 B), sub/数据 a=b%.txt, g0 … g9 (distinct small files),
 *     .hidden, .g5.tcpsend-part, x.tcpsend-part, out → outside.txt, up → jail,
 *     evil → data-evil, inside-link → a.txt
 */
interface Fixture {
  dir: string;
  root: string;
  files: Map<string, Buffer>;
}

async function makeFixture(): Promise<Fixture> {
  const dir = await fsp.realpath(await tempDir('tcpsend-batch-'));
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'data');
  await fsp.mkdir(root);
  await fsp.mkdir(path.join(dir, 'outside-dir'));
  await fsp.mkdir(path.join(dir, 'data-evil'));
  await fsp.writeFile(path.join(dir, 'outside.txt'), `${SECRET}\n`);
  await fsp.writeFile(path.join(dir, 'data-evil', 'secret.txt'), `${SECRET}\n`);

  const files = new Map<string, Buffer>();
  const add = async (rel: string, data: Buffer) => {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), data);
    files.set(rel, data);
  };
  await add('a.txt', Buffer.from('hello\n'));
  await add('empty', Buffer.alloc(0));
  await add('big.bin', randomBytesFrom(11, LARGE));
  await add('sub/数据 a=b%.txt', randomBytesFrom(12, 5000));
  for (let i = 0; i < 10; i++) await add(`g${i}`, randomBytesFrom(100 + i, 10 + i * 97));
  await fsp.writeFile(path.join(root, '.hidden'), `${SECRET}\n`);
  await fsp.writeFile(path.join(root, '.g5.tcpsend-part'), `${PART_SECRET}\n`);
  await fsp.writeFile(path.join(root, 'x.tcpsend-part'), `${PART_SECRET}\n`);
  await fsp.symlink('../outside.txt', path.join(root, 'out'));
  await fsp.symlink('..', path.join(root, 'up'));
  await fsp.symlink(path.join(dir, 'data-evil'), path.join(root, 'evil'));
  await fsp.symlink('a.txt', path.join(root, 'inside-link'));
  return { dir, root, files };
}

async function serve(fixture: Fixture, mode: Mode, options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const s = await startServer({ ...options, root: fixture.root, fs: mode.fs() });
  servers.push(s);
  return s;
}

async function session(s: TestServer): Promise<RawPeer> {
  const peer = await peers.connect(s.port);
  await peer.hello();
  return peer;
}

// ---------------------------------------------------------------------------------------------
// Reading answers

type Answer = { header: string; body: Buffer; trailer: string | null } | { err: string };

/** One GET-style answer: header, exactly `length` bytes and the trailer; or one ERR line. */
async function readAnswer(peer: RawPeer): Promise<Answer> {
  const header = await peer.line();
  if (header === null) throw new Error('the server closed the connection');
  if (header.startsWith('ERR ')) return { err: header };
  const length = /^OK size=\d+ offset=0 length=(\d+) /.exec(header);
  if (length === null) throw new Error(`not a GET header: ${header}`);
  const body = await peer.bytes(Number(length[1]));
  return { header, body, trailer: await peer.line() };
}

/** An answer with its body as length and SHA-256: a deep comparison of large Buffers is slow. */
function comparable(answer: Answer): unknown {
  return 'err' in answer ? answer : { ...answer, body: [answer.body.length, sha(answer.body)] };
}

function codeOf(answer: Answer): string {
  if (!('err' in answer)) throw new Error(`expected an ERR, got ${answer.header}`);
  return answer.err.split(' ')[1]!;
}

/** The answer is the whole file: header fields from its stat, its bytes, its SHA-256. */
async function expectWholeFile(answer: Answer, abs: string, data: Buffer): Promise<void> {
  if ('err' in answer) throw new Error(`expected ${abs}, got ${answer.err}`);
  const st = await fsp.stat(abs);
  const n = data.length;
  expect(answer.header).toMatch(
    new RegExp(`^OK size=${n} offset=0 length=${n} mtime=${Math.floor(st.mtimeMs)} mode=${(st.mode & 0o777).toString(8)}(?: sha256=${sha(data)})?$`),
  );
  expect(answer.body.equals(data)).toBe(true);
  expect(answer.trailer).toBe(`OK sha256=${sha(data)}`);
}

function mgetRequest(folder: string, items: readonly string[]): string {
  return `MGET ${folder} count=${items.length}\r\n${items.map((item) => `${item}\r\n`).join('')}`;
}

interface PutItem {
  path: string;
  data: Buffer;
  mtime?: number;
  mode?: number;
  /** Announce this SHA-256 instead of the data's. */
  sha256?: string;
}

function mputRequest(folder: string, items: readonly PutItem[], overwrite = false): Buffer {
  const parts: Buffer[] = [Buffer.from(`MPUT ${folder} count=${items.length}${overwrite ? ' overwrite=1' : ''}\r\n`)];
  for (const item of items) {
    const line = formatMputItem({ path: item.path, size: item.data.length, digest: item.sha256 ?? sha(item.data), mtime: item.mtime ?? null, mode: item.mode ?? null }, 'sha256');
    parts.push(Buffer.from(`${line}\r\n`), item.data);
  }
  return Buffer.concat(parts);
}

/** Byte for byte (a deep toEqual over a large Buffer is slow). */
function expectBytes(actual: Buffer, expected: Buffer | undefined): void {
  expect(expected).toBeDefined();
  expect(actual.length).toBe(expected!.length);
  expect(actual.equals(expected!)).toBe(true);
}

const stored = (item: PutItem) => `OK size=${item.data.length} sha256=${sha(item.data)}`;

/** Every partial file under `dir` (symlinks not followed), relative. */
async function partFiles(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const dirent of await fsp.readdir(dir, { withFileTypes: true })) {
    const rel = prefix + dirent.name;
    if (dirent.name.endsWith('.tcpsend-part')) found.push(rel);
    if (dirent.isDirectory()) found.push(...(await partFiles(path.join(dir, dirent.name), `${rel}/`)));
  }
  return found.sort();
}

const FIXTURE_PARTS = ['.g5.tcpsend-part', 'x.tcpsend-part'];

async function exists(abs: string): Promise<boolean> {
  return fsp.lstat(abs).then(
    () => true,
    () => false,
  );
}

/** Send `data` in pieces of `size` bytes, a turn of the event loop apart. */
async function sendInPieces(peer: RawPeer, data: Buffer, size: number): Promise<void> {
  for (let at = 0; at < data.length; at += size) {
    await peer.send(data.subarray(at, at + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// ---------------------------------------------------------------------------------------------

describe('the greeting', () => {
  it('lists mget and mput among the caps', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, MODES[0]!);
    const peer = await peers.connect(s.port);
    const greeting = await peer.hello();
    const caps = /caps=(\S+)/.exec(greeting)![1]!.split(',');
    expect(caps).toContain('mget');
    expect(caps).toContain('mput');
  });
});

describe('the injected-fs mode', () => {
  it('really takes the checked path: every MGET and MPUT file goes through the injected fs by its path', async () => {
    const fixture = await makeFixture();
    const injected = injectedFs();
    const s = await startServer({ root: fixture.root, fs: injected.fs, allowUpload: true });
    servers.push(s);
    const peer = await session(s);
    await peer.send(mgetRequest('/', ['a.txt', 'g1', 'sub/数据 a=b%.txt'].map(formatMgetItem)));
    for (const rel of ['a.txt', 'g1', 'sub/数据 a=b%.txt']) {
      await expectWholeFile(await readAnswer(peer), path.join(fixture.root, rel), fixture.files.get(rel)!);
    }
    const item = { path: 'new.txt', data: Buffer.from('via the injected fs') };
    await peer.send(mputRequest('/', [item]));
    expect(await peer.line()).toBe(stored(item));
    expect(injected.opened).toEqual(
      expect.arrayContaining([
        path.join(fixture.root, 'a.txt'),
        path.join(fixture.root, 'g1'),
        path.join(fixture.root, 'sub', '数据 a=b%.txt'),
        path.join(fixture.root, '.new.txt.tcpsend-part'),
      ]),
    );
  });
});

describe.each(MODES)('MGET ($name)', (mode) => {
  it('sends each file whole, small, empty and large alike, in the order asked', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    const rels = ['a.txt', 'empty', 'sub/数据 a=b%.txt', 'big.bin', 'g3', 'big.bin', 'empty', 'g0'];
    await peer.send(mgetRequest('/', rels.map(formatMgetItem)));
    for (const rel of rels) {
      await expectWholeFile(await readAnswer(peer), path.join(fixture.root, rel), fixture.files.get(rel)!);
    }
    // A symlink that stays inside is served as what it points to.
    await peer.send(mgetRequest('/', ['inside-link']));
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'a.txt'), fixture.files.get('a.txt')!);
    // Still in step: the next request is answered as such.
    await peer.sendLine('STAT a.txt');
    expect(await peer.line()).toMatch(/^OK type=file size=6 /);
    const mgets = s.log.filter((entry) => entry.verb === 'MGET');
    expect(mgets.map((entry) => [entry.result, entry.note])).toEqual([
      ['OK', '8 files'],
      ['OK', '1 files'],
    ]);
    expect(mgets[0]!.bytes).toBe(rels.reduce((sum, rel) => sum + fixture.files.get(rel)!.length, 0));
  });

  it('items are relative to the request folder', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    await peer.send(mgetRequest('sub', [formatMgetItem('数据 a=b%.txt'), 'a.txt']));
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'sub', '数据 a=b%.txt'), fixture.files.get('sub/数据 a=b%.txt')!);
    expect(codeOf(await readAnswer(peer))).toBe('NOT_FOUND'); // sub/a.txt, not /a.txt
    // A folder that is not there: each item is NOT_FOUND, and the connection goes on.
    await peer.send(mgetRequest('/nowhere', ['a.txt', 'g1']));
    expect(codeOf(await readAnswer(peer))).toBe('NOT_FOUND');
    expect(codeOf(await readAnswer(peer))).toBe('NOT_FOUND');
    await peer.send(mgetRequest('/', ['g1']));
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'g1'), fixture.files.get('g1')!);
  });

  it('each answer is byte for byte the answer GET folder/item gets', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    const rels = ['a.txt', 'empty', 'big.bin', 'sub/数据 a=b%.txt', 'missing.txt', 'sub', 'out', '.hidden', 'g4'];
    const viaGet = async () => {
      const answers: Answer[] = [];
      for (const rel of rels) {
        await peer.sendLine(`GET ${formatMgetItem(joinItemPath('/', rel))}`);
        answers.push(await readAnswer(peer));
      }
      return answers;
    };
    await viaGet(); // the hash cache is warm from here on, for GET and MGET alike
    await peer.send(mgetRequest('/', rels.map(formatMgetItem)));
    const viaMget: Answer[] = [];
    for (const _ of rels) viaMget.push(await readAnswer(peer));
    expect(viaMget.map(comparable)).toEqual((await viaGet()).map(comparable));
    expect(viaMget.filter((answer) => 'err' in answer).map(codeOf)).toEqual(['NOT_FOUND', 'IS_DIRECTORY', 'FORBIDDEN', 'FORBIDDEN']);
  });

  it('a refused item gets its own ERR code, and every item after it arrives intact', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    const refused: Array<[string, string]> = [
      ['missing.txt', 'NOT_FOUND'],
      ['../outside.txt', 'BAD_PATH'],
      ['sub/../../outside.txt', 'BAD_PATH'],
      ['out', 'FORBIDDEN'], // a symlink out of the root
      ['up/outside.txt', 'FORBIDDEN'], // a symlinked folder out of the root
      ['evil/secret.txt', 'FORBIDDEN'], // the sibling whose name starts with the root's
      ['.hidden', 'FORBIDDEN'],
      ['.g5.tcpsend-part', 'FORBIDDEN'],
      ['x.tcpsend-part', 'FORBIDDEN'],
      ['sub', 'IS_DIRECTORY'],
      ['/a.txt', 'BAD_PATH'], // item paths are relative
      ['%ZZ', 'BAD_PATH'],
      ['%C0%AE%C0%AE/outside.txt', 'BAD_PATH'],
    ];
    const items: string[] = [];
    const expected: Array<{ rel: string } | { code: string }> = [];
    refused.forEach(([item, code], index) => {
      const good = `g${index % 10}`;
      items.push(formatMgetItem(good), item);
      expected.push({ rel: good }, { code });
    });
    items.push('big.bin', 'g9');
    expected.push({ rel: 'big.bin' }, { rel: 'g9' });
    await peer.send(mgetRequest('/', items));
    for (const [index, want] of expected.entries()) {
      const answer = await readAnswer(peer);
      if ('code' in want) {
        expect(codeOf(answer), items[index]).toBe(want.code);
        expect((answer as { err: string }).err).toMatch(/^ERR [A-Z_]+ \S/); // with a message
      } else {
        await expectWholeFile(answer, path.join(fixture.root, want.rel), fixture.files.get(want.rel)!);
      }
    }
    await peer.sendLine('QUIT');
    expect(await peer.line()).toBe('OK');
    await peer.untilClosed();
    const received = peer.receivedBytes();
    expect(received.includes(SECRET)).toBe(false);
    expect(received.includes(PART_SECRET)).toBe(false);
    const log = s.log.find((entry) => entry.verb === 'MGET')!;
    expect(log.note).toBe(`${items.length} files, ${refused.length} refused`);
  });

  it('a file used as a folder, and a request folder that leads out, are refused item by item', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    await peer.send(mgetRequest('/', ['a.txt/x', 'g2']));
    expect(codeOf(await readAnswer(peer))).toBe('NOT_DIRECTORY');
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'g2'), fixture.files.get('g2')!);
    await peer.send(mgetRequest('up', ['outside.txt', 'data-evil/secret.txt']));
    expect(codeOf(await readAnswer(peer))).toBe('FORBIDDEN');
    expect(codeOf(await readAnswer(peer))).toBe('FORBIDDEN');
    await peer.send(mgetRequest('..', ['outside.txt']));
    expect(codeOf(await readAnswer(peer))).toBe('BAD_PATH');
    await peer.send(mgetRequest('/', ['g2']));
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'g2'), fixture.files.get('g2')!);
    expect(peer.receivedBytes().includes(SECRET)).toBe(false);
  });

  it('a request split into small pieces gets the same answers', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    const rels = ['g0', 'missing', 'empty', 'big.bin', 'g1', 'sub/数据 a=b%.txt'];
    await sendInPieces(peer, Buffer.from(`${mgetRequest('/', rels.map(formatMgetItem))}STAT g1\r\n`), 5);
    for (const rel of rels) {
      const answer = await readAnswer(peer);
      if (rel === 'missing') expect(codeOf(answer)).toBe('NOT_FOUND');
      else await expectWholeFile(answer, path.join(fixture.root, rel), fixture.files.get(rel)!);
    }
    expect(await peer.line()).toMatch(/^OK type=file size=107 /);
  });

  it('count=0 is an empty batch: no answer, and the next request is answered', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    await peer.send('MGET / count=0\r\nSTAT a.txt\r\n');
    expect(await peer.line()).toMatch(/^OK type=file size=6 /);
  });

  it(`count=10000 is allowed; count=10001 is BAD_REQUEST and the connection closes`, async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    let peer = await session(s);
    await peer.send(mgetRequest('/', Array<string>(10_000).fill('empty')));
    for (let i = 0; i < 10_000; i++) {
      const header = await peer.line();
      if (!header?.startsWith('OK size=0 offset=0 length=0 ')) throw new Error(`item ${i}: ${header}`);
      expect(await peer.line()).toBe(`OK sha256=${sha('')}`);
    }
    await peer.sendLine('STAT a.txt');
    expect(await peer.line()).toMatch(/^OK type=file /);

    peer = await session(s);
    await peer.send(mgetRequest('/', Array<string>(10_001).fill('a.txt')));
    expect(await peer.line()).toMatch(/^ERR BAD_REQUEST .*10000/);
    expect((await peer.untilClosed()).length).toBe(0);
  });

  it.each([
    'MGET / count=x',
    'MGET / count=-1',
    'MGET / count=01',
    'MGET count=1',
    'MGET /',
    'MGET / count=1 count=1',
  ])('a malformed request line %j is answered with ERR, then the connection closes', async (line) => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    // Items follow that, read as requests, would do something visible.
    await peer.send(`${line}\r\nGET a.txt\r\nMKDIR smuggled\r\n`);
    expect(await peer.line()).toMatch(/^ERR BAD_REQUEST \S/);
    expect((await peer.untilClosed()).length).toBe(0);
    expect(await exists(path.join(fixture.root, 'smuggled'))).toBe(false);
  });

  it('an MGET cut short by the client ends the connection without answering the missing items', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode);
    const peer = await session(s);
    await peer.send('MGET / count=3\r\ng0\r\n');
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'g0'), fixture.files.get('g0')!);
    await peer.socket.end();
    expect((await peer.untilClosed()).toString()).toMatch(/^(ERR BAD_REQUEST [^\r\n]*\r\n)?$/);
  });
});

describe.each(MODES)('MPUT ($name)', (mode) => {
  const T0 = 1_600_000_000_123;

  it('stores files into new nested folders, atomically, with their mtime and mode', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'a/b/c.txt', data: randomBytesFrom(21, 100), mtime: T0, mode: 0o600 },
      { path: 'a/数据 x=1%.bin', data: randomBytesFrom(22, LARGE), mtime: T0 + 1000, mode: 0o640 },
      { path: 'empty', data: Buffer.alloc(0), mtime: T0 + 2000, mode: 0o444 },
      { path: 'a/b/d/e/f.txt', data: Buffer.from('deep'), mtime: 1 },
      { path: 'top.txt', data: Buffer.from('no mtime, no mode') },
    ];
    const before = Date.now();
    await peer.send(mputRequest('new/deep', items));
    for (const item of items) expect(await peer.line()).toBe(stored(item));
    for (const item of items) {
      const abs = path.join(fixture.root, 'new', 'deep', item.path);
      expect((await fsp.readFile(abs)).equals(item.data), item.path).toBe(true);
      const st = await fsp.stat(abs);
      if (item.mtime !== undefined) expect(Math.floor(st.mtimeMs), item.path).toBe(item.mtime);
      else expect(st.mtimeMs).toBeGreaterThanOrEqual(before - 2000);
      if (item.mode !== undefined) expect(st.mode & 0o777, item.path).toBe(item.mode);
    }
    expect(await partFiles(fixture.root)).toEqual(FIXTURE_PARTS);
    // In step: what was stored is served back at once.
    await peer.sendLine(`GET ${formatMgetItem('new/deep/a/数据 x=1%.bin')}`);
    await expectWholeFile(await readAnswer(peer), path.join(fixture.root, 'new/deep/a/数据 x=1%.bin'), items[1]!.data);
    const log = s.log.filter((entry) => entry.verb === 'MPUT');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ result: 'OK', path: 'new/deep', note: '5 files', bytes: items.reduce((n, i) => n + i.data.length, 0) });
  });

  it('a second send of the same files answers identical=1 and leaves them as they are', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'x/one.txt', data: Buffer.from('one'), mtime: T0, mode: 0o600 },
      { path: 'x/two.bin', data: randomBytesFrom(23, 70_000), mtime: T0, mode: 0o600 },
    ];
    await peer.send(mputRequest('/', items));
    for (const item of items) expect(await peer.line()).toBe(stored(item));
    const first = await Promise.all(items.map((item) => fsp.stat(path.join(fixture.root, item.path))));
    // The same content, even announced with another mtime and mode, and a file that was
    // there before the server started (its hash not cached yet).
    const again: PutItem[] = items.map((item) => ({ ...item, mtime: T0 + 5000, mode: 0o644 }));
    again.push({ path: 'g3', data: fixture.files.get('g3')! });
    await peer.send(mputRequest('/', again));
    for (const item of again) expect(await peer.line()).toBe(`${stored(item)} identical=1`);
    const second = await Promise.all(items.map((item) => fsp.stat(path.join(fixture.root, item.path))));
    expect(second.map((st) => [st.ino, st.mtimeMs, st.mode])).toEqual(first.map((st) => [st.ino, st.mtimeMs, st.mode]));
    expect(s.log.filter((entry) => entry.verb === 'MPUT').map((entry) => entry.bytes)).toEqual([70_003, 0]);
  });

  it('a different file is EXISTS without consent to overwrite; the old content stays and the next item is stored', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'a.txt', data: Buffer.from('HELLO\n') }, // same size, other bytes
      { path: 'g1', data: Buffer.from('longer than g1 was, by a fair bit, to differ in size too............................................................................') },
      { path: 'fresh.txt', data: Buffer.from('fresh') },
    ];
    await peer.send(mputRequest('/', items));
    expect(await peer.line()).toMatch(/^ERR EXISTS \S/);
    expect(await peer.line()).toMatch(/^ERR EXISTS \S/);
    expect(await peer.line()).toBe(stored(items[2]!));
    // Asking to overwrite is not enough: this server was not started with --allow-overwrite.
    await peer.send(mputRequest('/', [items[0]!], true));
    expect(await peer.line()).toMatch(/^ERR EXISTS .*allow-overwrite/);
    expectBytes(await fsp.readFile(path.join(fixture.root, 'a.txt')), fixture.files.get('a.txt'));
    expectBytes(await fsp.readFile(path.join(fixture.root, 'g1')), fixture.files.get('g1'));
    expect(await fsp.readFile(path.join(fixture.root, 'fresh.txt'), 'utf8')).toBe('fresh');
    expect(await partFiles(fixture.root)).toEqual(FIXTURE_PARTS);
  });

  it('overwrite=1 on a server that allows it replaces the file (and a symlink, not what it points to)', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true, allowOverwrite: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'g1', data: randomBytesFrom(31, 2000), mtime: T0, mode: 0o640 },
      { path: 'a.txt', data: Buffer.from('HELLO\n'), mtime: T0 + 1, mode: 0o600 },
      { path: 'inside-link', data: Buffer.from('the link becomes a file') },
    ];
    await peer.send(mputRequest('/', items, true));
    for (const item of items) expect(await peer.line()).toBe(stored(item));
    for (const item of items.slice(0, 2)) {
      const abs = path.join(fixture.root, item.path);
      expectBytes(await fsp.readFile(abs), item.data);
      const st = await fsp.stat(abs);
      expect(Math.floor(st.mtimeMs)).toBe(item.mtime);
      expect(st.mode & 0o777).toBe(item.mode);
    }
    const link = await fsp.lstat(path.join(fixture.root, 'inside-link'));
    expect(link.isFile()).toBe(true);
    expect(await fsp.readFile(path.join(fixture.root, 'inside-link'), 'utf8')).toBe('the link becomes a file');
    expect(await fsp.readFile(path.join(fixture.root, 'a.txt'), 'utf8')).toBe('HELLO\n'); // from item 2, not through the link
    expect(await partFiles(fixture.root)).toEqual(FIXTURE_PARTS);
  });

  it('a wrong sha256 is CHECKSUM_MISMATCH: nothing stored, no part left, the next item stored', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true, allowOverwrite: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'new/bad.txt', data: Buffer.from('these bytes'), sha256: sha('other bytes') },
      { path: 'g2', data: Buffer.from('would replace g2'), sha256: sha('not these') },
      { path: 'new/good.txt', data: Buffer.from('good') },
    ];
    await peer.send(mputRequest('/', items, true));
    expect(await peer.line()).toMatch(/^ERR CHECKSUM_MISMATCH \S/);
    expect(await peer.line()).toMatch(/^ERR CHECKSUM_MISMATCH \S/);
    expect(await peer.line()).toBe(stored(items[2]!));
    expect(await exists(path.join(fixture.root, 'new', 'bad.txt'))).toBe(false);
    expectBytes(await fsp.readFile(path.join(fixture.root, 'g2')), fixture.files.get('g2'));
    expect(await fsp.readFile(path.join(fixture.root, 'new', 'good.txt'), 'utf8')).toBe('good');
    expect(await partFiles(fixture.root)).toEqual(FIXTURE_PARTS);
  });

  it('a request split into small pieces stores the same files', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'p/one', data: randomBytesFrom(41, 3000), mtime: T0 },
      { path: 'p/two', data: Buffer.alloc(0), mtime: T0 },
      { path: 'p/three', data: randomBytesFrom(42, 900), mtime: T0 },
    ];
    await sendInPieces(peer, Buffer.concat([mputRequest('/', items), Buffer.from('STAT p/one\r\n')]), 7);
    for (const item of items) expect(await peer.line()).toBe(stored(item));
    expect(await peer.line()).toMatch(/^OK type=file size=3000 mtime=1600000000123 /);
    for (const item of items) expectBytes(await fsp.readFile(path.join(fixture.root, item.path)), item.data);
  });

  it('count=0 stores nothing and the next request is answered', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    await peer.send('MPUT / count=0\r\nSTAT a.txt\r\n');
    expect(await peer.line()).toMatch(/^OK type=file size=6 /);
  });

  it('on a read-only server: ERR READ_ONLY, the connection closes, nothing is written', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode); // uploads off
    const before = await snapshot(fixture.dir, '');
    const peer = await session(s);
    // The items' bytes look like requests: none of them may run.
    const items: PutItem[] = [
      { path: 'ro/a.txt', data: Buffer.from('x') },
      { path: 'b.txt', data: Buffer.from('\r\nMKDIR smuggled\r\n') },
    ];
    await peer.send(Buffer.concat([mputRequest('/', items), Buffer.from('MKDIR smuggled2\r\n')]));
    expect(await peer.line()).toMatch(/^ERR READ_ONLY \S/);
    expect((await peer.untilClosed()).length).toBe(0);
    expect(await snapshot(fixture.dir, '')).toEqual(before);
  });

  it('an item over 1 MiB is TOO_LARGE: the connection closes, and nothing of it is written', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const exact = { path: 'exact.bin', data: randomBytesFrom(51, 1024 * 1024) };
    const over = { path: 'over.bin', data: randomBytesFrom(52, 1024 * 1024 + 1) };
    // The request announces two items; the first (exactly the limit) is answered before the
    // second arrives.
    const request = mputRequest('/', [exact, over]);
    const split = request.indexOf(Buffer.from('over.bin size='));
    await peer.send(request.subarray(0, split));
    expect(await peer.line()).toBe(stored(exact));
    await peer.send(request.subarray(split)).catch(() => {}); // the server may close before it has read it all
    expect(await peer.line()).toMatch(/^ERR TOO_LARGE .*1048576/);
    expect((await peer.untilClosed()).length).toBe(0);
    expectBytes(await fsp.readFile(path.join(fixture.root, 'exact.bin')), exact.data);
    expect(await exists(path.join(fixture.root, 'over.bin'))).toBe(false);
    expect(await partFiles(fixture.root)).toEqual(FIXTURE_PARTS);
  });

  it('a malformed item line is BAD_REQUEST, then the connection closes', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const good = { path: 'good.txt', data: Buffer.from('good') };
    await peer.send(mputRequest('/', [good]).toString().replace('count=1', 'count=2'));
    expect(await peer.line()).toBe(stored(good));
    await peer.send(`bad.txt size=4\r\nMKDIR smuggled\r\n`);
    expect(await peer.line()).toMatch(/^ERR BAD_REQUEST .*sha256/);
    expect((await peer.untilClosed()).length).toBe(0);
    expect(await exists(path.join(fixture.root, 'bad.txt'))).toBe(false);
    expect(await exists(path.join(fixture.root, 'smuggled'))).toBe(false);
  });

  it.each([
    'MPUT / count=10001',
    'MPUT / count=x',
    'MPUT count=1',
    'MPUT / count=1 overwrite=2',
  ])('a refused request line %j is answered with ERR, then the connection closes', async (line) => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true });
    const peer = await session(s);
    const item = formatMputItem({ path: 'smuggled.txt', size: 20, digest: sha('MKDIR smuggled-dir\r\n'), mtime: null, mode: null }, 'sha256');
    await peer.send(`${line}\r\n${item}\r\nMKDIR smuggled-dir\r\n`);
    expect(await peer.line()).toMatch(/^ERR BAD_REQUEST \S/);
    expect((await peer.untilClosed()).length).toBe(0);
    expect(await exists(path.join(fixture.root, 'smuggled.txt'))).toBe(false);
    expect(await exists(path.join(fixture.root, 'smuggled-dir'))).toBe(false);
  });

  it('hostile item paths write nothing outside the root, and the items after them are stored', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true, allowOverwrite: true });
    const outsideBefore = await snapshot(fixture.dir, fixture.root);
    const peer = await session(s);
    const hostile: Array<[string, string]> = [
      ['../escape.txt', 'BAD_PATH'],
      ['../outside.txt', 'BAD_PATH'],
      ['a/../../escape.txt', 'BAD_PATH'],
      ['up/outside-dir/escape.txt', 'FORBIDDEN'], // through a symlinked folder
      ['up/outside.txt', 'FORBIDDEN'],
      ['up/brand-new/escape.txt', 'FORBIDDEN'], // no folder may be made out there either
      ['evil/secret.txt', 'FORBIDDEN'], // the sibling whose name starts with the root's
      ['evil/escape.txt', 'FORBIDDEN'],
      ['out', 'FORBIDDEN'], // a symlink out, asked to be overwritten
      ['.bashrc', 'FORBIDDEN'],
      ['x.tcpsend-part', 'FORBIDDEN'],
      ['sub', 'IS_DIRECTORY'],
      ['a.txt/x', 'NOT_DIRECTORY'],
    ];
    const items: PutItem[] = [];
    const expected: string[] = [];
    hostile.forEach(([itemPath, code], index) => {
      const data = Buffer.from(`${SECRET}-${index}`);
      items.push({ path: itemPath, data });
      expected.push(code);
      const good = { path: `ok/${index}.txt`, data: Buffer.from(`good ${index}`) };
      items.push(good);
      expected.push(stored(good));
    });
    await peer.send(mputRequest('/', items, true));
    for (const [index, want] of expected.entries()) {
      const line = await peer.line();
      if (want.startsWith('OK')) expect(line, items[index]!.path).toBe(want);
      else expect(line, items[index]!.path).toMatch(new RegExp(`^ERR ${want} \\S`));
    }
    expect(await snapshot(fixture.dir, fixture.root)).toEqual(outsideBefore);
    expect(await fsp.readFile(path.join(fixture.dir, 'outside.txt'), 'utf8')).toBe(`${SECRET}\n`);
    expect(await exists(path.join(fixture.dir, 'escape.txt'))).toBe(false);
    expect(await exists(path.join(fixture.dir, 'brand-new'))).toBe(false);
    expect((await fsp.readdir(path.join(fixture.root, 'ok'))).length).toBe(hostile.length);
    expect(await fsp.readFile(path.join(fixture.root, 'x.tcpsend-part'), 'utf8')).toBe(`${PART_SECRET}\n`);
    expect(await exists(path.join(fixture.root, '.bashrc'))).toBe(false);
    expect((await fsp.lstat(path.join(fixture.root, 'out'))).isSymbolicLink()).toBe(true);
  });

  it('a request folder that leads out is refused for each item', async () => {
    const fixture = await makeFixture();
    const s = await serve(fixture, mode, { allowUpload: true, allowOverwrite: true });
    const outsideBefore = await snapshot(fixture.dir, fixture.root);
    const peer = await session(s);
    const items: PutItem[] = [
      { path: 'escape.txt', data: Buffer.from('x') },
      { path: 'outside-dir/escape.txt', data: Buffer.from('y') },
    ];
    await peer.send(mputRequest('up', items, true));
    expect(await peer.line()).toMatch(/^ERR FORBIDDEN \S/);
    expect(await peer.line()).toMatch(/^ERR FORBIDDEN \S/);
    await peer.send(mputRequest('evil', items, true));
    expect(await peer.line()).toMatch(/^ERR FORBIDDEN \S/);
    expect(await peer.line()).toMatch(/^ERR FORBIDDEN \S/);
    await peer.sendLine('STAT a.txt');
    expect(await peer.line()).toMatch(/^OK type=file /);
    expect(await snapshot(fixture.dir, fixture.root)).toEqual(outsideBefore);
  });
});
