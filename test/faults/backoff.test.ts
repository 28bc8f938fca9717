/**
 * The retry backoff over a flaky link: it spares a server that cannot be reached (it doubles
 * with each failure in a row), but a new connection that got through starts it again, so a
 * transfer cut many times does not wait longer and longer after each of its later cuts.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile } from '../../src/client/index.js';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../helpers/fault-proxy.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setUp(plan: (i: number) => FaultPlan): Promise<{ s: TestServer; proxy: FaultProxy; out: string }> {
  const s = await startServer();
  const proxy = await startFaultProxy(s.port, plan);
  const out = await tempDir('tcpsend-faults-backoff-');
  cleanup.push(
    () => s.close(),
    () => proxy.close(),
    () => fsp.rm(s.root, { recursive: true, force: true }),
    () => fsp.rm(out, { recursive: true, force: true }),
  );
  await writeRandomFile(path.join(s.root, 'f.bin'), 2 * 1024 * 1024, 31);
  return { s, proxy, out };
}

/** Jitter is ±25%. */
const around = (ms: number) => [ms * 0.75, ms * 1.25] as const;

describe('retry backoff', () => {
  it('starts again from backoffMs after each connection that got through', async () => {
    const CUTS = 6;
    const { proxy, out } = await setUp((i) => (i < CUTS ? { cutAfter: 150_000, direction: 'down' } : {}));
    const delays: number[] = [];
    const result = await getFile(`127.0.0.1:${proxy.port}`, 'f.bin', path.join(out, 'f.bin'), {
      retries: CUTS,
      backoffMs: 40,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(delays).toHaveLength(CUTS);
    // Before: 40, 80, 160, 320, 640, 1280 ms: the sixth cut waited 32 times the first.
    const [low, high] = around(40);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(low);
      expect(d).toBeLessThanOrEqual(high);
    }
  });

  it('doubles with each failure in a row while the server cannot be reached', async () => {
    const { proxy, out } = await setUp((i) => (i === 0 ? { cutAfter: 300_000, direction: 'down' } : {}));
    const delays: number[] = [];
    const attempt = getFile(`127.0.0.1:${proxy.port}`, 'f.bin', path.join(out, 'f.bin'), {
      retries: 3,
      backoffMs: 20,
      onRetry: ({ delayMs }) => {
        delays.push(delayMs);
        void proxy.close(); // from now on nothing listens there
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'TCPSEND_ERR_CONNECTION_REFUSED' });
    expect(delays).toHaveLength(3);
    delays.forEach((d, i) => {
      const [low, high] = around(20 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(low);
      expect(d).toBeLessThanOrEqual(high);
    });
    // The part from the first connection stays for a later run.
    expect(await fsp.readdir(out)).toEqual(['.f.bin.tcpsend-part']);
  });
});
