/** A real tcpsend server on 127.0.0.1, port 0, serving a fresh temp folder. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { TcpsendServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { RequestLogEntry } from '../../src/server/session.js';
import { PeerPool } from './raw-peer.js';
import { randomBytesFrom } from './seeded-random.js';

export async function tempDir(prefix = 'tcpsend-test-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface TestServer {
  server: TcpsendServer;
  root: string;
  port: number;
  target: string;
  log: RequestLogEntry[];
  close(): Promise<void>;
}

export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const root = options.root ?? (await tempDir('tcpsend-root-'));
  const server = await TcpsendServer.create({ ...options, root });
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  const log: RequestLogEntry[] = [];
  server.on('request', (entry) => log.push(entry));
  return {
    server,
    root,
    port,
    target: `127.0.0.1:${port}`,
    log,
    async close() {
      await server.close(200);
    },
  };
}

export async function writeRandomFile(file: string, size: number, seed = 1): Promise<Buffer> {
  const data = randomBytesFrom(seed, size);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, data);
  return data;
}

/**
 * What a test file's tests start and leave to be ended after each test: the raw peers first,
 * then the servers, then the clean-ups (folders, swappers), in the order pushed.
 */
export function endedAfterEachTest(): { servers: TestServer[]; peers: PeerPool; cleanups: Array<() => Promise<void>> } {
  const ended = { servers: [] as TestServer[], peers: new PeerPool(), cleanups: [] as Array<() => Promise<void>> };
  afterEach(async () => {
    ended.peers.destroyAll();
    await Promise.all(ended.servers.splice(0).map((s) => s.close()));
    for (const clean of ended.cleanups.splice(0)) await clean();
  });
  return ended;
}
