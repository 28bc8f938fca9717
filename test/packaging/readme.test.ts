/**
 * The README's library snippet ("As a library"), run as it is written: a user who pastes it
 * into a file gets the file, the checksum printed, and a process that exits.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytesFrom, removeTemps, REPO, tempDir } from '../helpers/cli.js';
import { blake3Hex } from '../helpers/digests.js';

afterAll(removeTemps);

/** The first ```js block after `heading` in README.md. */
function snippetAfter(heading: string): string {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error(`no js block after '${heading}' in README.md`);
  return match[1]!;
}

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first (`npm test` does)');
});

describe("README's library snippet", () => {
  it('fetches notes.txt from the server it starts, prints its checksum, digest and size, and exits', async () => {
    const dir = await tempDir('tcpsend-readme-');
    const notes = randomBytesFrom(21, 50_000);
    await fsp.mkdir(path.join(dir, 'share'));
    await fsp.writeFile(path.join(dir, 'share', 'notes.txt'), notes);
    // `import ... from 'tcpsend'` finds this clone, as it finds an installed package.
    await fsp.mkdir(path.join(dir, 'node_modules'));
    await fsp.symlink(REPO, path.join(dir, 'node_modules', 'tcpsend'));
    await fsp.writeFile(path.join(dir, 'snippet.mjs'), snippetAfter('## As a library'));

    const child = spawn(process.execPath, ['snippet.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    // Had the snippet left its server open, the process would still be running here.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);

    expect({ code, signal }, out).toEqual({ code: 0, signal: null });
    expect(out).toBe(`blake3 ${blake3Hex(notes)} ${notes.length}\n`);
    expect(await fsp.readFile(path.join(dir, 'notes.txt'))).toEqual(notes);
  });
});
