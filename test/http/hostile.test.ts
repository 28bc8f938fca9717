/**
 * Hostile HTTP against a live server: traversal in every spelling, symlinks that lead out,
 * markup in names, huge and slow headers, uploads over the limit, the connection limit, and a
 * flood of 10,000 connections. The server must answer each with the right status and stay up;
 * nothing outside the root is read or written.
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecret, makeJail, snapshot, type Jail } from '../security/jail.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange, statusLines } from './raw.js';

let jail: Jail;
let srv: TestServer;
let before: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  jail = await makeJail();
  before = await snapshot(jail.dir, jail.root);
  srv = await startServer({ root: jail.root, allowUpload: true, maxUploadBytes: 64 * 1024, lineDeadlineMs: 600, idleTimeoutMs: 5000 });
});
afterAll(async () => {
  await srv.close();
  expect(await snapshot(jail.dir, jail.root)).toEqual(before);
  await jail.remove();
});

/** Until `s` holds at most `most` connections: closes reach the server when its loop gets to them. */
async function untilConnections(s: TestServer, most: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (s.server.connectionCount > most) {
    if (Date.now() > deadline) throw new Error(`still ${s.server.connectionCount} connections after 10 s (expected at most ${most})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const request = (method: string, target: string, extra = '') =>
  exchange(srv.port, [`${method} ${target} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`]);

describe('traversal, in every spelling, is refused by the served root', () => {
  const spellings: [string, number][] = [
    ['/../outside.txt', 400],
    ['/%2e%2e/outside.txt', 400],
    ['/%2E%2E/outside.txt', 400],
    ['/.%2e/outside.txt', 400],
    ['/sub/../../outside.txt', 400],
    ['/sub/%2e%2e/%2e%2e/outside.txt', 400],
    ['/..%2foutside.txt', 400],
    ['/..%2Foutside.txt', 400],
    ['/%2e%2e%2foutside.txt', 400],
    ['/..%5coutside.txt', 400],
    ['/..\\outside.txt', 400],
    ['//etc/passwd', 400],
    ['/%00', 400],
    ['/good.txt%00.jpg', 400],
    ['/%c0%ae%c0%ae/outside.txt', 400],
    ['/%252e%252e/outside.txt', 404],
    ['/out', 403],
    ['/rel-out', 403],
    ['/chain1', 403],
    ['/up/outside.txt', 403],
    ['/up-rel/outside.txt', 403],
    ['/evil/secret.txt', 403],
    ['/evil-rel/secret.txt', 403],
    ['/.x.tcpsend-part', 403],
    ['/to-part', 403],
    ['/sub/.y.tcpsend-part', 403],
    ['/up/', 403],
    ['/evil/?tar', 403],
    ['http://127.0.0.1/outside.txt', 400],
    ['*', 400],
  ];
  for (const [target, status] of spellings) {
    it(`GET ${target} → ${status}, no secret in the answer`, async () => {
      const a = await request('GET', target);
      expect(statusLines(a.text)).toEqual([expect.stringMatching(new RegExp(`^HTTP/1\\.1 ${status} `))]);
      expect(leakedSecret(a.bytes, jail.secrets)).toBeNull();
    });
  }

  it('the same spellings are refused for PUT, and nothing is written outside', async () => {
    // '%252e%252e' is a harmless literal name ('%2e%2e'), which an upload may create inside the root.
    for (const [target] of spellings.filter(([t]) => !t.includes('%25'))) {
      const a = await exchange(srv.port, [`PUT ${target.endsWith('/') ? `${target}x` : target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nEVIL`]);
      expect(statusLines(a.text)[0], target).toMatch(/^HTTP\/1\.1 (400|403|404|409) /);
    }
  });

  it('a tar of the root leaves out what leads outside and partial files', async () => {
    const a = await exchange(srv.port, ['GET /?tar HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { timeoutMs: 10_000 });
    expect(statusLines(a.text)[0]).toBe('HTTP/1.1 200 OK');
    expect(leakedSecret(a.bytes, jail.secrets)).toBeNull();
    expect(a.text).toContain('inner\n');
  });
});

describe('names that try to inject markup', () => {
  it('are text on the folder page, and their links are percent-encoded', async () => {
    const names = ['<script>alert(1)<', '"><img src=x onerror=alert(2)>', "a'b&c.txt", '<b>bold</b'.replace('/', '')];
    await fsp.mkdir(path.join(jail.root, 'markup'));
    for (const name of names) await fsp.writeFile(path.join(jail.root, 'markup', name), 'x');
    const res = await fetch(`http://127.0.0.1:${srv.port}/markup/`);
    const html = await res.text();
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('a&#39;b&amp;c.txt');
    expect(html).toContain('href="%3Cscript%3Ealert%281%29%3C"');
    // Each link fetches its file.
    for (const href of [...html.matchAll(/href="([^"?]+)"/g)].map((m) => m[1]!).filter((h) => h !== '../')) {
      expect((await fetch(`http://127.0.0.1:${srv.port}/markup/${href}`)).status, href).toBe(200);
    }
    await fsp.rm(path.join(jail.root, 'markup'), { recursive: true });
  });
});

describe('bad HTTP gets the right status, and the server stays up', () => {
  it('huge headers: 431', async () => {
    const a = await exchange(srv.port, [`GET /good.txt HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`]);
    expect(a.text).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`http://127.0.0.1:${srv.port}/good.txt`)).status).toBe(200);
  });

  it('slow headers: cut off by Node\'s headersTimeout (the server\'s line deadline, 600 ms here)', async () => {
    const started = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port: srv.port });
    const got: Buffer[] = [];
    socket.on('data', (c) => got.push(c));
    socket.write('GET /good.txt HTTP/1.1\r\n');
    const drip = setInterval(() => socket.write('X-Drip: 1\r\n'), 100);
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    clearInterval(drip);
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThan(500);
    expect(ms).toBeLessThan(5000);
    expect(Buffer.concat(got).toString()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('garbage after a good request line is a 400 from Node\'s parser', async () => {
    const a = await exchange(srv.port, ['GET / HTTP/1.1\r\nHost x\0\r\n\r\n']);
    expect(a.text).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('an unknown method is 405 with Allow', async () => {
    const a = await request('DELETE', '/good.txt');
    expect(a.text).toMatch(/^HTTP\/1\.1 405 /);
    expect(a.text).toMatch(/\r\nAllow: GET, HEAD, PUT, POST, OPTIONS\r\n/);
  });

  it('an upload over --max-upload: 413 before the body when the length is announced, and mid-body when it is not; nothing stored', async () => {
    const big = Buffer.alloc(100 * 1024, 1);
    const announced = await fetch(`http://127.0.0.1:${srv.port}/too-big.bin`, { method: 'PUT', body: big });
    expect(announced.status).toBe(413);
    const chunked = await exchange(srv.port, [
      'PUT /too-big2.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      ...Array.from({ length: 10 }, () => `2800\r\n${'z'.repeat(0x2800)}\r\n`),
      '0\r\n\r\n',
    ]);
    expect(chunked.text).toMatch(/^HTTP\/1\.1 413 /);
    const left = await fsp.readdir(jail.root);
    // Not stored under either name (what came of the second stays in its partial file, as a PUT's does).
    expect(left.filter((n) => n.includes('too-big') && !n.endsWith('.tcpsend-part'))).toEqual([]);
  });
});

describe('connections', () => {
  it('each HTTP connection counts against the server\'s limit', async () => {
    const small = await startServer({ root: jail.root, maxConnections: 3, maxConnectionsPerIp: 3 });
    try {
      // Three keep-alive connections, each in the middle of a request (headers not finished): busy? no,
      // but open: they are the server's connections.
      const held = await Promise.all(
        Array.from({ length: 3 }, () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect({ host: '127.0.0.1', port: small.port }, () => {
              s.write('GET /good.txt HTTP/1.1\r\nHost: x\r\n\r\n');
              s.once('data', () => resolve(s));
            });
          }),
        ),
      );
      expect(small.server.connectionCount).toBe(3);
      // A fourth from the same address is refused: the per-address limit counts HTTP too.
      const fourth = await exchange(small.port, ['GET /good.txt HTTP/1.1\r\nHost: x\r\n\r\n']);
      expect(fourth.text).toMatch(/^ERR TOO_MANY_CONNECTIONS /);
      for (const s of held) s.destroy();
      await untilConnections(small, 0);
    } finally {
      await small.close();
    }
  });

  it('a flood of 10,000 connections (200 at a time) leaves the server answering', async () => {
    const flooded = await startServer({ root: jail.root, maxConnections: 256, maxConnectionsPerIp: 256, lineDeadlineMs: 2000 });
    try {
      const TOTAL = 10_000;
      const AT_ONCE = 200;
      let done = 0;
      let answered = 0;
      const one = (i: number) =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: flooded.port });
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.on('data', (d) => {
            if (d.subarray(0, 9).toString() === 'HTTP/1.1 ') answered += 1;
            s.destroy();
          });
          // Mixed: half send a request and hang up on the answer, half send half a request and leave.
          s.on('connect', () => {
            if (i % 2 === 0) s.write('GET /good.txt HTTP/1.1\r\nHost: x\r\n\r\n');
            else {
              s.write('GET /good.txt HTTP/1.1\r\nHo');
              setTimeout(() => s.destroy(), 5);
            }
          });
        });
      let next = 0;
      const worker = async () => {
        while (next < TOTAL) {
          const i = next++;
          await one(i);
          done += 1;
        }
      };
      await Promise.all(Array.from({ length: AT_ONCE }, worker));
      expect(done).toBe(TOTAL);
      expect(answered).toBeGreaterThan(TOTAL / 4);
      const res = await fetch(`http://127.0.0.1:${flooded.port}/good.txt`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('good content\n');
      await untilConnections(flooded, 1); // fetch's keep-alive connection
    } finally {
      await flooded.close();
    }
  }, 120_000);
});
