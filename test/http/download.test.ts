/** GET and HEAD of files over HTTP: headers, validators, ranges, and Repr-Digest (RFC 9530). */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectRange } from '../../src/server/http/download.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange } from './raw.js';

let srv: TestServer;
let base: string;
const big = randomBytesFrom(7, 3 * 1024 * 1024 + 17);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

beforeAll(async () => {
  srv = await startServer();
  base = `http://127.0.0.1:${srv.port}`;
  await fsp.writeFile(path.join(srv.root, 'big.bin'), big);
  await fsp.writeFile(path.join(srv.root, 'notes.txt'), 'hello\n');
  await fsp.writeFile(path.join(srv.root, 'photo.jpg'), 'not really a jpeg');
  await fsp.writeFile(path.join(srv.root, 'empty'), '');
});
afterAll(async () => srv.close());

describe('GET of a file', () => {
  it('sends the bytes with Content-Length, Content-Type from the MIME table, Last-Modified, ETag and Accept-Ranges', async () => {
    const res = await fetch(`${base}/big.bin`);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(big)).toBe(true);
    expect(res.headers.get('content-length')).toBe(String(big.length));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    const stat = await fsp.stat(path.join(srv.root, 'big.bin'));
    expect(res.headers.get('last-modified')).toBe(new Date(Math.floor(stat.mtimeMs)).toUTCString());
    expect((await fetch(`${base}/notes.txt`)).headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect((await fetch(`${base}/photo.jpg`)).headers.get('content-type')).toBe('image/jpeg');
  });

  it('HEAD sends the same headers and no body', async () => {
    const a = await exchange(srv.port, ['HEAD /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(a.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(a.text).toMatch(/\r\nContent-Length: 6\r\n/);
    expect(a.text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('carries Repr-Digest, the SHA-256 of the whole file, once the server knows it (after a first whole GET)', async () => {
    await fsp.writeFile(path.join(srv.root, 'fresh.bin'), big.subarray(0, 100_000));
    const first = await fetch(`${base}/fresh.bin`);
    await first.arrayBuffer();
    const second = await fetch(`${base}/fresh.bin`);
    await second.arrayBuffer();
    expect(second.headers.get('repr-digest')).toBe(`sha-256=:${sha256(big.subarray(0, 100_000)).toString('base64')}:`);
    // On a range too: it describes the whole representation, so a resumed download can be checked.
    const ranged = await fetch(`${base}/fresh.bin`, { headers: { Range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('repr-digest')).toBe(second.headers.get('repr-digest'));
  });

  it('answers If-None-Match with the ETag with 304, and a changed file with 200', async () => {
    const first = await fetch(`${base}/notes.txt`);
    const etag = first.headers.get('etag')!;
    // Raw, as a browser revalidates: fetch() would add Cache-Control: no-cache to a conditional request.
    const ask = () => exchange(srv.port, [`GET /notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`]);
    const same = await ask();
    expect(same.text).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    expect(same.text.endsWith('\r\n\r\n')).toBe(true);
    await fsp.writeFile(path.join(srv.root, 'notes.txt'), 'hello again\n');
    const changed = await ask();
    expect(changed.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(changed.text.endsWith('\r\n\r\nhello again\n')).toBe(true);
    await fsp.writeFile(path.join(srv.root, 'notes.txt'), 'hello\n');
  });
});

describe('ranges', () => {
  it('a single range is 206 with Content-Range and exactly those bytes', async () => {
    for (const [range, start, end] of [
      ['bytes=0-0', 0, 0],
      ['bytes=100-199', 100, 199],
      ['bytes=3145700-', 3145700, big.length - 1],
      ['bytes=-17', big.length - 17, big.length - 1],
      ['bytes=3145700-99999999', 3145700, big.length - 1],
    ] as const) {
      const res = await fetch(`${base}/big.bin`, { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${big.length}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(big.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('a range past the end is 416 with Content-Range: bytes */size', async () => {
    const res = await fetch(`${base}/big.bin`, { headers: { Range: `bytes=${big.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${big.length}`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('a list of ranges gets the whole file, 200 (RFC 9110 lets a server ignore Range)', async () => {
    const res = await fetch(`${base}/big.bin`, { headers: { Range: 'bytes=0-9,100-109,5000-' } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
  });

  it('garbage ranges are ignored: the whole file, 200; the server stays up', async () => {
    for (const range of ['bytes=', 'bytes=abc', 'bytes=5-1', 'lines=1-2', 'bytes=--1', 'bytes=1-2-3', `bytes=${'9'.repeat(400)}-`, 'bytes=0-1,'.repeat(500)]) {
      const res = await fetch(`${base}/notes.txt`, { headers: { Range: range } });
      expect([200, 416], range.slice(0, 40)).toContain(res.status);
      if (res.status === 200) expect(await res.text()).toBe('hello\n');
      else await res.arrayBuffer();
    }
    expect((await fetch(`${base}/notes.txt`)).status).toBe(200);
  });

  it('If-Range that names another version gets the whole file', async () => {
    const res = await fetch(`${base}/notes.txt`, { headers: { Range: 'bytes=1-2', 'If-Range': '"not-this-one"' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello\n');
    const etag = (await fetch(`${base}/notes.txt`, { method: 'HEAD' })).headers.get('etag')!;
    const same = await fetch(`${base}/notes.txt`, { headers: { Range: 'bytes=1-2', 'If-Range': etag } });
    expect(same.status).toBe(206);
    expect(await same.text()).toBe('el');
  });

  it('selectRange: the rules, as a pure function', () => {
    expect(selectRange(10, undefined)).toEqual({ status: 200, start: 0, length: 10 });
    expect(selectRange(10, 'bytes=2-4')).toEqual({ status: 206, start: 2, length: 3 });
    expect(selectRange(10, 'bytes=0-1,3-4')).toEqual({ status: 200, start: 0, length: 10 });
    // Overlapping ranges combine into one.
    expect(selectRange(10, 'bytes=0-4,2-6')).toEqual({ status: 206, start: 0, length: 7 });
    expect(selectRange(10, 'bytes=10-')).toEqual({ status: 416 });
    expect(selectRange(0, 'bytes=0-')).toEqual({ status: 416 });
    expect(selectRange(10, 'nonsense')).toEqual({ status: 200, start: 0, length: 10 });
  });

  it('an empty file is 200 with Content-Length 0', async () => {
    const res = await fetch(`${base}/empty`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
  });
});
