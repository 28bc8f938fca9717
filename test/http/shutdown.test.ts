/** HTTP connections and the server's lifecycle: idle ones close at once, a download in flight gets its grace. */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer } from '../helpers/server.js';

describe('shutdown with HTTP clients', () => {
  it('closes an idle keep-alive connection at once', async () => {
    const srv = await startServer();
    await fsp.writeFile(path.join(srv.root, 'a.txt'), 'a\n');
    const socket = net.connect({ host: '127.0.0.1', port: srv.port });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    expect(srv.server.connectionCount).toBe(1);
    const started = performance.now();
    await srv.server.close(5000);
    await closed;
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('lets a download in flight finish within the grace', async () => {
    const srv = await startServer();
    const big = randomBytesFrom(41, 8 * 1024 * 1024);
    await fsp.writeFile(path.join(srv.root, 'big.bin'), big);
    const socket = net.connect({ host: '127.0.0.1', port: srv.port });
    let got = 0;
    let paused = true;
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (paused) socket.pause(); // read slowly at first, so the download is in flight
    });
    socket.on('error', () => {});
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const closing = srv.server.close(5000);
    paused = false;
    socket.resume();
    await ended;
    await closing;
    // Headers plus every byte of the file.
    expect(got).toBeGreaterThan(big.length);
  });
});
