/**
 * Issue 15.10 / 11.8: an interrupted transfer is logged with the bytes that did move, not `0 B`.
 * A raw client starts a 1 MiB upload, sends 300,000 bytes of its body, and goes away.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endLine } from '../../src/cli/server-log.js';
import { startServer, type TestServer } from '../helpers/server.js';

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('an interrupted upload in the log', () => {
  it('carries the bytes received before the cut, and the log line says them', async () => {
    const s = await startServer({ allowUpload: true });
    servers.push(s);
    const socket = net.connect(s.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('HELLO version=1 client=raw\r\n');
    socket.write(`PUT cut.bin size=${1024 * 1024}\r\n`);
    let seen = '';
    await new Promise<void>((resolve) =>
      socket.on('data', (b: Buffer) => {
        seen += b.toString('latin1');
        if (/offset=0/.test(seen)) resolve();
      }),
    );
    socket.write('DATA offset=0\r\n');
    // Handed to the kernel before the cut (destroy drops what Node still queues): the server
    // then reads all 300,000 bytes before it sees the end, however slowly it gets to them.
    await new Promise((resolve) => socket.write(Buffer.alloc(300_000, 7), resolve));
    socket.destroy();
    const deadline = Date.now() + 5_000;
    while (!s.log.some((e) => e.verb === 'PUT') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const put = s.log.find((e) => e.verb === 'PUT')!;
    expect(put).toBeDefined();
    expect(put.result).not.toBe('OK');
    expect(put.bytes).toBe(300_000);
    expect(endLine(put, false)).toMatch(/ PUT "cut\.bin" 293 KiB .* ERR [A-Z_]+: /);
  });
});
