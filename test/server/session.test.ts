/** The session loop: replies prepared ahead of their turn are bounded (issue 14, finding 5). */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/context.js';
import { READ_AHEAD_BYTES, READ_AHEAD_BYTES_ALL } from '../../src/server/session.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { startServer, type TestServer } from '../helpers/server.js';

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('a client that pipelines and never reads', () => {
  it('makes the server hold at most READ_AHEAD_BYTES of prepared replies, released when it goes', async () => {
    const s = await startServer();
    servers.push(s);
    const body = Buffer.alloc(200_000, 7);
    for (let i = 0; i < 60; i++) await fsp.writeFile(path.join(s.root, `f${i}`), body);
    const ctx = (s.server as unknown as { ctx: ServerContext }).ctx;
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, ctx.readAhead.bytes)), 1);
    try {
      const peers2 = await Promise.all([0, 1, 2].map(() => peers.connect(s.port)));
      for (const p of peers2) {
        await p.hello();
        let requests = '';
        for (let i = 0; i < 60; i++) requests += `GET f${i}\r\n`;
        await p.send(requests);
      }
      await new Promise((r) => setTimeout(r, 500));
      // Three connections, each at most its share (plus the one reply that crossed the line).
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(3 * (READ_AHEAD_BYTES + 200_100));
      for (const p of peers2) p.destroy();
      for (let i = 0; i < 100 && ctx.readAhead.bytes > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(ctx.readAhead.bytes).toBe(0);
    } finally {
      clearInterval(sampler);
    }
  });
});

describe('many clients that pipeline and never read (issue 14, finding 5; gap 14-e)', () => {
  it('together hold at most READ_AHEAD_BYTES_ALL, and a client that reads is still served meanwhile', async () => {
    const hogs = 200;
    const s = await startServer({ maxConnections: 512, maxConnectionsPerIp: 512 });
    servers.push(s);
    // 100 KiB: small enough to be read whole into a prepared reply, so it is held in memory.
    const body = Buffer.alloc(100 * 1024, 9);
    await fsp.writeFile(path.join(s.root, 'f'), body);
    const ctx = (s.server as unknown as { ctx: ServerContext }).ctx;
    // Each alone may hold READ_AHEAD_BYTES (and the reply that crosses it); stuck behind a
    // full socket, about 0.7 MiB each was measured: 200 of them, about 150 MiB without the cap
    // for all (measured with it removed), well over it and over the bound below.
    expect(hogs * (READ_AHEAD_BYTES + body.length)).toBeGreaterThan(2 * READ_AHEAD_BYTES_ALL);
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, ctx.readAhead.bytes)), 1);
    try {
      // Enough GETs that the socket buffers cannot take all the replies.
      const requests = 'HELLO\r\n' + 'GET f\r\n'.repeat(150);
      await Promise.all(Array.from({ length: hogs }, async () => (await peers.connect(s.port)).send(requests)));
      // Until the cap is nearly reached (none of these clients reads), and then until the
      // prepared replies stop growing. (The second alone, 150 ms at a time, ends too early
      // whenever a loaded machine holds the server back for 150 ms before it nears the cap.)
      const deadline = Date.now() + 20_000;
      while (most <= 0.9 * READ_AHEAD_BYTES_ALL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      let last = -1;
      for (let i = 0; i < 100 && ctx.readAhead.bytes !== last; i++) {
        last = ctx.readAhead.bytes;
        await new Promise((r) => setTimeout(r, 150));
      }
      // The cap was reached: what follows tests it, not a load too light to meet it.
      expect(most).toBeGreaterThan(0.9 * READ_AHEAD_BYTES_ALL);
      // At most the cap, plus what each connection may add before it sees it: its first reply
      // and one that crossed the line.
      expect(most).toBeLessThanOrEqual(READ_AHEAD_BYTES_ALL + hogs * 2 * body.length);
      // A client that reads gets its pipelined GETs answered, in order, while the cap is full.
      const reader = await peers.connect(s.port, { timeoutMs: 20_000 });
      await reader.hello();
      await reader.send('GET f\r\n'.repeat(20));
      for (let i = 0; i < 20; i++) {
        expect(await reader.line()).toMatch(/^OK size=102400 /);
        expect((await reader.bytes(body.length)).equals(body)).toBe(true);
        expect(await reader.line()).toMatch(/^OK sha256=/);
      }
      peers.destroyAll();
      for (let i = 0; i < 200 && ctx.readAhead.bytes > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(ctx.readAhead.bytes).toBe(0);
    } finally {
      clearInterval(sampler);
    }
  }, 30_000);
});
