/**
 * tcpsend as a command people install (README, "Install"): `npm install -g` of the clone, and
 * of the tarball `npm pack` makes, each into a fresh prefix; then the installed `tcpsend`
 * answers --version and fetches a file from a loopback server.
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
  type ServeProcess,
} from '../helpers/cli.js';
import { npm } from './npm.js';

let served: string;
let server: ServeProcess;
const body = randomBytesFrom(7, 300_000);

beforeAll(async () => {
  assertBuilt();
  served = await tempDir('tcpsend-install-served-');
  await fsp.writeFile(path.join(served, 'notes.bin'), body);
  server = await startServe(served);
});
afterAll(async () => {
  await stopAllCli();
  await removeTemps();
});

/** The installed command answers --version and gets a file, from a folder outside the clone. */
async function expectWorkingCommand(command: string): Promise<void> {
  const cwd = await tempDir('tcpsend-install-cwd-');
  const version = await runCli(['--version'], { cwd, program: command });
  expect(version.code, version.stderr).toBe(0);
  expect(version.stdout).toBe(`${PACKAGE_VERSION}\n`);

  const got = await runCli(['get', server.target, 'notes.bin', 'copy.bin', '--quiet'], { cwd, program: command });
  expect(got.code, got.stderr).toBe(0);
  expect(sha256(await fsp.readFile(path.join(cwd, 'copy.bin')))).toBe(sha256(body));
}

describe('npm install -g', () => {
  it('of the clone: a tcpsend command linked to the clone, installed without a warning', async () => {
    const prefix = await tempDir('tcpsend-prefix-');
    const install = await npm(['install', '-g', '--prefix', prefix, '.'], REPO);
    expect(install.code, install.stderr).toBe(0);
    // npm 11 warns of install scripts it skipped; the package has none to skip.
    expect(install.stdout + install.stderr).not.toMatch(/warn/i);

    const command = path.join(prefix, 'bin', 'tcpsend');
    expect(fs.realpathSync(command)).toBe(path.join(fs.realpathSync(REPO), 'bin', 'tcpsend.js'));
    await expectWorkingCommand(command);
  });

  it("of npm pack's tarball: a copy of its own, with its dependencies, installed without a warning", async () => {
    const packed = await tempDir('tcpsend-pack-');
    // --ignore-scripts: `npm pack` would build dist/ again first (prepack), under the feet of
    // the test files running beside this one; `npm test` has just built it.
    const pack = await npm(['pack', '--ignore-scripts', '--pack-destination', packed], REPO);
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = path.join(packed, `tcpsend-${PACKAGE_VERSION}.tgz`);
    expect(fs.existsSync(tarball), pack.stdout + pack.stderr).toBe(true);

    const prefix = await tempDir('tcpsend-prefix-');
    const install = await npm(['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], packed);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout + install.stderr).not.toMatch(/warn/i);

    const command = path.join(prefix, 'bin', 'tcpsend');
    const installed = path.join(fs.realpathSync(prefix), 'lib', 'node_modules', 'tcpsend');
    expect(fs.realpathSync(command)).toBe(path.join(installed, 'bin', 'tcpsend.js'));
    expect(fs.existsSync(path.join(installed, 'node_modules', 'yargs', 'package.json'))).toBe(true);
    await expectWorkingCommand(command);
  });
});
