/**
 * The single executable (`npm run build:exe` -> dist/tcpsend): copied alone into a folder of
 * its own, as onto a machine without Node, and run there with an empty PATH, it serves, lists,
 * gets and puts, every byte verified.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  PACKAGE_VERSION,
  randomBytesFrom,
  removeTemps,
  REPO,
  runCli,
  sha256,
  startServe,
  stopAllCli,
  tempDir,
  type RunResult,
} from '../helpers/cli.js';
import { npm } from './npm.js';

const BUILT = path.join(REPO, 'dist', 'tcpsend');
/** Nothing to find on PATH: no node, no shell tools. */
const NO_PATH = { PATH: '' };
let executable: string;

/** `node scripts/build-exe.js`, what `npm run build:exe` runs after `npm run build` (npm test built dist/). */
const buildExecutable = (): Promise<RunResult> =>
  runCli([path.join(REPO, 'scripts', 'build-exe.js')], { cwd: REPO, program: process.execPath, timeoutMs: 150_000 });

let build: RunResult;
beforeAll(async () => {
  assertBuilt();
  build = await buildExecutable();
  if (build.code !== 0) throw new Error(`scripts/build-exe.js failed:\n${build.stdout}${build.stderr}`);
  // The other machine: a folder with the one file in it, no node_modules above it.
  const elsewhere = await tempDir('tcpsend-exe-');
  executable = path.join(elsewhere, 'tcpsend');
  await fsp.copyFile(BUILT, executable);
  await fsp.chmod(executable, 0o755);
}, 180_000);
afterAll(async () => {
  await stopAllCli();
  await removeTemps();
});

const exe = (args: string[], cwd: string): Promise<RunResult> => runCli(args, { cwd, program: executable, env: NO_PATH, timeoutMs: 30_000 });

describe('npm run build:exe', () => {
  it('writes dist/tcpsend, one executable file, and says so in one line', async () => {
    expect(build.stderr).toBe('');
    expect(build.stdout).toMatch(/^built dist\/tcpsend \(\d+\.\d MiB\) in \d+\.\d s\n$/);
    const stat = await fsp.stat(BUILT);
    expect(stat.isFile()).toBe(true);
    expect(stat.mode & 0o111).toBe(0o111);
  });

  it('leaves dist/tcpsend and its work folder out of the npm package', async () => {
    const listed = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO);
    expect(listed.code, listed.stderr).toBe(0);
    const files = (JSON.parse(listed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/tcpsend-cli.cjs');
    expect(files.filter((f) => f === 'dist/tcpsend' || f.startsWith('dist/sea/'))).toEqual([]);
  });
});

describe('the single executable, alone and with an empty PATH', () => {
  it('prints the version it was built from', async () => {
    const r = await exe(['--version'], await tempDir());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${PACKAGE_VERSION}\n`);
  });

  it('prints help, and usage errors in English whatever LANG says', async () => {
    const cwd = await tempDir();
    const help = await exe(['get', '--help'], cwd);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^tcpsend get <target> <remote> \[local\]/);
    const r = await runCli(['get', '127.0.0.1:1', 'x', '--bogus'], { cwd, program: executable, env: { ...NO_PATH, LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("tcpsend: Unknown argument: bogus\nTry 'tcpsend get --help'.\n");
  });

  it('serves, lists, gets and puts against itself, every byte verified', async () => {
    const served = await tempDir('tcpsend-exe-served-');
    const client = await tempDir('tcpsend-exe-client-');
    const small = randomBytesFrom(11, 100_000);
    // Over the size from which a transfer hashes on a worker thread (8 MiB).
    const large = randomBytesFrom(12, 9 * 1024 * 1024);
    const upload = randomBytesFrom(13, 10 * 1024 * 1024);
    await fsp.writeFile(path.join(served, 'small.bin'), small);
    await fsp.writeFile(path.join(served, 'large.bin'), large);
    await fsp.writeFile(path.join(client, 'upload.bin'), upload);

    const server = await startServe(served, { program: executable, env: NO_PATH, args: ['--allow-upload'] });

    const ls = await exe(['ls', server.target], client);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['large.bin', 'small.bin']);

    for (const [name, body] of [['small.bin', small], ['large.bin', large]] as const) {
      const got = await exe(['get', server.target, name, '--quiet'], client);
      expect(got.code, got.stderr).toBe(0);
      expect(sha256(await fsp.readFile(path.join(client, name)))).toBe(sha256(body));
    }

    const put = await exe(['put', 'upload.bin', server.target, '--quiet'], client);
    expect(put.code, put.stderr).toBe(0);
    expect(sha256(await fsp.readFile(path.join(served, 'upload.bin')))).toBe(sha256(upload));
    expect(fs.readdirSync(served).sort()).toEqual(['large.bin', 'small.bin', 'upload.bin']);

    const stopped = await server.stop();
    expect(stopped.code, server.stderr).toBe(0);
  });
});
