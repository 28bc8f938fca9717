/**
 * The HTTP side of the serve port. A connection whose first line is an HTTP request line is
 * handed, with every byte read so far put back, to a node:http server that never listens of
 * its own: Node parses each request (keep-alive, pipelining, header limits, timeouts), and
 * routes.ts answers it. The connection stays one of the tcpsend server's connections, counted
 * against its limits, until it closes.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { firstLineKind } from '../../protocol/index.js';
import type { ServerContext, Session } from '../context.js';
import type { ResolvedServerOptions } from '../options.js';
import { asTcpsendError, type RequestLogger } from '../session.js';
import { sendError } from './status.js';

/** Request line and headers together, at most (larger is 431). */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Does this first chunk a client sent open with an HTTP request line? A server with a secret
 * asks, before it starts TLS: a browser gets a page that says why it is refused, not an ERR line.
 */
export function opensWithHttp(chunk: Buffer): boolean {
  const end = chunk.indexOf(0x0a);
  if (end < 0) return false;
  return firstLineKind(chunk.subarray(0, end).toString('latin1').replace(/\r$/, '')) === 'http';
}

type AnswerHttp = typeof import('./routes.js').answerHttp;

interface Adopted {
  ctx: ServerContext;
  session: Session;
  log: RequestLogger;
}

export class HttpFront {
  readonly #options: ResolvedServerOptions;
  /** Made on the first HTTP connection: a server that never sees one never loads node:http. */
  #server: Promise<Server> | null = null;
  readonly #adopted = new WeakMap<Socket, Adopted>();

  constructor(options: ResolvedServerOptions) {
    this.#options = options;
  }

  #httpServer(): Promise<Server> {
    this.#server ??= this.#makeServer();
    return this.#server;
  }

  async #makeServer(): Promise<Server> {
    const options = this.#options;
    const http = await import('node:http');
    // The handlers and their libraries (mime-types, busboy, tar-stream...) load with it, not
    // at start-up: every CLI command loads this module, few ever serve a browser.
    const { answerHttp } = await import('./routes.js');
    const server = http.createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        // The request line and headers within the time a tcpsend request line gets.
        headersTimeout: options.lineDeadlineMs,
        // A body may take as long as it keeps moving (the idle timeout below), as a tcpsend
        // upload may; a read-only server takes no body, so the whole request gets that deadline.
        requestTimeout: options.allowUpload ? 0 : options.lineDeadlineMs,
        connectionsCheckingInterval: Math.max(100, Math.min(30_000, options.lineDeadlineMs / 4)),
        keepAliveTimeout: 5_000,
      },
      (req, res) => void this.#respond(answerHttp, req, res),
    );
    server.timeout = options.idleTimeoutMs;
    // A client that sends its request and then shuts its side (`nc -N`) still gets the answer.
    // (httpAllowHalfOpen is Node's own switch for this, not in its typings.)
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // Node checks headersTimeout and requestTimeout on a timer it starts when its server
    // begins listening. This one never listens (the tcpsend listener accepts), so start it now.
    server.emit('listening');
    return server;
  }

  /**
   * Serve HTTP on `session`'s connection, whose first line, `firstLine`, has been read: it
   * goes back in front of the bytes still buffered, and Node's parser reads them all. Resolves
   * when the connection has closed.
   */
  async adopt(ctx: ServerContext, session: Session, log: RequestLogger, firstLine: string): Promise<void> {
    const socket = session.file.stream as Socket;
    const closed = new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once('close', () => resolve());
    });
    session.file.detach();
    socket.unshift(Buffer.from(`${firstLine}\r\n`, 'utf8'));
    this.#adopted.set(socket, { ctx, session, log });
    (await this.#httpServer()).emit('connection', socket);
    socket.resume();
    return closed;
  }

  /** Stop the timeout checks (the connections themselves are the tcpsend server's to close). */
  close(): void {
    void this.#server?.then((server) => server.close(() => {}));
  }

  async #respond(answerHttp: AnswerHttp, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const adopted = this.#adopted.get(req.socket as Socket);
    if (adopted === undefined) {
      res.destroy();
      return;
    }
    const { ctx, session, log } = adopted;
    const started = performance.now();
    session.busy = true;
    res.once('close', () => {
      session.busy = false;
      session.lastActive = Date.now();
    });
    const verb = `HTTP ${req.method ?? '?'}`.slice(0, 16);
    try {
      const { path, bytes, note } = await answerHttp(ctx, session, req, res);
      log({ peer: session.peer, verb, path, bytes, ms: performance.now() - started, result: 'OK', note });
    } catch (err) {
      const e = asTcpsendError(err);
      log({ peer: session.peer, verb, path: req.url?.slice(0, 200) ?? null, bytes: 0, ms: performance.now() - started, result: e.wireCode, message: e.message });
      sendError(res, e, { bodyUnread: !req.readableEnded });
    }
  }
}
