/** Folders over HTTP: the page, the redirect to the folder's own URL, and `?tar`; a server with a secret. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderFolderPage } from '../../src/server/http/folder-page.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let base: string;
const photo = randomBytesFrom(5, 700_000);

beforeAll(async () => {
  srv = await startServer();
  base = `http://127.0.0.1:${srv.port}`;
  await fsp.mkdir(path.join(srv.root, 'photos', '2024'), { recursive: true });
  await fsp.writeFile(path.join(srv.root, 'photos', 'a.jpg'), photo);
  await fsp.writeFile(path.join(srv.root, 'photos', '2024', 'b c.txt'), 'inner\n');
  await fsp.writeFile(path.join(srv.root, 'photos', '.hidden'), 'secret');
  await fsp.writeFile(path.join(srv.root, 'photos', '.a.jpg.tcpsend-part'), 'partial');
  await fsp.writeFile(path.join(srv.root, 'notes.txt'), 'hello\n');
  await fsp.utimes(path.join(srv.root, 'notes.txt'), new Date('2024-03-01T10:20:00Z'), new Date('2024-03-01T10:20:00Z'));
});
afterAll(async () => srv.close());

/** Parse a tar stream with tar-stream: name → contents (folders as null). */
async function untar(bytes: Buffer): Promise<Map<string, Buffer | null>> {
  const out = new Map<string, Buffer | null>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => void chunks.push(c as Buffer));
    stream.on('end', () => {
      out.set(header.name, header.type === 'directory' ? null : Buffer.concat(chunks));
      next();
    });
  });
  const done = new Promise((resolve, reject) => {
    extract.on('finish', () => resolve(undefined));
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return out;
}

describe('a folder page', () => {
  it('lists one level: names, sizes, dates and links, folders first; no hidden or partial files', async () => {
    const res = await fetch(`${base}/photos/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<a href="../">');
    expect(html).toContain('<a href="2024/"><span class="name">2024/</span>');
    expect(html).toMatch(/<a href="a\.jpg"><span class="name">a\.jpg<\/span><span class="meta">684 KiB · \d{4}-\d\d-\d\d \d\d:\d\d<\/span>/);
    expect(html.indexOf('2024/')).toBeLessThan(html.indexOf('a.jpg'));
    expect(html).not.toContain('b c.txt'); // one level at a time
    expect(html).not.toContain('hidden');
    expect(html).not.toContain('tcpsend-part');
    expect(html).not.toContain('<form'); // read-only
    expect(html).toContain('href="?tar"');
  });

  it('the root page shows the date as UTC, the host name, and no parent link', async () => {
    const html = await (await fetch(`${base}/`)).text();
    expect(html).toContain(`<h1>/ <small>on ${os.hostname()}</small></h1>`);
    expect(html).toContain('<span class="meta">6 B · 2024-03-01 10:20</span>');
    expect(html).not.toContain('href="../"');
  });

  it('a link to a name with a space is percent-encoded, and works', async () => {
    const html = await (await fetch(`${base}/photos/2024/`)).text();
    expect(html).toContain('<a href="b%20c.txt">');
    expect(await (await fetch(`${base}/photos/2024/b%20c.txt`)).text()).toBe('inner\n');
  });

  it('a folder asked for without its / is redirected to it (so relative links work)', async () => {
    const res = await fetch(`${base}/photos`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/photos/');
  });

  it('a missing folder is 404; a file asked for as a folder is 404 too', async () => {
    expect((await fetch(`${base}/nope/`)).status).toBe(404);
  });

  it('offers the upload form when uploads are on (and the overwrite choice only when the server replaces files)', () => {
    const page = (upload: boolean, overwrite: boolean) => renderFolderPage({ path: '/', host: 'h', entries: [], upload, overwrite });
    expect(page(true, false)).toContain('<form method="post" enctype="multipart/form-data">');
    expect(page(true, false)).not.toContain('name="overwrite"');
    expect(page(true, true)).toContain('name="overwrite"');
    expect(page(false, false)).not.toContain('<form');
  });
});

describe('FOLDER/?tar', () => {
  it('streams the whole folder as one tar, sub-folders included, hidden and partial files left out', async () => {
    const res = await fetch(`${base}/photos/?tar`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename=photos.tar');
    const files = await untar(Buffer.from(await res.arrayBuffer()));
    expect([...files.keys()].sort()).toEqual(['2024/', '2024/b c.txt', 'a.jpg']);
    expect(files.get('a.jpg')!.equals(photo)).toBe(true);
    expect(files.get('2024/b c.txt')!.toString()).toBe('inner\n');
  });

  it('of the root is named after the served folder', async () => {
    const res = await fetch(`${base}/?tar`);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename=${path.basename(srv.root)}.tar`);
    const files = await untar(Buffer.from(await res.arrayBuffer()));
    expect(files.get('notes.txt')!.toString()).toBe('hello\n');
    expect(files.has('photos/a.jpg')).toBe(true);
  });

  it('of a missing folder is a clean 404', async () => {
    expect((await fetch(`${base}/nope/?tar`)).status).toBe(404);
  });
});

describe('a server with a secret', () => {
  it('answers every plain HTTP request with 403 and a page that says why, never file bytes', async () => {
    const locked = await startServer({ secret: 'correct horse battery staple' });
    try {
      await fsp.writeFile(path.join(locked.root, 'private.txt'), 'PRIVATE-BYTES');
      for (const p of ['/private.txt', '/', '/?tar']) {
        const res = await fetch(`http://127.0.0.1:${locked.port}${p}`);
        expect(res.status, p).toBe(403);
        const body = await res.text();
        expect(body).toContain('needs its secret');
        expect(body).not.toContain('PRIVATE-BYTES');
        expect(body).not.toContain('private.txt');
      }
      const put = await fetch(`http://127.0.0.1:${locked.port}/x.txt`, { method: 'PUT', body: 'x' });
      expect(put.status).toBe(403);
      await put.text();
      expect(await fsp.readdir(locked.root)).toEqual(['private.txt']);
    } finally {
      await locked.close();
    }
  });
});
