/**
 * `-` and other streams (issue 15.8; issue 14.10 and 14.13): put - NAME reads standard input,
 * get ... - writes standard output, pipes and FIFOs are read to their end, devices are
 * refused, an empty stream is never reported as a success, and a FIFO no one writes to does
 * not make put ignore SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, cliEnv, oneLineError, randomBytesFrom, removeTemps, runCli, sha256, startServe, stopAllCli, tempDir } from '../helpers/cli.js';
import { blake3Hex } from '../helpers/digests.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

interface Piped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** `tcpsend ARGS` with `input` on its standard input (closed at once when null). */
function piped(args: string[], cwd: string, input: Buffer | null, env: Record<string, string> = {}): Promise<Piped> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => {});
  child.stdin.end(input ?? undefined);
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr })));
}

async function served() {
  const root = await tempDir('tcpsend-cli-root-');
  const serve = await startServe(root, { args: ['--allow-upload'] });
  return { root, serve, cwd: await tempDir() };
}

describe('put - NAME HOST:PORT', () => {
  it('sends standard input as NAME, verified; the same bytes come back with get ... -', async () => {
    const { root, serve, cwd } = await served();
    const data = randomBytesFrom(21, 3 * 1024 * 1024 + 7);
    const tmp = await tempDir('tcpsend-cli-tmp-');
    const put = await piped(['put', '-', 'backup.tar', serve.target, '--to', 'in'], cwd, data, { TMPDIR: tmp });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toMatch(new RegExp(`^✓ in/backup\\.tar: 3\\.00 MiB, .*blake3 ${blake3Hex(data).slice(0, 16)}… verified\\n$`));
    expect((await fsp.readFile(path.join(root, 'in/backup.tar'))).equals(data)).toBe(true);

    const got = await piped(['get', serve.target, 'in/backup.tar', '-'], cwd, null, { TMPDIR: tmp });
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout.equals(data)).toBe(true);
    expect(got.stderr).toMatch(/^✓ backup\.tar \(to standard output\): 3\.00 MiB, .*verified\n$/);
    expect(await fsp.readdir(cwd)).toEqual([]); // nothing left behind here
    expect(await fsp.readdir(tmp)).toEqual([]); // nor in $TMPDIR
  });

  it('an empty standard input is refused, not reported as a sent file', async () => {
    const { root, serve, cwd } = await served();
    const r = await piped(['put', '-', 'empty.txt', serve.target], cwd, Buffer.alloc(0));
    expect(r.code).toBe(1);
    expect(oneLineError(r.stderr)).toMatch(/nothing came from standard input/);
    expect(await fsp.readdir(root)).toEqual([]);
  });

  it("'-' without a name, and '-' with --json on get: usage errors", async () => {
    const { serve, cwd } = await served();
    const noName = await piped(['put', '-', serve.target], cwd, Buffer.from('x'));
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/put - NAME HOST:PORT/);
    const json = await piped(['get', serve.target, 'x', '-', '--json'], cwd, null);
    expect(json.code).toBe(2);
    expect(json.stderr).toMatch(/--json/);
  });
});

describe('pipes, FIFOs and devices', () => {
  it('/dev/stdin fed by a pipe is sent with its content, not as an empty file', async () => {
    const { root, serve, cwd } = await served();
    const r = await piped(['put', '/dev/stdin', serve.target], cwd, Buffer.from('data from a pipe\n'));
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(root, 'stdin'), 'utf8')).toBe('data from a pipe\n');
  });

  it('a FIFO is read to its end once something writes into it', async () => {
    const { root, serve, cwd } = await served();
    const fifo = path.join(cwd, 'feed');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const put = runCli(['put', 'feed', serve.target], { cwd });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await fsp.writeFile(fifo, 'through the fifo\n');
    const r = await put;
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(root, 'feed'), 'utf8')).toBe('through the fifo\n');
  });

  it('a FIFO no one writes to: put says it waits, and SIGTERM stops it at once with 130', async () => {
    const { root, serve, cwd } = await served();
    expect(spawnSync('mkfifo', [path.join(cwd, 'never')]).status).toBe(0);
    const child = spawn(process.execPath, [BIN, 'put', 'never', serve.target], { cwd, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 10_000;
    while (!stderr.includes('waiting for something to write') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/waiting for something to write into 'never'/);
    const killedAt = Date.now();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    const result = await exited;
    clearTimeout(timer);
    expect(result).toEqual({ code: 130, signal: null });
    expect(Date.now() - killedAt).toBeLessThan(3_000);
    expect(stderr.match(/interrupted/g)).toHaveLength(1);
    expect(await fsp.readdir(root)).toEqual([]);
  });

  it('/dev/zero is refused with how to pipe it, and nothing is sent', async () => {
    const { root, serve, cwd } = await served();
    const r = await runCli(['put', '/dev/zero', serve.target], { cwd, timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(oneLineError(r.stderr)).toMatch(/'\/dev\/zero' is a device, not a file: .*\| tcpsend put - NAME HOST:PORT/);
    expect(await fsp.readdir(root)).toEqual([]);
  });
});
