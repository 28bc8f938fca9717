#!/usr/bin/env node
/**
 * The classic echo server (the "Echo server program" of Python's socket documentation, or
 * socketserver's StreamRequestHandler reading `self.rfile` and writing `self.wfile`), on
 * SocketFile: every line a client sends comes straight back, until the client closes.
 *
 *   npm run build
 *   node samples/echo-server.mjs [PORT] [HOST]     PORT 0 (the default) lets the system pick;
 *                                                  HOST is 127.0.0.1 unless you say otherwise
 *   node samples/echo-client.mjs 127.0.0.1 PORT hello world
 *
 * It prints `echo-server listening on HOST:PORT` once it listens, and stops on Ctrl-C.
 */
import net from 'node:net';
import { SocketFile, TcpsendError } from '../dist/index.js';

const [portArg = '0', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node samples/echo-server.mjs [PORT] [HOST]\n');
  process.exit(2);
}

// allowHalfOpen: a client may send its lines and shut down its side at once (as `nc -N`
// does); it must still get every reply, so our side stays open until we have written them.
const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const file = new SocketFile(socket, { timeoutMs: 60_000 });
  try {
    for await (const line of file) await file.writeLine(line);
    await file.end();
  } catch (err) {
    // One client's trouble (an over-long line, a reset, a timeout) is logged, never fatal.
    const what = err instanceof TcpsendError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`echo-server: ${peer}: ${what}\n`);
  } finally {
    file.close();
  }
});

server.on('error', (err) => {
  process.stderr.write(`echo-server: cannot listen on ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  const { address, port: chosen } = server.address();
  process.stdout.write(`echo-server listening on ${address}:${chosen}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
