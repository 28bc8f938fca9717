/**
 * --checksum-choice on get, put and serve, and the fallback to SHA-256 where the native BLAKE3
 * module does not load (a platform without its binary, a single executable): silent, but said
 * under --verbose. NAPI_RS_NATIVE_LIBRARY_PATH pointing nowhere makes the module's own loader
 * fail as it would there.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ndjson, randomBytesFrom, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';
import { blake3Hex, sha256Hex } from '../helpers/digests.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

const NO_NATIVE = { NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/blake.node' };

async function served(args: string[] = [], env: Record<string, string> = {}) {
  const root = await tempDir('tcpsend-cli-root-');
  const data = randomBytesFrom(11, 200_000);
  await fsp.writeFile(path.join(root, 'a.bin'), data);
  const serve = await startServe(root, { args: ['--allow-upload', ...args], env });
  return { serve, root, data };
}

const fileDone = (stdout: string) => ndjson(stdout).find((e) => e.event === 'file_done');

describe('--checksum-choice', () => {
  it('BLAKE3 by default; get --checksum-choice sha256 and put --checksum-choice sha256 use SHA-256', async () => {
    const { serve, data } = await served();
    const cwd = await tempDir();
    const plain = await runCli(['get', serve.target, 'a.bin', '--json'], { cwd });
    expect(plain.code, plain.stderr).toBe(0);
    expect(fileDone(plain.stdout)).toMatchObject({ checksum: 'blake3', digest: blake3Hex(data) });
    const forced = await runCli(['get', serve.target, 'a.bin', 'b.bin', '--json', '--checksum-choice', 'sha256'], { cwd });
    expect(forced.code, forced.stderr).toBe(0);
    expect(fileDone(forced.stdout)).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
    const put = await runCli(['put', 'b.bin', serve.target, '--checksum-choice', 'sha256'], { cwd });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toContain(`sha256 ${sha256Hex(data).slice(0, 16)}… verified`);
  });

  it('serve --checksum-choice sha256 makes every client check with SHA-256', async () => {
    const { serve, data } = await served(['--checksum-choice', 'sha256']);
    const r = await runCli(['get', serve.target, 'a.bin', '--json'], { cwd: await tempDir() });
    expect(r.code, r.stderr).toBe(0);
    expect(fileDone(r.stdout)).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
  });

  it('a client forced to blake3 against a server forced to sha256 stops with a usage error', async () => {
    const { serve } = await served(['--checksum-choice', 'sha256']);
    const r = await runCli(['get', serve.target, 'a.bin', '--checksum-choice', 'blake3'], { cwd: await tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tcpsend: the server checks with sha256 only, and this side with blake3/);
  });

  it('refuses an algorithm it does not know', async () => {
    const r = await runCli(['get', '127.0.0.1:1', 'a.bin', '--checksum-choice', 'md5'], { cwd: await tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/checksum-choice/);
  });
});

describe('without the native BLAKE3 module', () => {
  it('falls back to SHA-256 on both ends; only --verbose says why', async () => {
    const { serve, data } = await served([], NO_NATIVE);
    const cwd = await tempDir();
    const quiet = await runCli(['get', serve.target, 'a.bin', '--json'], { cwd, env: NO_NATIVE });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(fileDone(quiet.stdout)).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
    expect(quiet.stdout).not.toMatch(/unavailable/);
    const verbose = await runCli(['get', serve.target, 'a.bin', 'b.bin', '--verbose'], { cwd, env: NO_NATIVE });
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stderr).toMatch(/^tcpsend: blake3 unavailable: the native BLAKE3 module did not load \(.*\); checking with sha256$/m);
    // A server that has BLAKE3 and a client that does not: SHA-256, the one they share.
    const { serve: full } = await served();
    const mixed = await runCli(['get', full.target, 'a.bin', 'c.bin', '--json'], { cwd, env: NO_NATIVE });
    expect(fileDone(mixed.stdout)).toMatchObject({ checksum: 'sha256' });
  });

  it('--checksum-choice blake3 there is a usage error saying why', async () => {
    const r = await runCli(['get', '127.0.0.1:1', 'a.bin', '--checksum-choice', 'blake3'], { cwd: await tempDir(), env: NO_NATIVE });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tcpsend: --checksum-choice blake3: the native BLAKE3 module did not load/);
  });
});
