/**
 * How long an HTTP upload body may take (issue 10; gap 10-a). With --allow-upload, Node's
 * whole-request deadline (`requestTimeout`) is off, as a tcpsend upload has none: a body may
 * take as long as it keeps moving. What bounds it is the idle timeout, as for a tcpsend PUT:
 * a client that sends its headers and then stalls, or dribbles slower than the idle timeout,
 * is cut off, nothing is stored under the name, and the name's upload lock is free again.
 * What came stays in the partial file (docs/protocol.md, "HTTP"), as after a cut tcpsend PUT.
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { partNameFor } from '../../src/files/part-name.js';
import type { ServerContext } from '../../src/server/context.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange, statusLines } from './raw.js';

/** Short, so the tests are quick; the line deadline long, so only the idle timeout can cut. */
const IDLE_MS = 600;

let servers: TestServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(options: { lineDeadlineMs: number; idleTimeoutMs: number }): Promise<TestServer> {
  const s = await startServer({ allowUpload: true, ...options });
  servers.push(s);
  return s;
}

/** A connection that writes `head` at once; `closed` resolves when the server closes it. */
async function open(port: number, head: string): Promise<{ socket: net.Socket; closed: Promise<void>; isClosed: () => boolean; received: () => string }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  let received = '';
  let done = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => {
    const finish = () => {
      done = true;
      resolve();
    };
    socket.once('end', finish);
    socket.once('close', finish);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(head);
  return { socket, closed, isClosed: () => done, received: () => received };
}

/** `closed`, or a rejection naming what was waited for after `ms` (far above any timeout here). */
async function within<T>(what: string, promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The name's upload lock is released (soon after the cut: a lock left held would only be taken
 * over by a new upload, after 5 s), and a whole body then lands under the name.
 */
async function storesAgain(s: TestServer, name: string): Promise<void> {
  const { uploadLocks } = (s.server as unknown as { ctx: ServerContext }).ctx;
  await within('the lock released', (async () => {
    while (uploadLocks.isLocked(name)) await new Promise((r) => setTimeout(r, 20));
  })(), 3000);
  const body = `the whole body of ${name}\n`;
  const answer = await exchange(s.port, [`PUT /${name} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`], { timeoutMs: 10_000 });
  expect(statusLines(answer.text)).toEqual(['HTTP/1.1 201 Created']);
  expect(await fsp.readFile(path.join(s.root, name), 'utf8')).toBe(body);
}

describe('an HTTP upload body that stops moving', () => {
  it('PUT: headers and a few bytes, then nothing: cut after the idle timeout, nothing stored, the lock free again', async () => {
    const s = await server({ idleTimeoutMs: IDLE_MS, lineDeadlineMs: 60_000 });
    const started = Date.now();
    const c = await open(s.port, `PUT /stalled.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(100)}`);
    await within('the cut', c.closed);
    // Not before the idle timeout (nothing else cuts it), and without a 201.
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS * 0.8);
    expect(c.received()).not.toContain('201');
    expect(await fsp.readdir(s.root)).not.toContain('stalled.bin');
    // What came stays in the partial file, as after a cut tcpsend PUT.
    await within('the part', (async () => {
      while ((await fsp.stat(path.join(s.root, partNameFor('stalled.bin'))).catch(() => null))?.size !== 100) await new Promise((r) => setTimeout(r, 20));
    })());
    await within('the log line', (async () => {
      while (!s.log.some((e) => e.verb === 'HTTP PUT' && e.path === '/stalled.bin')) await new Promise((r) => setTimeout(r, 20));
    })());
    // Logged as a transfer cut short, not as an internal error of the server.
    expect(s.log.find((e) => e.verb === 'HTTP PUT' && e.path === '/stalled.bin')?.result).toBe('TRANSFER_INTERRUPTED');
    await storesAgain(s, 'stalled.bin');
  });

  it('PUT: a byte now and then, each gap longer than the idle timeout: cut at the first gap', async () => {
    const s = await server({ idleTimeoutMs: IDLE_MS, lineDeadlineMs: 60_000 });
    const c = await open(s.port, `PUT /dribbled.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nx`);
    let sent = 1;
    while (!c.isClosed() && sent < 10) {
      await new Promise((r) => setTimeout(r, IDLE_MS * 2.5));
      if (!c.isClosed()) {
        c.socket.write('x');
        sent += 1;
      }
    }
    expect(c.isClosed()).toBe(true);
    // Cut at the first or (if the machine stalled the timer) the second gap, far from all 1000.
    expect(sent).toBeLessThanOrEqual(3);
    expect(await fsp.readdir(s.root)).not.toContain('dribbled.bin');
    await storesAgain(s, 'dribbled.bin');
  });

  it('a form POST that stalls mid-file: cut after the idle timeout, no file stored, the lock free again', async () => {
    const s = await server({ idleTimeoutMs: IDLE_MS, lineDeadlineMs: 60_000 });
    const boundary = 'stallboundary42';
    const partial = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="form.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${'f'.repeat(500)}`;
    const c = await open(s.port, `POST / HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${partial}`);
    await within('the cut', c.closed);
    expect(c.received()).not.toMatch(/^HTTP\/1\.1 200/);
    expect(await fsp.readdir(s.root)).not.toContain('form.bin');
    await storesAgain(s, 'form.bin');
  });
});

describe('an HTTP upload body that keeps moving', () => {
  it('is not cut by a whole-request deadline: it may take longer than the line deadline, as a tcpsend PUT may', async () => {
    // A read-only server gives a whole request the line deadline (requestTimeout); with
    // uploads on, a body that keeps arriving may run past it.
    const s = await server({ idleTimeoutMs: 10_000, lineDeadlineMs: 500 });
    const body = 'slow but steady body\n';
    const started = Date.now();
    const c = await open(s.port, `PUT /steady.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    for (const char of body) {
      await new Promise((r) => setTimeout(r, 100));
      c.socket.write(char);
    }
    await within('the answer', c.closed);
    expect(Date.now() - started).toBeGreaterThan(500);
    expect(statusLines(c.received())).toEqual(['HTTP/1.1 201 Created']);
    expect(await fsp.readFile(path.join(s.root, 'steady.txt'), 'utf8')).toBe(body);
  });
});
