#!/usr/bin/env node
/**
 * What Python's socketserver.ThreadingTCPServer with a StreamRequestHandler does, done with
 * async instead of threads: many clients are served at once, each connection runs
 * setup → handle → finish, and an error in one connection is logged (handle_error) and never
 * stops the server or touches the other connections.
 *
 * It answers one line command at a time, in the style of tcpsend's own protocol:
 *
 *   UPPER <text>     → OK <TEXT>
 *   LOWER <text>     → OK <text>
 *   REVERSE <text>   → OK <txet>
 *   SLEEP <ms>       → OK slept <ms> ms        (at most 10000; others are served meanwhile)
 *   QUIT             → OK bye, and the server closes the connection
 *   anything else    → ERR UNKNOWN_VERB ... or ERR BAD_REQUEST ..., and the connection goes on
 *
 * A line longer than 1024 bytes, or 60 s of silence, is answered with ERR LINE_TOO_LONG or
 * ERR TIMEOUT and that one connection is closed.
 *
 *   npm run build
 *   node samples/concurrent-server.mjs [PORT] [HOST]     PORT 0 (default): any free port;
 *                                                        HOST: 127.0.0.1 by default
 *   node samples/echo-client.mjs 127.0.0.1 PORT 'UPPER hello' 'SLEEP 500' 'REVERSE abc'
 *
 * It prints `concurrent-server listening on HOST:PORT` once it listens; the log goes to stderr.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  BadRequestError,
  formatErr,
  InternalError,
  SocketFile,
  TcpsendError,
  UnknownVerbError,
} from '../dist/index.js';

const MAX_LINE = 1024;
const IDLE_TIMEOUT_MS = 60_000;
const MAX_SLEEP_MS = 10_000;

const [portArg = '0', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node samples/concurrent-server.mjs [PORT] [HOST]\n');
  process.exit(2);
}

const log = (text) => process.stderr.write(`concurrent-server: ${text}\n`);

/** The commands, each a function of the text after the verb; a throw becomes an ERR line. */
const COMMANDS = {
  UPPER: (text) => text.toUpperCase(),
  LOWER: (text) => text.toLowerCase(),
  REVERSE: (text) => [...text].reverse().join(''),
  async SLEEP(text) {
    const ms = Number(text);
    if (!/^\d+$/.test(text) || ms > MAX_SLEEP_MS) {
      throw new BadRequestError(`SLEEP takes a whole number of milliseconds up to ${MAX_SLEEP_MS}`);
    }
    await delay(ms);
    return `slept ${ms} ms`;
  },
};

/** One connection, as socketserver's BaseRequestHandler: setup(), handle(), finish(). */
class CommandHandler {
  constructor(socket) {
    this.socket = socket;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.requests = 0;
  }

  /** As StreamRequestHandler.setup makes rfile and wfile: one buffered stream for both. */
  setup() {
    this.file = new SocketFile(this.socket, { timeoutMs: IDLE_TIMEOUT_MS, maxLineLength: MAX_LINE });
    log(`${this.peer} connected`);
  }

  /** Request after request until QUIT or the end of the stream. */
  async handle() {
    for await (const line of this.file) {
      this.requests++;
      const [verb = '', ...rest] = line.split(' ');
      if (verb === 'QUIT') {
        await this.file.writeLine('OK bye');
        return;
      }
      await this.file.writeLine(await this.answer(verb, rest.join(' ')));
    }
  }

  /** One request's answer; its failure is the client's answer, not the connection's end. */
  async answer(verb, text) {
    try {
      const command = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : null;
      if (command === null) throw new UnknownVerbError(`unknown command '${verb.slice(0, 32)}'`);
      return `OK ${await command(text)}`;
    } catch (err) {
      const e = err instanceof TcpsendError ? err : new InternalError(String(err?.message ?? err), { cause: err });
      return formatErr(e.wireCode, e.message);
    }
  }

  /** As socketserver's handle_error: log it, tell the client if we still can. */
  handleError(err) {
    const e = err instanceof TcpsendError ? err : new InternalError(String(err?.message ?? err), { cause: err });
    log(`${this.peer}: ${e.code}: ${e.message}`);
    // After an over-long line or a timeout the stream's reading side has lost its place and the
    // SocketFile refuses further I/O; the socket under it can still carry one last line.
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(`${formatErr(e.wireCode, e.message)}\r\n`);
  }

  /** Say we are done, give the last reply a moment to leave, and let the socket go. */
  async finish() {
    await Promise.race([this.file.end().catch(() => {}), delay(1000)]);
    this.file.close();
    log(`${this.peer} done after ${this.requests} request${this.requests === 1 ? '' : 's'}`);
  }
}

const open = new Set();

// allowHalfOpen: a client that shuts down its sending side after its last command still gets
// every answer.
const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
  socket.on('error', () => {}); // surfaces through the SocketFile's reads and writes
  const handler = new CommandHandler(socket);
  open.add(socket);
  try {
    handler.setup();
    try {
      await handler.handle();
    } catch (err) {
      handler.handleError(err);
    }
    await handler.finish();
  } catch (err) {
    log(`${handler.peer}: ${err?.message ?? err}`); // setup or finish failed: still only this one
    socket.destroy();
  } finally {
    open.delete(socket);
  }
});

server.on('error', (err) => {
  log(`cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const { address, port: chosen } = server.address();
  process.stdout.write(`concurrent-server listening on ${address}:${chosen}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: closing ${open.size} connection${open.size === 1 ? '' : 's'}`);
    server.close();
    for (const socket of open) socket.destroy();
    process.exit(0);
  });
}
