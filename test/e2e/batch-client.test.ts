/**
 * The batch verbs from the client's side: fetchMany and storeMany with an outcome per file,
 * and folders (getTree, putTree) that go in MGET and MPUT batches, also across a cut.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchItem, StoreItem } from '../../src/client/batch.js';
import { TcpsendClient } from '../../src/client/client.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree, putTree, type TreeSummary } from '../../src/client/tree.js';
import type { TransferResult } from '../../src/client/types.js';
import { RemoteError } from '../../src/errors.js';
import type { RequestLogEntry } from '../../src/server/session.js';
import { utimesSeconds } from '../../src/files/mtime.js';
import { LocalFolder } from '../../src/transfer/local-file.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';
import { FAKE_CAPS, fakeServer } from '../helpers/fake-server.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const T0 = 1_650_000_000_000;

let servers: TestServer[] = [];
let proxies: FaultProxy[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

async function connect(target: string): Promise<TcpsendClient> {
  const client = await TcpsendClient.connect(target, { idleTimeoutMs: 5000 });
  closers.push(() => client.close());
  return client;
}

function reconnecting(target: string): ReconnectingClient {
  const client = new ReconnectingClient(target, { retries: 5, backoffMs: 10, idleTimeoutMs: 5000 });
  closers.push(() => client.close());
  return client;
}

async function writeFile(abs: string, data: Buffer, mtimeMs?: number, mode?: number): Promise<void> {
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.writeFile(abs, data);
  if (mode !== undefined) await fsp.chmod(abs, mode);
  if (mtimeMs !== undefined) await fsp.utimes(abs, utimesSeconds(mtimeMs), utimesSeconds(mtimeMs));
}

function expectBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

/** Every partial file under `dir`, relative. */
async function partFiles(dir: string): Promise<string[]> {
  const names = (await fsp.readdir(dir, { recursive: true })) as string[];
  return names.filter((name) => name.endsWith('.tcpsend-part')).sort();
}

/** What a tree holds: each file's size, SHA-256 and whole-millisecond mtime; each folder. */
async function describeTree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dirent of await fsp.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${dirent.name}` : dirent.name;
    const abs = path.join(dir, rel);
    const st = await fsp.lstat(abs);
    if (dirent.isDirectory()) {
      out[`${rel}/`] = 'dir';
      Object.assign(out, await describeTree(dir, rel));
    } else {
      out[rel] = `${st.size} ${sha(await fsp.readFile(abs))} mtime=${Math.floor(st.mtimeMs)} mode=${(st.mode & 0o777).toString(8)}`;
    }
  }
  return out;
}

/** ~300 small files in nested folders (names with spaces, '=', '%', non-ASCII), two large ones, an empty folder. */
const SMALL_FILES = 300;
const LARGE_FILES: Array<[string, number]> = [
  ['large/one.bin', 400_000],
  ['two.bin', 1_500_000],
];

async function makeTree(dir: string, options: { large?: boolean } = {}): Promise<void> {
  for (let i = 0; i < SMALL_FILES; i++) {
    const name = i % 50 === 7 ? `名前 ${i} a=b%.txt` : `f${i}.txt`;
    const rel = `d${i % 7}/s${i % 3}/${name}`;
    await writeFile(path.join(dir, rel), randomBytesFrom(1000 + i, (i * 37) % 3000), T0 + i * 1000, i % 2 ? 0o644 : 0o600);
  }
  if (options.large === false) return;
  for (const [rel, size] of LARGE_FILES) await writeFile(path.join(dir, rel), randomBytesFrom(size, size), T0 - 5000);
  await fsp.mkdir(path.join(dir, 'empty-dir'));
}

function batchedFiles(log: RequestLogEntry[], verb: 'MGET' | 'MPUT'): number {
  return log
    .filter((entry) => entry.verb === verb && entry.result === 'OK')
    .reduce((sum, entry) => sum + Number(/^(\d+) files/.exec(entry.note ?? '')![1]), 0);
}

function expectClean(summary: TreeSummary, files: number): void {
  expect(summary.firstError).toBeNull();
  expect(summary.failed).toBe(0);
  expect(summary.files).toBe(files);
}

// ---------------------------------------------------------------------------------------------

describe('TcpsendClient.fetchMany', () => {
  it('reports each file: the good ones saved and verified, each refused one as an Error', async () => {
    const s = await serve();
    const files = new Map<string, Buffer>([
      ['a.txt', Buffer.from('hello\n')],
      ['empty', Buffer.alloc(0)],
      ['big.bin', randomBytesFrom(5, 300_000)],
      ['sub/数据 a=b%.txt', randomBytesFrom(6, 4000)],
      ['z.txt', Buffer.from('last')],
    ]);
    for (const [rel, data] of files) await writeFile(path.join(s.root, rel), data, T0 + data.length, 0o640);
    await fsp.writeFile(path.join(s.root, '.hidden'), 'secret');
    const client = await connect(s.target);
    expect(client.supports('mget')).toBe(true);

    const dest = await tempDir('tcpsend-fetch-');
    const order = ['a.txt', 'missing.txt', 'empty', '.hidden', 'big.bin', 'sub', 'sub/数据 a=b%.txt', '../x', 'z.txt'];
    await fsp.mkdir(path.join(dest, 'sub'));
    const destination = await LocalFolder.open(dest);
    closers.push(async () => destination.close());
    const items: FetchItem[] = order.map((rel, i) => ({ rel, dest: destination.place(rel.includes('/') && !rel.startsWith('..') ? rel : `${i}-${rel.replace(/\W/g, '_')}`) }));
    const outcomes: Array<[string, TransferResult | Error]> = [];
    const started: string[] = [];
    await client.fetchMany('/', items, {
      onStart: (item, size) => started.push(`${item.rel}:${size}`),
      onDone: (item, outcome) => outcomes.push([item.rel, outcome]),
    });

    expect(outcomes.map(([rel]) => rel)).toEqual(order); // in order, one each
    const refused = Object.fromEntries(
      outcomes.filter(([, o]) => o instanceof Error).map(([rel, o]) => [rel, (o as RemoteError).code]),
    );
    expect(refused).toEqual({
      'missing.txt': 'TCPSEND_ERR_NOT_FOUND',
      '.hidden': 'TCPSEND_ERR_FORBIDDEN',
      sub: 'TCPSEND_ERR_IS_DIRECTORY',
      '../x': 'TCPSEND_ERR_BAD_PATH',
    });
    for (const [rel, outcome] of outcomes) {
      if (outcome instanceof Error) {
        expect(outcome).toBeInstanceOf(RemoteError);
        continue;
      }
      const data = files.get(rel)!;
      const item = items.find((i) => i.rel === rel)!;
      expect(outcome).toMatchObject({ path: item.dest.path, size: data.length, bytes: data.length, checksum: 'blake3', digest: blake3Hex(data), skipped: false, resumedFrom: 0 });
      expectBytes(await fsp.readFile(item.dest.path), data);
      const st = await fsp.stat(item.dest.path);
      expect(Math.floor(st.mtimeMs)).toBe(T0 + data.length);
      expect(st.mode & 0o777).toBe(0o640);
    }
    expect(started).toEqual(['a.txt:6', 'empty:0', 'big.bin:300000', 'sub/数据 a=b%.txt:4000', 'z.txt:4']);
    // Nothing left for the refused ones: no file, no part.
    expect((await fsp.readdir(dest)).sort()).toEqual(['0-a_txt', '2-empty', '4-big_bin', '8-z_txt', 'sub'].sort());
    expect(await partFiles(dest)).toEqual([]);
    // The connection is still in step.
    expect((await client.stat('a.txt')).size).toBe(6);
    expect(s.log.filter((e) => e.verb === 'MGET')).toEqual([expect.objectContaining({ result: 'OK', note: '9 files, 4 refused' })]);
  });
});

describe('TcpsendClient.fetchMany writes small files together, a bounded amount at a time', () => {
  it('files that arrive are stored in batches, none holding much more than 4 MiB, each file verified and in place', async () => {
    const s = await serve();
    const files = Array.from({ length: 48 }, (_, i) => [`f${i}.bin`, randomBytesFrom(100 + i, 200_000)] as const);
    for (const [rel, data] of files) await writeFile(path.join(s.root, rel), data);
    const client = await connect(s.target);
    const dest = await tempDir('tcpsend-fetch-bounded-');
    const destination = await LocalFolder.open(dest);
    closers.push(async () => destination.close());
    const batches: number[] = [];
    const store = destination.storeWholeFiles.bind(destination);
    destination.storeWholeFiles = (batch) => {
      batches.push(batch.reduce((sum, { body }) => sum + body.length, 0));
      return store(batch);
    };
    const outcomes: Array<TransferResult | Error> = [];
    await client.fetchMany('/', files.map(([rel]) => ({ rel, dest: destination.place(rel) })), { onDone: (_item, outcome) => outcomes.push(outcome) });
    expect(outcomes.filter((o) => o instanceof Error)).toEqual([]);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(48 * 200_000);
    expect(Math.max(...batches)).toBeLessThan(4 * 1024 * 1024 + 200_000);
    for (const [rel, data] of files) expect((await fsp.readFile(path.join(dest, rel))).equals(data)).toBe(true);
  });
});

describe('TcpsendClient.storeMany', () => {
  it('reports each file: the good ones stored with mtime and mode, each refused one as an Error', async () => {
    const s = await serve({ allowUpload: true });
    await fsp.writeFile(path.join(s.root, 'taken.txt'), 'the server has its own');
    const src = await tempDir('tcpsend-store-');
    const files = new Map<string, Buffer>([
      ['one.txt', Buffer.from('one')],
      ['taken.txt', Buffer.from('a different file')],
      ['deep/er/two.bin', randomBytesFrom(7, 300_000)],
      ['名前 a=b%.txt', randomBytesFrom(8, 999)],
      ['empty', Buffer.alloc(0)],
    ]);
    let n = 0;
    for (const [rel, data] of files) await writeFile(path.join(src, rel), data, T0 + 1000 * ++n, 0o604);
    const order = ['one.txt', 'taken.txt', 'gone.txt', 'deep/er/two.bin', '.hidden', '名前 a=b%.txt', 'empty'];
    await fsp.writeFile(path.join(src, '.hidden'), 'not for the server');
    const items: StoreItem[] = order.map((rel) => ({ rel, abs: path.join(src, rel) }));
    const client = await connect(s.target);
    expect(client.supports('mput')).toBe(true);

    const run = async () => {
      const outcomes: Array<[string, TransferResult | Error]> = [];
      await client.storeMany('in/box', items, {}, { onDone: (item, outcome) => outcomes.push([item.rel, outcome]) });
      return outcomes;
    };
    const outcomes = await run();
    expect(outcomes.map(([rel]) => rel).sort()).toEqual([...order].sort());
    const failed = Object.fromEntries(outcomes.filter(([, o]) => o instanceof Error).map(([rel, o]) => [rel, (o as { code?: string }).code]));
    expect(Object.keys(failed).sort()).toEqual(['.hidden', 'gone.txt']);
    expect(failed['.hidden']).toBe('TCPSEND_ERR_FORBIDDEN');
    expect(outcomes.find(([rel]) => rel === 'gone.txt')![1]).toBeInstanceOf(Error); // the local file is missing
    for (const [rel, data] of files) {
      const outcome = outcomes.find(([r]) => r === rel)![1] as TransferResult;
      expect(outcome).toMatchObject({ path: `in/box/${rel}`, size: data.length, bytes: data.length, checksum: 'blake3', digest: blake3Hex(data), skipped: false });
      const abs = path.join(s.root, 'in', 'box', rel);
      expectBytes(await fsp.readFile(abs), data);
      const st = await fsp.stat(abs);
      expect(Math.floor(st.mtimeMs)).toBe(Math.floor((await fsp.stat(path.join(src, rel))).mtimeMs));
      expect(st.mode & 0o777).toBe(0o604);
    }
    expect(await partFiles(s.root)).toEqual([]);

    // Again: the same files are identical (skipped, no bytes); a different file there is EXISTS.
    await fsp.writeFile(path.join(s.root, 'in', 'box', 'one.txt'), 'changed on the server');
    const again = new Map(await run());
    expect((again.get('one.txt') as RemoteError).code).toBe('TCPSEND_ERR_EXISTS');
    expect(await fsp.readFile(path.join(s.root, 'in', 'box', 'one.txt'), 'utf8')).toBe('changed on the server');
    for (const rel of ['deep/er/two.bin', '名前 a=b%.txt', 'empty', 'taken.txt']) {
      expect(again.get(rel), rel).toMatchObject({ skipped: true, bytes: 0 });
    }
    expect(await fsp.readFile(path.join(s.root, 'taken.txt'), 'utf8')).toBe('the server has its own'); // not in in/box
  });

  it('overwrite replaces a different file on a server that allows it', async () => {
    const s = await serve({ allowUpload: true, allowOverwrite: true });
    await fsp.writeFile(path.join(s.root, 'x.txt'), 'old');
    const src = await tempDir('tcpsend-store-');
    await writeFile(path.join(src, 'x.txt'), Buffer.from('new content'), T0);
    const client = await connect(s.target);
    const outcomes: Array<TransferResult | Error> = [];
    await client.storeMany('/', [{ rel: 'x.txt', abs: path.join(src, 'x.txt') }], { overwrite: true }, { onDone: (_, o) => outcomes.push(o) });
    expect(outcomes).toEqual([expect.objectContaining({ size: 11, skipped: false, checksum: 'blake3', digest: blake3Hex('new content') })]);
    expect(await fsp.readFile(path.join(s.root, 'x.txt'), 'utf8')).toBe('new content');
    expect(Math.floor((await fsp.stat(path.join(s.root, 'x.txt'))).mtimeMs)).toBe(T0);
  });

  it('reads answers in any form a server may give: progress lines first, fields in another order, an ERR, a wrong digest', async () => {
    // Each file holds "x" and a line end, so the fake (which reads lines) sees its body as one line.
    const body = 'x\r\n';
    const answers = [
      `+ hashed=0 size=3\r\nOK sha256=${sha(body)} size=3\r\n`,
      'ERR EXISTS it is there already\r\n',
      `OK size=3 sha256=${sha(body)}\r\n`,
      `OK size=3 sha256=${sha(body)} identical=1\r\n`,
      `OK size=3 sha256=${sha('other')}\r\n`,
    ];
    let answered = 0;
    const fake = await fakeServer((line) => ({ send: line === 'x' ? [answers[answered++]!] : [] }), { caps: `${FAKE_CAPS},mput` });
    closers.push(() => fake.close());
    const src = await tempDir('tcpsend-store-');
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) await writeFile(path.join(src, name), Buffer.from(body), T0);
    const client = await connect(`127.0.0.1:${fake.port}`);
    const outcomes: Array<[string, TransferResult | Error]> = [];
    await client.storeMany('in', names.map((rel) => ({ rel, abs: path.join(src, rel) })), {}, { onDone: (item, o) => outcomes.push([item.rel, o]) });
    expect(fake.requests[0]).toMatch(/^MPUT in count=5( |$)/);
    expect(outcomes.map(([rel]) => rel)).toEqual(names);
    const stored = { size: 3, bytes: 3, checksum: 'sha256', digest: sha(body), skipped: false };
    expect(outcomes[0]![1]).toMatchObject({ path: 'in/a', ...stored });
    expect(outcomes[1]![1]).toMatchObject({ code: 'TCPSEND_ERR_EXISTS' });
    expect(outcomes[2]![1]).toMatchObject({ path: 'in/c', ...stored });
    expect(outcomes[3]![1]).toMatchObject({ path: 'in/d', ...stored, bytes: 0, skipped: true });
    expect(outcomes[4]![1]).toMatchObject({ code: 'TCPSEND_ERR_CHECKSUM_MISMATCH' });
  });
});

describe('folders in batches', () => {
  it('putTree and getTree of ~300 small files go in MPUT and MGET batches; the copies are identical; a re-run moves nothing', async () => {
    const s = await serve({ allowUpload: true });
    const src = await tempDir('tcpsend-tree-src-');
    await makeTree(src);
    const total = SMALL_FILES + LARGE_FILES.length;
    const client = reconnecting(s.target);

    const put = await putTree(client, src, 'up');
    expectClean(put, total);
    expect(put.sent).toBe(total);
    expect(await describeTree(path.join(s.root, 'up'))).toEqual(await describeTree(src));
    expect(await partFiles(s.root)).toEqual([]);
    // The small files went in batches; only the large ones had a PUT each.
    expect(batchedFiles(s.log, 'MPUT')).toBe(SMALL_FILES);
    expect(s.log.filter((e) => e.verb === 'MPUT').length).toBeLessThanOrEqual(3);
    expect(s.log.filter((e) => e.verb === 'PUT').map((e) => e.path).sort()).toEqual(['up/large/one.bin', 'up/two.bin']);

    const rerunPut = await putTree(client, src, 'up');
    expectClean(rerunPut, total);
    expect(rerunPut.bytes).toBe(0);
    expect(rerunPut.unchanged).toBe(total);
    expect(rerunPut.sent + rerunPut.replaced + rerunPut.skipped).toBe(0);

    s.log.length = 0;
    const dest = path.join(await tempDir('tcpsend-tree-dest-'), 'copy');
    const get = await getTree(client, 'up', dest);
    expectClean(get, total);
    expect(await describeTree(dest)).toEqual(await describeTree(src));
    expect(await partFiles(dest)).toEqual([]);
    expect(batchedFiles(s.log, 'MGET')).toBe(SMALL_FILES);
    expect(s.log.filter((e) => e.verb === 'GET').map((e) => e.path).sort()).toEqual(['up/large/one.bin', 'up/two.bin']);

    s.log.length = 0;
    const rerunGet = await getTree(client, 'up', dest);
    expectClean(rerunGet, total);
    expect(rerunGet.bytes).toBe(0);
    expect(rerunGet.unchanged).toBe(total);
    expect(rerunGet.sent + rerunGet.replaced + rerunGet.skipped).toBe(0);
    expect(s.log.filter((e) => ['GET', 'MGET', 'PUT', 'MPUT'].includes(e.verb) && e.bytes > 0)).toEqual([]);
    expect(await describeTree(dest)).toEqual(await describeTree(src));
  });

  it.skipIf(process.platform === 'win32')("putTree sends the walk's first small files while it is still walking; large files wait for its end (onPlan)", async () => {
    const s = await serve({ allowUpload: true });
    const src = await tempDir('tcpsend-tree-stream-');
    // Enough files that batches fill, and the event loop turns, long before the walk ends; the
    // last name the walk comes to is a FIFO, which it skips with a notice: the walk's end.
    for (let i = 0; i < 3000; i++) await writeFile(path.join(src, `d${i % 30}`, `f${i}.txt`), Buffer.from(`file ${i}\n`));
    await writeFile(path.join(src, 'big.bin'), randomBytesFrom(7, 600_000));
    execFileSync('mkfifo', [path.join(src, 'zz-last.fifo')]);
    const startedBeforeWalkEnd: string[] = [];
    const startedBeforePlan: string[] = [];
    let walkEnded = false;
    let planned = false;
    const put = await putTree(reconnecting(s.target), src, 'up', {
      onFileStart: (rel) => {
        if (!walkEnded) startedBeforeWalkEnd.push(rel);
        if (!planned) startedBeforePlan.push(rel);
      },
      onNotice: (message) => {
        if (message.startsWith('skipped zz-last.fifo')) walkEnded = true;
      },
      onPlan: (totals) => {
        planned = true;
        expect(totals).toEqual({ files: 3001, bytes: expect.any(Number) });
      },
    });
    expect(put.failed).toBe(0);
    expect(put.sent).toBe(3001);
    expect(walkEnded && planned).toBe(true);
    expect(startedBeforeWalkEnd.length).toBeGreaterThan(0);
    expect(startedBeforePlan).not.toContain('big.bin');
    await fsp.rm(path.join(src, 'zz-last.fifo'));
    expect(await describeTree(path.join(s.root, 'up'))).toEqual(await describeTree(src));
  });

  it('a cut in the middle of an MGET: the retry fetches what is missing, and every file ends up correct', async () => {
    const s = await serve();
    // Small files only, so that after the listing (~25 kB) the MGET's answers (~430 kB) are
    // all that comes: the first connection is cut (server → client) well inside them.
    await makeTree(path.join(s.root, 'tree'), { large: false });
    const total = SMALL_FILES;
    const proxy = await startFaultProxy(s.port, (index) => (index === 0 ? { cutAfter: 150_000, direction: 'down' } : {}));
    proxies.push(proxy);
    const client = reconnecting(`127.0.0.1:${proxy.port}`);
    const dest = path.join(await tempDir('tcpsend-tree-cut-'), 'copy');
    const summary = await getTree(client, 'tree', dest);
    expect(proxy.faults).toBe(1);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expectClean(summary, total);
    expect(await describeTree(dest)).toEqual(await describeTree(path.join(s.root, 'tree')));
    expect(await partFiles(dest)).toEqual([]);
    // The first MGET carried every small file; the retry only those without an outcome.
    const counts = s.log.filter((e) => e.verb === 'MGET').map((e) => Number(/^(\d+) files/.exec(e.note ?? '')?.[1] ?? -1));
    expect(counts.length).toBeGreaterThanOrEqual(2);
    expect(counts.at(-1)).toBeGreaterThan(0);
    expect(counts.at(-1)).toBeLessThan(SMALL_FILES);
  });

  it('a cut in the middle of an MPUT: the retry sends what is missing, and every file ends up correct', async () => {
    const s = await serve({ allowUpload: true });
    const src = await tempDir('tcpsend-tree-src-');
    // Small files only; the answers to the listing and the MKDIRs are ~300 bytes, the MPUT's
    // ~28 kB: the first connection is cut (server → client) inside those.
    await makeTree(src, { large: false });
    const total = SMALL_FILES;
    const proxy = await startFaultProxy(s.port, (index) => (index === 0 ? { cutAfter: 5_000, direction: 'down' } : {}));
    proxies.push(proxy);
    const client = reconnecting(`127.0.0.1:${proxy.port}`);
    const summary = await putTree(client, src, 'up');
    expect(proxy.faults).toBe(1);
    expectClean(summary, total);
    expect(await describeTree(path.join(s.root, 'up'))).toEqual(await describeTree(src));
    expect(await partFiles(s.root)).toEqual([]);
    // The items whose answers were lost were sent again (and found identical where stored).
    const counts = s.log.filter((e) => e.verb === 'MPUT').map((e) => Number(/^(\d+) files/.exec(e.note ?? '')?.[1] ?? -1));
    expect(counts.length).toBeGreaterThanOrEqual(2);
    expect(counts.at(-1)).toBeGreaterThan(0);
    expect(counts.at(-1)).toBeLessThan(SMALL_FILES);
  });
});
