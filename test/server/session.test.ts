/** The session loop: replies prepared ahead of their turn are bounded (issue 14, finding 5). */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/context.js';
import { READ_AHEAD_BYTES } from '../../src/server/session.js';
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
