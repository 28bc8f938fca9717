/** The folder itself keeps its mode and mtime on put; serve stops at once on SIGTERM. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { assertBuilt, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

it('put DIR keeps the mode and mtime of DIR itself', async () => {
  const root = await tempDir('tcpsend-cli-root-');
  const serve = await startServe(root, { args: ['--allow-upload'] });
  const cwd = await tempDir();
  await fsp.mkdir(path.join(cwd, 'private/inner'), { recursive: true });
  await fsp.writeFile(path.join(cwd, 'private/inner/key.txt'), 'k');
  const when = new Date('2015-01-01T00:00:00Z');
  await fsp.chmod(path.join(cwd, 'private'), 0o700);
  await fsp.utimes(path.join(cwd, 'private'), when, when);
  const r = await runCli(['put', 'private', serve.target], { cwd });
  expect(r.code, r.stderr).toBe(0);
  const st = await fsp.stat(path.join(root, 'private'));
  expect((st.mode & 0o777).toString(8)).toBe('700');
  expect(st.mtime.toISOString()).toBe(when.toISOString());
});

it('serve exits at once on SIGTERM right after serving a client', async () => {
  const root = await tempDir('tcpsend-cli-root-');
  await fsp.writeFile(path.join(root, 'notes.txt'), 'hello\n');
  const serve = await startServe(root);
  expect((await runCli(['ls', serve.target], { cwd: root })).code).toBe(0);
  const stopped = await serve.stop();
  expect(stopped.code).toBe(0);
  expect(stopped.ms).toBeLessThan(500);
});
