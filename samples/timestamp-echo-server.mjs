#!/usr/bin/env node
/**
 * The classic timestamp server (tsTserv.py of the Python network programming tutorials, which
 * answers `'[%s] %s' % (ctime(), data)`): every line comes back with the time it arrived in
 * front, as `[2025-11-21T21:30:02.123Z] the line`. The time is ISO 8601 in UTC rather than
 * ctime(), so that it reads the same everywhere and sorts.
 *
 *   npm run build
 *   node samples/timestamp-echo-server.mjs [PORT] [HOST]     PORT 0 (default): any free port;
 *                                                            HOST: 127.0.0.1 by default
 *   node samples/echo-client.mjs 127.0.0.1 PORT hello        prints [2025-...Z] hello
 *
 * It prints `timestamp-echo-server listening on HOST:PORT` once it listens.
 */
import net from 'node:net';
import { SocketFile, TcpsendError } from '../dist/index.js';

const [portArg = '0', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node samples/timestamp-echo-server.mjs [PORT] [HOST]\n');
  process.exit(2);
}

const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const file = new SocketFile(socket, { timeoutMs: 60_000 });
  try {
    for await (const line of file) await file.writeLine(`[${new Date().toISOString()}] ${line}`);
    await file.end();
  } catch (err) {
    const what = err instanceof TcpsendError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`timestamp-echo-server: ${peer}: ${what}\n`);
  } finally {
    file.close();
  }
});

server.on('error', (err) => {
  process.stderr.write(`timestamp-echo-server: cannot listen on ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  const { address, port: chosen } = server.address();
  process.stdout.write(`timestamp-echo-server listening on ${address}:${chosen}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
