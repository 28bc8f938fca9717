/**
 * TcpsendServer: listen, accept, enforce connection limits, and shut down gracefully. Each
 * accepted socket runs its own session (session.ts); one client's failure never touches
 * another's.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { TooManyConnectionsError } from '../errors.js';
import { SocketFile } from '../io/index.js';
import { DEFAULT_PORT, formatErr } from '../protocol/index.js';
import { HashCache, Root, UploadLocks } from './root/index.js';
import { Session, type ServerContext } from './context.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { firstChunk, HttpFront, opensWithHttp } from './http/front.js';
import { runSession, type RequestLogEntry } from './session.js';
import { deriveKey, serverTlsOptions } from '../transport/psk.js';

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
  /** With a secret, raw sockets are handed to this after any penalty delay. */
  private readonly tlsServer: tls.Server | null;
  /** Failed handshakes per address: each further attempt waits longer. */
  private readonly authFailures = new Map<string, { count: number; last: number }>();

  private constructor(options: ResolvedServerOptions, root: Root, key: Buffer | null) {
    super();
    this.options = options;
    this.ctx = { root, options, hashCache: new HashCache(), uploadLocks: new UploadLocks(), readAhead: { bytes: 0 }, shuttingDown: false, http: new HttpFront(options) };
    this.tlsServer = key ? this.makeTlsServer(key) : null;
    // allowHalfOpen: a classic client (nc -N, shutdown(SHUT_WR)) ends its side right after its
    // selector line and still reads the answer until we close.
    this.listener = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      if (this.tlsServer) this.handshake(socket);
      else this.accept(socket);
    });
  }

  /** Open the served folder (it must exist) and make a server for it; call listen() next. */
  static async create(options: ServerOptions): Promise<TcpsendServer> {
    const resolved = resolveServerOptions(options);
    const root = await Root.open(resolved.root, { fs: resolved.fs, dotfiles: resolved.dotfiles });
    const key = resolved.secret ? await deriveKey(resolved.secret) : null;
    return new TcpsendServer(resolved, root, key);
  }

  get encrypted(): boolean {
    return this.tlsServer !== null;
  }

  private makeTlsServer(key: Buffer): tls.Server {
    const server = tls.createServer({ ...serverTlsOptions(key), allowHalfOpen: true });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      if (socket.remoteAddress) this.authFailures.delete(socket.remoteAddress);
      this.accept(socket);
    });
    server.on('tlsClientError', (err, socket) => {
      const ip = socket.remoteAddress ?? '?';
      const seen = this.authFailures.get(ip);
      this.authFailures.set(ip, { count: (seen?.count ?? 0) + 1, last: Date.now() });
      // Bounded: a scan from many addresses must not grow this without end.
      if (this.authFailures.size > 10_000) this.authFailures.clear();
      this.emit('connectionRefused', { peer: ip, reason: `TLS handshake failed (wrong or missing secret?): ${err.message.split('\n')[0]}` });
    });
    return server;
  }

  /**
   * "repeated failures are slowed down": after 3 failed handshakes from an address, each new
   * attempt from it waits 2^(n-3) × 250 ms (at most 30 s) before its handshake starts.
   */
  private handshake(socket: net.Socket): void {
    socket.on('error', () => {});
    const ip = socket.remoteAddress ?? '?';
    const seen = this.authFailures.get(ip);
    if (seen && Date.now() - seen.last > 10 * 60_000) this.authFailures.delete(ip);
    const count = this.authFailures.get(ip)?.count ?? 0;
    const delayMs = count < 3 ? 0 : Math.min(30_000, 250 * 2 ** (count - 3));
    const go = () => {
      if (!socket.destroyed) this.tlsServer!.emit('connection', socket);
    };
    // Plain HTTP (a browser) is answered with a page that says a secret is needed (routes.ts).
    void firstChunk(socket, this.options.lineDeadlineMs).then((chunk) => {
      if (chunk === null) socket.destroy();
      else if (opensWithHttp(chunk)) {
        this.accept(socket);
        socket.resume(); // firstChunk left it paused; its reader is attached now
      }
      else if (delayMs === 0) go();
      else setTimeout(go, delayMs).unref();
    });
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
    // At the cap, an idle connection makes room: a flood of idle peers cannot lock out a
    // client that has work to do. Only when every connection is busy is the newcomer refused.
    if (this.open.size >= this.options.maxConnections && fromIp < this.options.maxConnectionsPerIp) {
      this.evictIdlest();
    }
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
    const tracked: Tracked = { socket, ip, session: new Session(file, peer, ip) };
    this.open.add(tracked);
    this.perIp.set(ip, fromIp + 1);
    void runSession(this.ctx, socket, tracked.session, (entry) => this.emit('request', entry)).finally(() => {
      this.forget(tracked); // a no-op if it was evicted, and counted out then
      this.wakeClose?.();
    });
  }

  private evictIdlest(): void {
    let idlest: Tracked | null = null;
    for (const t of this.open) {
      if (t.session.busy) continue;
      if (idlest === null || t.session.lastActive < idlest.session.lastActive) idlest = t;
    }
    if (idlest) {
      this.forget(idlest); // counted out now; its session's finally runs later
      idlest.socket.destroy();
    }
  }

  private forget(tracked: Tracked): boolean {
    if (!this.open.delete(tracked)) return false;
    const left = (this.perIp.get(tracked.ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(tracked.ip, left);
    else this.perIp.delete(tracked.ip);
    return true;
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
    this.ctx.http.close();
    await closed;
  }
}

/** Make a server for `options.root` and start listening. */
export async function serve(options: ServerOptions & ListenOptions): Promise<TcpsendServer> {
  const server = await TcpsendServer.create(options);
  await server.listen(options);
  return server;
}
