/**
 * curl and wget against a live server, as a user runs them: list, download whole, ranged and
 * resumed, fetch a folder as a tar, and upload with `curl -T` and `curl -F`. Every byte is
 * checked against the file on the server.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let srv: TestServer;
let work: string;
let base: string;
const big = randomBytesFrom(21, 5 * 1024 * 1024 + 3);

beforeAll(async () => {
  srv = await startServer({ allowUpload: true });
  base = `http://127.0.0.1:${srv.port}`;
  work = await tempDir('tcpsend-clients-');
  await fsp.writeFile(path.join(srv.root, 'big.bin'), big);
  await fsp.mkdir(path.join(srv.root, 'docs'));
  await fsp.writeFile(path.join(srv.root, 'docs', 'a.txt'), 'A\n');
  await fsp.writeFile(path.join(srv.root, 'docs', 'b.txt'), 'B\n');
});
afterAll(async () => {
  await srv.close();
  await fsp.rm(work, { recursive: true, force: true });
});

const curl = (...args: string[]) => run('curl', ['-sS', '--fail', ...args], { cwd: work, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
const wget = (...args: string[]) => run('wget', ['-q', ...args], { cwd: work, encoding: 'buffer' });

describe('curl', () => {
  it('lists a folder', async () => {
    const { stdout } = await curl(`${base}/docs/`);
    expect(stdout.toString()).toContain('<a href="a.txt">');
  });

  it('downloads a file whole, verified', async () => {
    await curl('-o', 'whole.bin', `${base}/big.bin`);
    expect(sha256(await fsp.readFile(path.join(work, 'whole.bin')))).toBe(sha256(big));
  });

  it('downloads a range (-r)', async () => {
    const { stdout } = await curl('-r', '1000-1999', `${base}/big.bin`);
    expect(stdout.equals(big.subarray(1000, 2000))).toBe(true);
  });

  it('resumes a download (-C -) from what it holds, verified', async () => {
    await fsp.writeFile(path.join(work, 'resumed.bin'), big.subarray(0, 1_234_567));
    await curl('-C', '-', '-o', 'resumed.bin', `${base}/big.bin`);
    expect(sha256(await fsp.readFile(path.join(work, 'resumed.bin')))).toBe(sha256(big));
    expect(srv.log.some((e) => e.verb === 'HTTP GET' && e.note === '206 from 1234567' && e.bytes === big.length - 1_234_567)).toBe(true);
  });

  it('fetches a folder as a tar', async () => {
    const { stdout } = await curl(`${base}/docs/?tar`);
    await fsp.mkdir(path.join(work, 'untar'), { recursive: true });
    await fsp.writeFile(path.join(work, 'docs.tar'), stdout);
    await run('tar', ['-x', '-f', path.join(work, 'docs.tar'), '-C', path.join(work, 'untar')]);
    expect(await fsp.readFile(path.join(work, 'untar', 'a.txt'), 'utf8')).toBe('A\n');
    expect(await fsp.readFile(path.join(work, 'untar', 'b.txt'), 'utf8')).toBe('B\n');
  });

  it('uploads with -T FILE URL/ (PUT, the name appended), verified', async () => {
    const file = randomBytesFrom(22, 2 * 1024 * 1024);
    await fsp.writeFile(path.join(work, 'sent.bin'), file);
    const { stdout } = await curl('-T', 'sent.bin', `${base}/docs/`);
    expect(stdout.toString()).toBe(`stored docs/sent.bin: ${file.length} bytes, sha256 ${sha256(file)}\n`);
    expect(sha256(await fsp.readFile(path.join(srv.root, 'docs', 'sent.bin')))).toBe(sha256(file));
  });

  it('uploads a form with -F file=@FILE, verified', async () => {
    await fsp.writeFile(path.join(work, 'form.txt'), 'through the form\n');
    await curl('-F', 'file=@form.txt', `${base}/docs/`);
    expect(await fsp.readFile(path.join(srv.root, 'docs', 'form.txt'), 'utf8')).toBe('through the form\n');
  });

  it('--path-as-is with dots is refused (400), nothing read outside', async () => {
    const failed = await curl('--path-as-is', `${base}/../../../../etc/passwd`).catch((e: { code: number; stderr: Buffer }) => e);
    expect((failed as { code: number }).code).toBe(22); // --fail: HTTP error
    expect((failed as { stderr: Buffer }).stderr.toString()).toContain('400');
  });
});

describe('wget', () => {
  it('downloads a file whole, verified', async () => {
    await wget('-O', 'wget-whole.bin', `${base}/big.bin`);
    expect(sha256(await fsp.readFile(path.join(work, 'wget-whole.bin')))).toBe(sha256(big));
  });

  it('resumes a download (-c), verified', async () => {
    await fsp.writeFile(path.join(work, 'big.bin'), big.subarray(0, 3_000_000));
    await wget('-c', `${base}/big.bin`);
    expect(sha256(await fsp.readFile(path.join(work, 'big.bin')))).toBe(sha256(big));
  });

  it('downloads from an offset (--start-pos, a Range request), verified', async () => {
    const { stdout } = await run('wget', ['-q', '-O', '-', '--start-pos=4096', `${base}/big.bin`], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 20_000 });
    expect(stdout.equals(big.subarray(4096))).toBe(true);
  });

  it('uploads with --method=PUT --body-file, verified', async () => {
    const file = randomBytesFrom(23, 300_000);
    await fsp.writeFile(path.join(work, 'wget-up.bin'), file);
    await wget('-O', '-', '--method=PUT', '--body-file=wget-up.bin', `${base}/docs/wget-up.bin`);
    expect(sha256(await fsp.readFile(path.join(srv.root, 'docs', 'wget-up.bin')))).toBe(sha256(file));
  });

  it('mirrors a folder by following the page\'s links (-r)', async () => {
    await wget('-r', '-np', '-nH', '-P', 'mirror', `${base}/docs/`);
    expect(await fsp.readFile(path.join(work, 'mirror', 'docs', 'a.txt'), 'utf8')).toBe('A\n');
    expect(await fsp.readFile(path.join(work, 'mirror', 'docs', 'b.txt'), 'utf8')).toBe('B\n');
  });
});
