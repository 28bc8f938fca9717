/** openWalkedFile: the file a walk saw, or FileChangedError; never through a symlink, never stuck on a FIFO. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileChangedError } from '../../src/errors.js';
import { openWalkedFile } from '../../src/transfer/walked-file.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function walked(): Promise<{ dir: string; file: string; seen: fs.Stats }> {
  const dir = await tempDir('tcpsend-walked-');
  dirs.push(dir);
  const file = path.join(dir, 'f.txt');
  await fsp.writeFile(file, 'mine\n');
  return { dir, file, seen: await fsp.lstat(file) };
}

describe('openWalkedFile', () => {
  it('opens the file the walk saw', async () => {
    const { file, seen } = await walked();
    const handle = await openWalkedFile(file, seen);
    try {
      expect((await handle.readFile()).toString()).toBe('mine\n');
    } finally {
      await handle.close();
    }
  });

  it('another file put under the name since: FileChangedError, nothing opened', async () => {
    const { dir, file, seen } = await walked();
    await fsp.writeFile(path.join(dir, 'other'), 'theirs\n');
    await fsp.rename(path.join(dir, 'other'), file);
    await expect(openWalkedFile(file, seen)).rejects.toThrow(FileChangedError);
    await expect(openWalkedFile(file, seen)).rejects.toThrow(/was replaced after its folder was read/);
  });

  it('a symlink put under the name since, even to the very file seen: not followed', async () => {
    const { dir, file, seen } = await walked();
    await fsp.rename(file, path.join(dir, 'aside'));
    await fsp.symlink(path.join(dir, 'aside'), file);
    await expect(openWalkedFile(file, seen)).rejects.toThrow(/replaced by a symlink/);
  });

  it.skipIf(process.platform === 'win32')('a FIFO put under the name since: refused at once, no wait for a writer', async () => {
    const { file, seen } = await walked();
    await fsp.rm(file);
    execFileSync('mkfifo', [file]);
    await expect(openWalkedFile(file, seen)).rejects.toThrow(/not a regular file/);
  });
});
