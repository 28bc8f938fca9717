/**
 * Progress lines (issue 14, finding 6): while a slow answer is worked out, a client that said
 * HELLO progress=1 gets `+` lines, so a resume of a large file does not time out.
 */
import { createHash } from 'node:crypto';
import nodeFs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile } from '../../src/client/index.js';
import { formatProgress, formatRequest, isProgressLine, parseRequest } from '../../src/protocol/index.js';
import { wrapFs } from '../helpers/fs-wrap.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** node:fs whose positional reads take `ms` each: hashing a large file takes a while. */
const slowReads = (ms: number) =>
  wrapFs({
    read: (fd, buffer, offset, length, position, done) => {
      setTimeout(() => nodeFs.read(fd, buffer, offset, length, position, done), ms);
    },
  });

describe('the progress line', () => {
  it('is asked for in HELLO and looks like `+ field=value`', () => {
    const hello = { verb: 'HELLO' as const, version: 1, client: 'x', progress: true, checksums: null };
    expect(formatRequest(hello)).toBe('HELLO version=1 client=x progress=1');
    expect(parseRequest('HELLO version=1 client=x progress=1')).toEqual(hello);
    expect(parseRequest('HELLO')).toEqual({ verb: 'HELLO', version: null, client: null, checksums: null });
    expect(formatProgress({ hashed: 1048576, length: 4194304 })).toBe('+ hashed=1048576 length=4194304');
    expect(isProgressLine('+ hashed=1')).toBe(true);
    expect(isProgressLine('+')).toBe(true);
    expect(isProgressLine('+1')).toBe(false);
    expect(isProgressLine('OK sha256=x')).toBe(false);
  });
});

describe('a slow answer', () => {
  it('HASH: `+` lines come before the answer to a client that asked, none to one that did not', async () => {
    const root = await tempDir('tcpsend-progress-');
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(5, 16 * 1024 * 1024));
    const s = await startServer({ root, fs: slowReads(30), progressIntervalMs: 100 });
    servers.push(s);
    const asking = await peers.connect(s.port);
    await asking.sendLine('HELLO progress=1');
    await asking.line(); // the greeting
    expect(await asking.line()).toBe('OK version=1 progress=1');
    await asking.sendLine('HASH big.bin');
    const lines: string[] = [];
    for (let line = await asking.line(); ; line = await asking.line()) {
      lines.push(line!);
      if (!isProgressLine(line!)) break;
    }
    expect(lines.at(-1)).toMatch(/^OK sha256=[0-9a-f]{64} /);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines[0]).toMatch(/^\+ hashed=\d+ length=16777216$/);

    const plain = await peers.connect(s.port);
    await plain.hello();
    await plain.sendLine('HASH big.bin');
    expect(await plain.line()).toMatch(/^OK sha256=/); // cached now; and never a `+` line
  });

  it('a resume whose prefix takes longer to hash than the client waits does not time out', async () => {
    const root = await tempDir('tcpsend-progress-');
    const data = randomBytesFrom(6, 24 * 1024 * 1024);
    await fsp.writeFile(path.join(root, 'big.bin'), data);
    // 16 MiB of prefix at 1 MiB per 80 ms: well over a second of hashing before the answer.
    const s = await startServer({ root, fs: slowReads(80), progressIntervalMs: 100 });
    servers.push(s);
    const out = await tempDir();
    const dest = path.join(out, 'big.bin');
    await fsp.writeFile(path.join(out, '.big.bin.tcpsend-part'), data.subarray(0, 16 * 1024 * 1024));
    const started = performance.now();
    const done = await getFile(s.target, 'big.bin', dest, { idleTimeoutMs: 600, retries: 0 });
    expect(performance.now() - started).toBeGreaterThan(600); // it did wait longer than the idle timeout
    expect(done.resumedFrom).toBe(16 * 1024 * 1024);
    expect(done.digest).toBe(blake3Hex(data));
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
  });

  it('(the same resume without progress lines times out: the lines are what keeps it alive)', async () => {
    const root = await tempDir('tcpsend-progress-');
    const data = randomBytesFrom(7, 24 * 1024 * 1024);
    await fsp.writeFile(path.join(root, 'big.bin'), data);
    const s = await startServer({ root, fs: slowReads(80), progressIntervalMs: 60_000 });
    servers.push(s);
    const out = await tempDir();
    await fsp.writeFile(path.join(out, '.big.bin.tcpsend-part'), data.subarray(0, 16 * 1024 * 1024));
    const err = await getFile(s.target, 'big.bin', path.join(out, 'big.bin'), { idleTimeoutMs: 600, retries: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TCPSEND_ERR_TIMEOUT' });
  });
});
