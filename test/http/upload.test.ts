/**
 * Uploads over HTTP (--allow-upload): PUT, as `curl -T` sends it, and a browser's multipart
 * form. Both go through the PUT handler's own steps (storeStream): its checks, its partial
 * file and lock, its SHA-256, fsync and rename, and its overwrite rules.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/context.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange, statusLines } from './raw.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let up: TestServer;
let over: TestServer;
let readOnly: TestServer;

beforeAll(async () => {
  up = await startServer({ allowUpload: true, maxUploadBytes: 4 * 1024 * 1024 });
  over = await startServer({ allowUpload: true, allowOverwrite: true });
  readOnly = await startServer();
  await fsp.mkdir(path.join(up.root, 'inbox'));
});
afterAll(async () => {
  await up.close();
  await over.close();
  await readOnly.close();
});

const url = (s: TestServer, p: string) => `http://127.0.0.1:${s.port}${p}`;

/**
 * Until the upload lock on `name` is `held` (or not): the server's own state, rather than a
 * fixed wait that a loaded machine may not have reached it within.
 */
async function untilLock(s: TestServer, name: string, held: boolean): Promise<void> {
  const { uploadLocks } = (s.server as unknown as { ctx: ServerContext }).ctx;
  const deadline = Date.now() + 10_000;
  while (uploadLocks.isLocked(name) !== held) {
    if (Date.now() > deadline) throw new Error(`the lock on ${name} was not ${held ? 'taken' : 'released'} within 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Files under `dir`, partial ones included. */
async function namesIn(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

describe('PUT', () => {
  it('stores the body under its name: 201, the SHA-256 in the answer and as Repr-Digest', async () => {
    const body = randomBytesFrom(3, 1024 * 1024 + 5);
    const res = await fetch(url(up, '/inbox/new.bin'), { method: 'PUT', body });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe(`stored inbox/new.bin: ${body.length} bytes, sha256 ${sha256(body)}\n`);
    expect(res.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(sha256(body), 'hex').toString('base64')}:`);
    expect((await fsp.readFile(path.join(up.root, 'inbox', 'new.bin'))).equals(body)).toBe(true);
    expect(up.log.some((e) => e.verb === 'HTTP PUT' && e.path === '/inbox/new.bin' && e.bytes === body.length && e.result === 'OK')).toBe(true);
  });

  it('with chunked encoding (no length up front) too', async () => {
    const a = await exchange(up.port, ['PUT /inbox/chunked.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', '5\r\nhello\r\n', '7\r\n world\n\r\n', '0\r\n\r\n'], { gapMs: 20 });
    expect(statusLines(a.text)).toEqual(['HTTP/1.1 201 Created']);
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'chunked.txt'), 'utf8')).toBe('hello world\n');
  });

  it('creates the folders on the way, as a tcpsend PUT does', async () => {
    expect((await fetch(url(up, '/deep/er/file.txt'), { method: 'PUT', body: 'x' })).status).toBe(201);
    expect(await fsp.readFile(path.join(up.root, 'deep', 'er', 'file.txt'), 'utf8')).toBe('x');
  });

  it('follows the overwrite rules: 409 EXISTS without --allow-overwrite; replaces with it; If-None-Match: * never replaces', async () => {
    await fsp.writeFile(path.join(up.root, 'inbox', 'keep.txt'), 'original');
    const refused = await fetch(url(up, '/inbox/keep.txt'), { method: 'PUT', body: 'replacement' });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/^409 EXISTS: .*--allow-overwrite/);
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'keep.txt'), 'utf8')).toBe('original');

    await fsp.writeFile(path.join(over.root, 'keep.txt'), 'original');
    expect((await fetch(url(over, '/keep.txt'), { method: 'PUT', body: 'replacement' })).status).toBe(201);
    expect(await fsp.readFile(path.join(over.root, 'keep.txt'), 'utf8')).toBe('replacement');
    const careful = await fetch(url(over, '/keep.txt'), { method: 'PUT', body: 'again', headers: { 'If-None-Match': '*' } });
    expect(careful.status).toBe(409);
    expect(await fsp.readFile(path.join(over.root, 'keep.txt'), 'utf8')).toBe('replacement');
  });

  it('a folder at the name is 409; a name ending in / is 400', async () => {
    expect((await fetch(url(up, '/inbox'), { method: 'PUT', body: 'x' })).status).toBe(409);
    expect((await fetch(url(up, '/inbox/'), { method: 'PUT', body: 'x' })).status).toBe(400);
  });

  it('hidden names and partial files are refused as for tcpsend (403)', async () => {
    expect((await fetch(url(up, '/.env'), { method: 'PUT', body: 'x' })).status).toBe(403);
    expect((await fetch(url(up, '/inbox/.a.tcpsend-part'), { method: 'PUT', body: 'x' })).status).toBe(403);
  });

  it('a body cut short stores nothing under its name', async () => {
    const a = await exchange(up.port, ['PUT /inbox/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', Buffer.alloc(50_000, 7)], { halfClose: true, timeoutMs: 8000 });
    expect(a.text).not.toContain('201');
    await untilLock(up, 'inbox/cut.bin', false); // the upload is over
    expect(await namesIn(path.join(up.root, 'inbox'))).not.toContain('cut.bin');
  });

  it('a path another upload is writing is 409 BUSY, from the same lock a tcpsend PUT takes', async () => {
    // Hold the lock with a slow HTTP upload that keeps moving (a byte every 200 ms, so it is
    // never a quiet holder to be taken over), then try a second one.
    const bytes = 'abcdefghijklmnopqrstuvwxy'.split('');
    const slow = exchange(up.port, [`PUT /inbox/locked.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`, ...bytes], { gapMs: 200, timeoutMs: 15_000 });
    await untilLock(up, 'inbox/locked.bin', true);
    const second = await fetch(url(up, '/inbox/locked.bin'), { method: 'PUT', body: 'other' });
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/^409 BUSY: /);
    expect(statusLines((await slow).text)).toEqual(['HTTP/1.1 201 Created']);
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'locked.bin'), 'utf8')).toBe(bytes.join(''));
  }, 20_000);

  it('a read-only server answers 403', async () => {
    const res = await fetch(url(readOnly, '/x.txt'), { method: 'PUT', body: 'x' });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/^403 READ_ONLY: uploads are off/);
    expect(await namesIn(readOnly.root)).toEqual([]);
  });
});

describe('a form upload (multipart POST to a folder)', () => {
  it('stores every file of the form in that folder and lists each with its SHA-256', async () => {
    const a = randomBytesFrom(11, 200_000);
    const form = new FormData();
    form.append('file', new Blob([a]), 'a.bin');
    form.append('file', new Blob(['second\n']), 'b c.txt');
    const res = await fetch(url(up, '/inbox/'), { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain(`a.bin: 200000 bytes, sha256 <code>${sha256(a)}</code>`);
    expect(page).toContain(`b c.txt: 7 bytes, sha256 <code>${sha256('second\n')}</code>`);
    expect((await fsp.readFile(path.join(up.root, 'inbox', 'a.bin'))).equals(a)).toBe(true);
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'b c.txt'), 'utf8')).toBe('second\n');
  });

  it('posted to the root folder stores there', async () => {
    const form = new FormData();
    form.append('file', new Blob(['at the root\n']), 'root-form.txt');
    expect((await fetch(url(up, '/'), { method: 'POST', body: form })).status).toBe(200);
    expect(await fsp.readFile(path.join(up.root, 'root-form.txt'), 'utf8')).toBe('at the root\n');
  });

  it('one refused file does not stop the others; the status is the refusal\'s', async () => {
    await fsp.writeFile(path.join(up.root, 'inbox', 'taken.txt'), 'mine');
    const form = new FormData();
    form.append('file', new Blob(['theirs']), 'taken.txt');
    form.append('file', new Blob(['fine']), 'fine.txt');
    const res = await fetch(url(up, '/inbox/'), { method: 'POST', body: form });
    expect(res.status).toBe(409);
    const page = await res.text();
    expect(page).toMatch(/✗ taken\.txt: .*exists/);
    expect(page).toContain('✓ fine.txt');
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'taken.txt'), 'utf8')).toBe('mine');
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'fine.txt'), 'utf8')).toBe('fine');
  });

  it('a file over --max-upload is refused mid-body and not stored; the next file in the form is still stored', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.alloc(5 * 1024 * 1024, 1)]), 'huge.bin');
    form.append('file', new Blob(['after']), 'after.txt');
    const res = await fetch(url(up, '/inbox/'), { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/✗ huge\.bin: .*--max-upload/);
    const names = await namesIn(path.join(up.root, 'inbox'));
    expect(names).not.toContain('huge.bin');
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'after.txt'), 'utf8')).toBe('after');
  });

  it('a file name that climbs out is refused by the served root', async () => {
    // (inbox/../../evil.txt)
    const form = new FormData();
    form.append('file', new Blob(['evil']), '../../evil.txt');
    const res = await fetch(url(up, '/inbox/'), { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/✗ \.\.\/\.\.\/evil\.txt: path &#39;[^ ]*&#39; has a &#39;\.\.&#39; segment/);
    await expect(fsp.access(path.join(up.root, '..', 'evil.txt'))).rejects.toThrow();
  });

  it('a name with folders (a folder chosen in the browser) lands in those folders', async () => {
    const form = new FormData();
    form.append('file', new Blob(['deep']), 'album/2024/pic.txt');
    expect((await fetch(url(up, '/inbox/'), { method: 'POST', body: form })).status).toBe(200);
    expect(await fsp.readFile(path.join(up.root, 'inbox', 'album', '2024', 'pic.txt'), 'utf8')).toBe('deep');
  });

  it('a form cut off mid-file stores nothing under its name, and frees the name', async () => {
    const boundary = 'XyZ';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut-form.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    await exchange(up.port, [
      `POST /inbox/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 1000000\r\n\r\n`,
      head,
      Buffer.alloc(100_000, 3),
    ], { halfClose: true, gapMs: 50, timeoutMs: 8000 });
    // The path's lock is released (a lock left held is only taken over after 5 s of quiet):
    // the next upload of that name goes through.
    await untilLock(up, 'inbox/cut-form.bin', false);
    expect(await namesIn(path.join(up.root, 'inbox'))).not.toContain('cut-form.bin');
    expect((await fetch(url(up, '/inbox/cut-form.bin'), { method: 'PUT', body: 'whole' })).status).toBe(201);
  });

  it('not multipart: 400; a read-only server: 403 before reading the form', async () => {
    expect((await fetch(url(up, '/inbox/'), { method: 'POST', body: 'plain', headers: { 'Content-Type': 'text/plain' } })).status).toBe(400);
    const form = new FormData();
    form.append('file', new Blob(['x']), 'x.txt');
    expect((await fetch(url(readOnly, '/'), { method: 'POST', body: form })).status).toBe(403);
    expect(await namesIn(readOnly.root)).toEqual([]);
  });
});
