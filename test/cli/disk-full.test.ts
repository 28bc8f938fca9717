/**
 * Issue 14.12: a full disk on the client. The client runs in a mount namespace of its own
 * (`unshare -rm`: a user and a mount namespace, no privilege needed) where its folder is a
 * 4 MiB tmpfs, so the disk really fills up, in the large-file path (a worker writes), on
 * resume, and in a folder get. Before the fix the first crashed with a stack trace
 * ("Unhandled 'error' event") and the others retried a full disk three times.
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, cliEnv, randomBytesFrom, removeTemps, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

interface Run {
  code: number | null;
  stderr: string;
  /** `ls -a` of the small disk after the command. */
  listing: string[];
}

/** Run `tcpsend ARGS...` each in turn, in a fresh 4 MiB tmpfs at `dir`, all in one namespace. */
function onSmallDisk(dir: string, runs: string[][]): Promise<Run[]> {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const script = [
    `mount -t tmpfs -o size=4m none ${quote(dir)}`,
    `cd ${quote(dir)}`,
    ...runs.map(
      (args) =>
        `${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')} 2>&1; echo "@@exit $?"; ls -a; echo "@@end"`,
    ),
  ].join('\n');
  const child = spawn('unshare', ['-rm', 'sh', '-c', script], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      const parts = out.split('@@end\n').filter((p) => p.includes('@@exit'));
      if (parts.length !== runs.length) return reject(new Error(`unshare exited ${code}:\n${out}`));
      resolve(
        parts.map((p) => {
          const m = /@@exit (\d+)\n([\s\S]*)$/.exec(p)!;
          return { code: Number(m[1]), stderr: p.slice(0, m.index), listing: m[2]!.split('\n').filter((l) => l && l !== '.' && l !== '..') };
        }),
      );
    }),
  );
}

function expectClearDiskFull(r: Run): void {
  expect(r.code, r.stderr).toBe(4);
  expect(r.stderr).not.toMatch(/Unhandled|^\s+at |node:events|ENOSPC/m);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines.at(-1)).toMatch(/^tcpsend: .*the disk is full.*run the same command again/);
  expect(r.stderr).not.toMatch(/retry \d/); // a full disk is not a reason to try again
}

describe('a full disk on the client', () => {
  it('a large get: one clear line, exit 4, the part kept; again on resume', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(41, 12 * 1024 * 1024));
    const serve = await startServe(root);
    const disk = await tempDir('tcpsend-cli-disk-');
    const [first, second] = await onSmallDisk(disk, [
      ['get', serve.target, 'big.bin'],
      ['get', serve.target, 'big.bin'],
    ]);
    expectClearDiskFull(first!);
    expect(first!.stderr).toMatch(/kept in '\.big\.bin\.tcpsend-part'/);
    expect(first!.listing).toEqual(['.big.bin.tcpsend-part']);
    expectClearDiskFull(second!);
    expect(second!.stderr).toMatch(/resuming big\.bin from/);
    expect(second!.listing).toEqual(['.big.bin.tcpsend-part']);
  });

  it('a folder get: each file that does not fit says so, no crash, exit 4', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await fsp.mkdir(path.join(root, 'album'));
    await fsp.writeFile(path.join(root, 'album/a.bin'), randomBytesFrom(42, 3 * 1024 * 1024));
    await fsp.writeFile(path.join(root, 'album/b.bin'), randomBytesFrom(43, 3 * 1024 * 1024));
    const serve = await startServe(root);
    const disk = await tempDir('tcpsend-cli-disk-');
    const [r] = await onSmallDisk(disk, [['get', serve.target, 'album', '--retries', '0']]);
    expect(r!.code, r!.stderr).toBe(4);
    expect(r!.stderr).not.toMatch(/Unhandled|^\s+at |node:events/m);
    expect(r!.stderr).toMatch(/^tcpsend: album\/[ab]\.bin: the disk is full|^tcpsend: [ab]\.bin: the disk is full/m);
  });
});
