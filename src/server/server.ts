/**
 * TcpsendServer: listen, accept, enforce connection limits, and shut down gracefully. Each
 * accepted socket runs its own session (session.ts); one client's failure never touches
 * another's.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { TooManyConnectionsError } from '../errors.js';
import { SocketFile } from '../io/index.js';
import { DEFAULT_PORT, formatErr } from '../protocol/index.js';
import { HashCache } from '../storage/hash-cache.js';
import { ServedRoot } from '../storage/served-root.js';
import type { ServerContext, Session } from './context.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { runSession, type RequestLogEntry } from './session.js';

export interface ListenOptions {
  port?: number;
  /** '::' (every interface, IPv4 too where the system maps it) by default. */
  host?: string;
}

interface Tracked {
  socket: net.Socket;
  session: Session;
  ip: string;
}

export interface TcpsendServerEvents {
  request: [RequestLogEntry];
  connectionRefused: [{ peer: string; reason: string }];
}

export class TcpsendServer extends EventEmitter<TcpsendServerEvents> {
  readonly options: ResolvedServerOptions;
  private readonly ctx: ServerContext;
  private readonly listener: net.Server;
  private readonly open = new Set<Tracked>();
  private readonly perIp = new Map<string, number>();

  private constructor(options: ResolvedServerOptions, root: ServedRoot) {
    super();
    this.options = options;
    this.ctx = { root, options, hashCache: new HashCache(), shuttingDown: false };
    this.listener = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket));
  }

  /** Open the served folder (it must exist) and make a server for it; call listen() next. */
  static async create(options: ServerOptions): Promise<TcpsendServer> {
    const resolved = resolveServerOptions(options);
    const root = await ServedRoot.open(resolved.root, { fs: resolved.fs });
    return new TcpsendServer(resolved, root);
  }

  async listen(options: ListenOptions = {}): Promise<net.AddressInfo> {
    const port = options.port ?? DEFAULT_PORT;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.listener.once('error', onError);
      const done = () => {
        this.listener.off('error', onError);
        resolve();
      };
      if (options.host === undefined) this.listener.listen({ port, ipv6Only: false }, done);
      else this.listener.listen({ port, host: options.host }, done);
    });
    return this.address();
  }

  address(): net.AddressInfo {
    const address = this.listener.address();
    if (address === null || typeof address === 'string') throw new Error('the server is not listening');
    return address;
  }

  get connectionCount(): number {
    return this.open.size;
  }

  get rootPath(): string {
    return this.ctx.root.rootPath;
  }

  private accept(socket: net.Socket): void {
    const ip = socket.remoteAddress ?? '?';
    const peer = `${ip.includes(':') ? `[${ip}]` : ip}:${socket.remotePort ?? 0}`;
    socket.on('error', () => {}); // errors surface through the session's reads and writes
    const fromIp = this.perIp.get(ip) ?? 0;
    const refusal =
      this.ctx.shuttingDown
        ? 'the server is shutting down'
        : this.open.size >= this.options.maxConnections
          ? `the server has its maximum of ${this.options.maxConnections} connections`
          : fromIp >= this.options.maxConnectionsPerIp
            ? `your address has its maximum of ${this.options.maxConnectionsPerIp} connections`
            : null;
    if (refusal !== null) {
      this.emit('connectionRefused', { peer, reason: refusal });
      const err = new TooManyConnectionsError(`${refusal}: try again later`);
      socket.end(`${formatErr(err.wireCode, err.message)}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }

    const file = new SocketFile(socket, {
      timeoutMs: this.options.idleTimeoutMs,
      maxLineLength: this.options.maxLineLength,
    });
    const tracked: Tracked = { socket, ip, session: { file, peer, outOfStep: false, busy: false } };
    this.open.add(tracked);
    this.perIp.set(ip, fromIp + 1);
    void runSession(this.ctx, socket, tracked.session, (entry) => this.emit('request', entry)).finally(() => {
      this.open.delete(tracked);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
      this.wakeClose?.();
    });
  }

  private wakeClose: (() => void) | null = null;

  /**
   * Stop accepting, close idle connections at once, give transfers in flight `graceMs` to
   * finish, then cut the rest. Unfinished uploads stay as partial files, ready to resume.
   */
  async close(graceMs = this.options.shutdownGraceMs): Promise<void> {
    this.ctx.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const { session, socket } of this.open) if (!session.busy) socket.destroy();
    const deadline = Date.now() + graceMs;
    while (this.open.size > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wakeClose = resolve;
        setTimeout(resolve, Math.max(0, Math.min(100, deadline - Date.now())));
      });
      for (const { session, socket } of this.open) if (!session.busy) socket.destroy();
    }
    this.wakeClose = null;
    for (const { socket } of this.open) socket.destroy();
    await closed;
  }
}

/** Make a server for `options.root` and start listening. */
export async function serve(options: ServerOptions & ListenOptions): Promise<TcpsendServer> {
  const server = await TcpsendServer.create(options);
  await server.listen(options);
  return server;
}
