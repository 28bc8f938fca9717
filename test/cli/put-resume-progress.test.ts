/**
 * The progress display of a resumed put (issue 15, item 2; gap 15-b): the percentage and the
 * bytes both count the whole file, the part already on the server included, never one
 * measure beside the other. test/cli/transfer.test.ts checks the same for a resumed get.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, FAKE_TTY_STDERR, randomBytesFrom, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';
import { partNameFor } from '../../src/files/part-name.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

const BIG = 8 * 1024 * 1024 + 5;
const HELD = 4 * 1024 * 1024;

describe('progress bars of a resumed put', () => {
  it('the server\'s part is checked first, then one measure: percentage and bytes both of the whole file', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const data = randomBytesFrom(15, BIG);
    // The first 4 MiB are on the server already, from an upload that broke off.
    await fsp.writeFile(path.join(root, partNameFor('big.bin')), data.subarray(0, HELD));
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'big.bin'), data);
    // A hiccup 1 MiB into the body, longer than a few redraws: bars are drawn mid-transfer.
    const proxy = await startFaultProxy(serve.port, () => ({ direction: 'up', holdAfter: 1024 * 1024, holdMs: 1200 }));
    let r;
    try {
      r = await runCli(['put', 'big.bin', `127.0.0.1:${proxy.port}`], { cwd, env: { CI: undefined }, nodeArgs: FAKE_TTY_STDERR });
    } finally {
      await proxy.close();
    }
    expect(proxy.holds).toBe(1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/checking the 4\.00 MiB the server already has… \d+%/);
    expect(r.stderr).toContain('tcpsend: resuming big.bin from 4.00 MiB');
    // Every bar after the check: its percentage is the share of the file its bytes say, and
    // its bytes start at the resumed part, not at 0 (a bar of this run's bytes only would
    // read "0.00/8.00 MiB" beside 50%).
    const bars = [...r.stderr.matchAll(/(\d+)% [█░ ]*\s+([\d.]+)\/8\.00 MiB/g)];
    expect(bars.filter((m) => Number(m[2]) > 4).length, r.stderr).toBeGreaterThan(0);
    for (const m of bars) {
      expect(Math.abs(Number(m[1]) - (Number(m[2]) / 8) * 100), m[0]).toBeLessThan(2);
      expect(Number(m[2]), m[0]).toBeGreaterThanOrEqual(4);
    }
    expect(r.stderr).toMatch(/✓ big\.bin: 8\.00 MiB, resumed at 4\.00 MiB, .*verified\n$/);
    expect((await fsp.readFile(path.join(root, 'big.bin'))).equals(data)).toBe(true);
  });
});
