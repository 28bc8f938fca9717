/**
 * Connections cut at many points, in both directions, through a fault proxy: every transfer
 * resumes from its partial file and ends with a matching SHA-256, and nothing unverified ever
 * appears under the final name.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/index.js';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../helpers/fault-proxy.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Past WORKER_HASH_MIN_BYTES, so both ends hash (and the client writes) on worker threads.
const SIZE = 12 * 1024 * 1024 + 17;
// Inside the greeting, the header, the first chunk, and deep in the body.
const CUTS = [1, 40, 120, 5_000, 65_536, 1_000_000, 2_500_000, 4_000_000, 9_000_000];

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setUp(options: Parameters<typeof startServer>[0], plan: (i: number) => FaultPlan) {
  const s: TestServer = await startServer(options);
  const proxy: FaultProxy = await startFaultProxy(s.port, plan);
  cleanup.push(() => s.close(), () => proxy.close());
  return { s, proxy, target: `127.0.0.1:${proxy.port}` };
}

describe('resume after cuts', () => {
  it('get survives a cut at each of many points and ends verified', async () => {
    const { s, proxy, target } = await setUp({}, (i) => (i < CUTS.length ? { cutAfter: CUTS[i], direction: 'down' } : {}));
    const data = await writeRandomFile(path.join(s.root, 'f.bin'), SIZE, 21);
    const out = await tempDir();
    const dest = path.join(out, 'f.bin');
    const retries: string[] = [];
    const result = await getFile(target, 'f.bin', dest, {
      retries: CUTS.length,
      backoffMs: 1,
      onRetry: ({ error }) => retries.push(error.code),
    });
    // Every connection but the last was cut (a late cut point may lie past what a resumed
    // attempt still had to carry, so the count of cuts that hit can be below CUTS.length).
    expect(retries.length).toBe(proxy.connections - 1);
    expect(retries.length).toBeGreaterThanOrEqual(6);
    expect(result.digest).toBe(blake3Hex(data));
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
    expect(result.resumedFrom).toBeGreaterThan(0);
    // Resume means the bytes already held are not sent again: little more than one file's worth.
    expect(proxy.bytesDown).toBeLessThan(SIZE * 1.1);
    expect(await fsp.readdir(out)).toEqual(['f.bin']);
  });

  it('put survives a cut at each of many points and ends verified', async () => {
    const { s, proxy, target } = await setUp({ allowUpload: true }, (i) =>
      i < CUTS.length ? { cutAfter: CUTS[i], direction: 'up' } : {},
    );
    const src = await tempDir();
    const data = await writeRandomFile(path.join(src, 'f.bin'), SIZE, 22);
    const result = await putFile(target, path.join(src, 'f.bin'), 'f.bin', { retries: CUTS.length, backoffMs: 1 });
    expect(result.digest).toBe(blake3Hex(data));
    expect((await fsp.readFile(path.join(s.root, 'f.bin'))).equals(data)).toBe(true);
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(proxy.bytesUp).toBeLessThan(SIZE * 1.1);
    expect(await fsp.readdir(s.root)).toEqual(['f.bin']);
  });

  it('a reset (RST) mid-body is retried like a clean cut', async () => {
    const { s, target } = await setUp({}, (i) => (i === 0 ? { cutAfter: 300_000, reset: true } : {}));
    const data = await writeRandomFile(path.join(s.root, 'f.bin'), 1_000_000, 23);
    const out = await tempDir();
    const result = await getFile(target, 'f.bin', path.join(out, 'f.bin'), { retries: 2, backoffMs: 1 });
    expect(result.digest).toBe(blake3Hex(data));
  });

  it('a stalled connection times out and the retry resumes', async () => {
    const { s, target } = await setUp({}, (i) => (i === 0 ? { cutAfter: 1_000_000, stall: true } : {}));
    const data = await writeRandomFile(path.join(s.root, 'f.bin'), 3_000_000, 24);
    const out = await tempDir();
    const started = Date.now();
    const result = await getFile(target, 'f.bin', path.join(out, 'f.bin'), { retries: 2, backoffMs: 1, idleTimeoutMs: 300 });
    expect(result.digest).toBe(blake3Hex(data));
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('when retries run out, the part stays and the final name never appears; the next run finishes', async () => {
    const { s, target } = await setUp({}, (i) => (i < 2 ? { cutAfter: 500_000 + i * 100_000 } : {}));
    const data = await writeRandomFile(path.join(s.root, 'f.bin'), 2_000_000, 25);
    const out = await tempDir();
    const dest = path.join(out, 'f.bin');
    await expect(getFile(target, 'f.bin', dest, { retries: 0 })).rejects.toMatchObject({ code: expect.stringMatching(/CONNECTION_LOST|UNEXPECTED_EOF/) });
    expect(await fsp.readdir(out)).toEqual(['.f.bin.tcpsend-part']);
    await expect(getFile(target, 'f.bin', dest, { retries: 0 })).rejects.toBeDefined();
    const done = await getFile(target, 'f.bin', dest, { retries: 0 });
    expect(done.resumedFrom).toBeGreaterThan(500_000);
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
  });

  it('a file that changes on the server during a get is never saved under its name', async () => {
    const { s, target } = await setUp({}, (i) => (i === 0 ? { cutAfter: 1_000_000, pauseMs: 300 } : {}));
    const file = path.join(s.root, 'moving.bin');
    await writeRandomFile(file, 24_000_000, 26); // more than the socket buffers hold
    const out = await tempDir();
    const pending = getFile(target, 'moving.bin', path.join(out, 'moving.bin'), { retries: 0 });
    // The proxy holds the body back after 1 MB; the file changes meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    await fsp.appendFile(file, 'more bytes');
    await expect(pending).rejects.toMatchObject({ code: 'TCPSEND_ERR_CHANGED' });
    expect(await fsp.readdir(out)).toEqual([]); // neither the final name nor an untrusted part
  });

  it('a local file that changes during a put is never stored under its name', async () => {
    const { s, target } = await setUp({ allowUpload: true }, (i) =>
      i === 0 ? { cutAfter: 1_000_000, direction: 'up', pauseMs: 300 } : {},
    );
    const src = await tempDir();
    const file = path.join(src, 'moving.bin');
    await writeRandomFile(file, 24_000_000, 27); // more than the socket buffers hold
    const pending = putFile(target, file, 'moving.bin', { retries: 0 });
    // The proxy holds the body back after 1 MB; the file changes meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    await fsp.appendFile(file, 'more bytes');
    await expect(pending).rejects.toMatchObject({ code: 'TCPSEND_ERR_CHANGED' });
    expect((await fsp.readdir(s.root)).filter((n) => !n.endsWith('.tcpsend-part'))).toEqual([]);
  });
});
