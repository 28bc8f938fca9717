/**
 * Retries that outlast a server restart (issue 11, item 9): exponential backoff with jitter,
 * about 30 s in all by default; `reconnecting (2/8) in 4 s` on each retry; a refusal is never
 * retried; after giving up, the partial file is kept and the message says how to resume.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/index.js';
import { backoffDelay, DEFAULT_RETRIES, MAX_BACKOFF_MS } from '../../src/client/retry.js';
import { TcpsendServer } from '../../src/server/server.js';
import { assertBuilt, runCli, stopAllCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startServer, tempDir, writeRandomFile } from '../helpers/server.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await stopAllCli();
});
beforeAll(() => assertBuilt());

describe('the default schedule', () => {
  const schedule = (random: () => number) => Array.from({ length: DEFAULT_RETRIES }, (_, i) => backoffDelay(i, undefined, random));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

  it('doubles from 250 ms to a cap of 8 s, about 30 s in all', () => {
    expect(schedule(() => 0.5)).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(MAX_BACKOFF_MS).toBe(8000);
    expect(sum(schedule(() => 0.5))).toBe(31_750);
  });

  it('with the unluckiest jitter the retries still reach past 10 s (a restart) and stay under a minute', () => {
    const early = schedule(() => 0); // every wait 25% short
    const late = schedule(() => 0.999_999);
    expect(sum(early)).toBeGreaterThan(20_000);
    expect(sum(early.slice(0, 6))).toBeGreaterThan(10_000); // a later retry comes after 10 s
    expect(sum(late)).toBeLessThan(40_000);
  });
});

describe('a real server stopped mid-transfer and restarted on the same port', () => {
  it('the default retries outlast a 9 s restart and the download resumes', async () => {
    const root = await tempDir('tcpsend-restart-root-');
    const out = await tempDir('tcpsend-restart-out-');
    cleanup.push(() => fsp.rm(root, { recursive: true, force: true }), () => fsp.rm(out, { recursive: true, force: true }));
    const data = await writeRandomFile(path.join(root, 'big.bin'), 48 * 1024 * 1024, 9);
    const first = await TcpsendServer.create({ root });
    const { port } = await first.listen({ port: 0, host: '127.0.0.1' });
    let second: TcpsendServer | null = null;
    cleanup.push(async () => {
      await first.close(0);
      await second?.close(0);
    });
    let stopped = false;
    const retries: { attempt: number; retries: number; code: string; delayMs: number }[] = [];
    const started = Date.now();
    const result = await getFile(`127.0.0.1:${port}`, 'big.bin', path.join(out, 'big.bin'), {
      onProgress: (done) => {
        if (stopped || done < 4 * 1024 * 1024) return;
        stopped = true;
        void first.close(0); // cut now, mid-transfer
        setTimeout(() => {
          void (async () => {
            second = await TcpsendServer.create({ root });
            await second.listen({ port, host: '127.0.0.1' });
          })();
        }, 9000);
      },
      onRetry: ({ attempt, retries: of, error, delayMs }) => retries.push({ attempt, retries: of, code: error.code, delayMs }),
    });
    expect(stopped).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(9000);
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(Buffer.compare(await fsp.readFile(path.join(out, 'big.bin')), data)).toBe(0);
    // Nothing listened for 9 s: several retries, each told "n of 8".
    expect(retries.length).toBeGreaterThanOrEqual(5);
    expect(retries.length).toBeLessThanOrEqual(DEFAULT_RETRIES);
    expect(retries.every((r, i) => r.attempt === i + 1 && r.retries === DEFAULT_RETRIES)).toBe(true);
    expect(retries.slice(1).some((r) => r.code === 'TCPSEND_ERR_CONNECTION_REFUSED')).toBe(true);
  }, 40_000);
});

describe('refusals are never retried', () => {
  it('an upload to a read-only server fails at once, without a retry', async () => {
    const s = await startServer();
    cleanup.push(() => s.close());
    const dir = await tempDir();
    await fsp.writeFile(path.join(dir, 'a.txt'), 'a');
    let retried = 0;
    await expect(putFile(s.target, path.join(dir, 'a.txt'), 'a.txt', { onRetry: () => retried++ })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_READ_ONLY',
    });
    expect(retried).toBe(0);
  });

  it('a wrong secret fails at once, without a retry', async () => {
    const s = await startServer({ secret: 'the server secret, twenty+ chars' });
    cleanup.push(() => s.close());
    let retried = 0;
    await expect(
      getFile(s.target, 'x', path.join(await tempDir(), 'x'), { secret: 'some other secret entirely', onRetry: () => retried++ }),
    ).rejects.toMatchObject({ code: 'TCPSEND_ERR_AUTH' });
    expect(retried).toBe(0);
  });
});

describe('the CLI', () => {
  it('says "reconnecting (n/N) in T s", and after giving up that the partial file is kept and how to resume', async () => {
    const s = await startServer();
    cleanup.push(() => s.close());
    await writeRandomFile(path.join(s.root, 'f.bin'), 4 * 1024 * 1024, 3);
    // The first connection is cut mid-body; every later one right after the greeting began.
    const proxy = await startFaultProxy(s.port, (i) => (i === 0 ? { cutAfter: 600_000, direction: 'down' } : { cutAfter: 1, direction: 'down' }));
    cleanup.push(() => proxy.close());
    const cwd = await tempDir();
    const r = await runCli(['get', `127.0.0.1:${proxy.port}`, 'f.bin', '--retries', '2'], { cwd });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/reconnecting \(1\/2\) in 0\.\d s/);
    expect(r.stderr).toMatch(/reconnecting \(2\/2\) in 0\.\d s/);
    expect(r.stderr).toMatch(
      new RegExp(`gave up after 2 retries: partial files are kept; run the same command again to resume \\(tcpsend get 127\\.0\\.0\\.1:${proxy.port} f\\.bin\\)`),
    );
    expect((await fsp.readdir(cwd)).some((n) => n.endsWith('tcpsend-part'))).toBe(true);
  });
});
