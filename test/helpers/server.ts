/** A real tcpsend server on 127.0.0.1, port 0, serving a fresh temp folder. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TcpsendServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { RequestLogEntry } from '../../src/server/session.js';
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
