/**
 * Processes killed outright (SIGKILL: no handler runs, nothing is flushed or renamed) in the
 * middle of a 64 MiB transfer. What was written stays in the hidden partial file, never under
 * the final name, and the next run resumes from it and ends verified: the server restarted
 * on the same folder after it died mid-upload, and `tcpsend get` run again after it died
 * mid-download.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { putFile } from '../../src/client/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startServer, tempDir } from '../helpers/server.js';
import { BIG_SIZE, partOf, sameBytes, sha256File, sizeOrZero, writeBigRandomFile, type BigFile } from './big-file.js';
import { assertBuilt, killAll, runCli, serveChild, until } from './cli-child.js';

let big: BigFile;
let bigDir: string;
let cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  assertBuilt();
  bigDir = await tempDir('tcpsend-faults-src-');
  big = await writeBigRandomFile(path.join(bigDir, 'big.bin'));
});

afterAll(async () => {
  await fsp.rm(bigDir, { recursive: true, force: true });
});

afterEach(async () => {
  await killAll();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function scratch(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  cleanup.push(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('SIGKILL mid-transfer', () => {
  it('the server killed half-way through an upload: restarted on the same folder, the upload resumes', async () => {
    const root = await scratch('tcpsend-faults-inbox-');
    const first = await serveChild(root);
    let killedAt = -1;
    const cut = putFile(`127.0.0.1:${first.port}`, big.path, 'big.bin', {
      retries: 0,
      onProgress: (done, total) => {
        if (killedAt < 0 && done >= total / 2) {
          killedAt = done;
          first.child.kill('SIGKILL');
        }
      },
    });
    await expect(cut).rejects.toMatchObject({
      code: expect.stringMatching(/CONNECTION_LOST|TRANSFER_INTERRUPTED|STREAM_CLOSED|UNEXPECTED_EOF/),
    });
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(killedAt).toBeGreaterThanOrEqual(BIG_SIZE / 2);

    // Nothing under the final name; what arrived is in the hidden part beside it.
    expect(await fsp.readdir(root)).toEqual(['.big.bin.tcpsend-part']);
    const held = sizeOrZero(partOf(root, 'big.bin'));
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(killedAt);

    // A new server on the same folder (on a new port: the client is told where).
    const second = await serveChild(root);
    const result = await putFile(`127.0.0.1:${second.port}`, big.path, 'big.bin', { retries: 0 });
    expect(result.resumedFrom).toBe(held);
    expect(result.bytes).toBe(BIG_SIZE - held);
    expect(result.digest).toBe(big.blake3);
    const landed = path.join(root, 'big.bin');
    expect(await sha256File(landed)).toBe(big.sha256);
    expect(await sameBytes(landed, big.path)).toBe(true);
    expect(await fsp.readdir(root)).toEqual(['big.bin']);
  });

  it('`tcpsend get` killed half-way: run again, it resumes from its part and ends verified', async () => {
    const s = await startServer({ root: bigDir });
    cleanup.push(() => s.close());
    // The first connection stalls after half the file, so the client is surely mid-transfer
    // when it dies; the next one goes through.
    const proxy = await startFaultProxy(s.port, (i) => (i === 0 ? { cutAfter: BIG_SIZE / 2, direction: 'down', stall: true } : {}));
    cleanup.push(() => proxy.close());
    const out = await scratch('tcpsend-faults-get-');
    const args = ['get', `127.0.0.1:${proxy.port}`, 'big.bin', 'big.bin', '--json'];

    const first = runCli(args, out);
    const part = partOf(out, 'big.bin');
    await until(() => (sizeOrZero(part) >= BIG_SIZE / 2 - 64 * 1024 ? true : undefined), first, 20_000, 'half the file');
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.events().some((e) => e.event === 'file_done')).toBe(false);

    expect(await fsp.readdir(out)).toEqual(['.big.bin.tcpsend-part']); // no file under the final name
    const held = sizeOrZero(part);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(BIG_SIZE / 2);

    const second = runCli(args, out);
    expect(await second.exited, second.stderr).toEqual({ code: 0, signal: null });
    const done = second.events().find((e) => e.event === 'file_done');
    expect(done).toMatchObject({ status: 'sent', resumed_from: held, size: BIG_SIZE, bytes: BIG_SIZE - held, checksum: 'blake3', digest: big.blake3 });
    const dest = path.join(out, 'big.bin');
    expect(await sha256File(dest)).toBe(big.sha256);
    expect(await sameBytes(dest, big.path)).toBe(true);
    expect(await fsp.readdir(out)).toEqual(['big.bin']);
  });
});
