/**
 * TcpsendServer: listen, accept, enforce connection limits, and shut down gracefully. Each
 * accepted socket runs its own session (session.ts); one client's failure never touches
 * another's.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { AuthError, TooManyConnectionsError } from '../errors.js';
import { SocketFile } from '../io/index.js';
import { DEFAULT_PORT, formatErr } from '../protocol/index.js';
import { HashCache, Root, UploadLocks } from './root/index.js';
import { Session, type ServerContext } from './context.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { HttpFront, opensWithHttp } from './http/front.js';
import { runSession, type RequestLogEntry, type TransferStart } from './session.js';
import { deriveKey, serverTlsOptions } from '../transport/psk.js';
import { startsTls } from '../transport/records.js';

export interface ListenOptions {
  port?: number;
  /** '::' (every interface, IPv4 too where the system maps it) by default. */
  host?: string;
}

/**
 * One admitted connection, from accept to close. It counts against the caps at every stage:
 * before TLS, during the handshake, and in its session.
 */
interface Slot {
  /** The accepted TCP socket. */
  socket: net.Socket;
  ip: string;
  peer: string;
  /** When it was accepted (Date.now()). */
  since: number;
  /** The running session; null while the TLS handshake is still to come. */
  session: Session | null;
  /** The TLS socket the session runs on, with a secret. */
  secure: tls.TLSSocket | null;
}

/** The TLS server hands back its own socket: the peer's address and port find our slot again. */
const handshakeKey = (socket: net.Socket) => `${socket.remoteAddress}|${socket.remotePort}`;

/** Whom to evict first: a connection before its session (the oldest), then the longest idle. */
function evictsBefore(a: Slot, b: Slot): boolean {
  if ((a.session === null) !== (b.session === null)) return a.session === null;
  return (a.session?.lastActive ?? a.since) < (b.session?.lastActive ?? b.since);
}

/** A ClientHello is a few hundred bytes; a peer that sends more before the handshake is not TLS. */
const MAX_BYTES_BEFORE_TLS = 64 * 1024;

export interface TcpsendServerEvents {
  request: [RequestLogEntry];
  connectionRefused: [{ peer: string; reason: string }];
  transferStart: [TransferStart];
}

export class TcpsendServer extends EventEmitter<TcpsendServerEvents> {
  readonly options: ResolvedServerOptions;
  private readonly ctx: ServerContext;
  private readonly listener: net.Server;
  private readonly open = new Set<Slot>();
  private readonly perIp = new Map<string, number>();
  /** With a secret, raw sockets are handed to this once their first bytes are in. */
  private readonly tlsServer: tls.Server | null;
  /** Connections handed to the TLS server, by remote address and port, until it answers. */
  private readonly handshaking = new Map<string, Slot>();
  /** Failed handshakes per address: each further attempt waits longer. */
  private readonly authFailures = new Map<string, { count: number; last: number }>();

  private constructor(options: ResolvedServerOptions, root: Root, key: Buffer | null) {
    super();
    this.options = options;
    this.ctx = { root, options, hashCache: new HashCache(), uploadLocks: new UploadLocks(), readAhead: { bytes: 0 }, shuttingDown: false, http: new HttpFront(options) };
    this.tlsServer = key ? this.makeTlsServer(key, options.handshakeTimeoutMs) : null;
    // allowHalfOpen: a classic client (nc -N, shutdown(SHUT_WR)) ends its side right after its
    // selector line and still reads the answer until we close.
    this.listener = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.admit(socket));
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

  private makeTlsServer(key: Buffer, handshakeTimeoutMs: number): tls.Server {
    const server = tls.createServer({ ...serverTlsOptions(key), allowHalfOpen: false, handshakeTimeout: handshakeTimeoutMs });
    server.on('secureConnection', (secure: tls.TLSSocket) => {
      const slot = this.takeHandshaking(secure);
      if (slot === null || slot.socket.destroyed) {
        secure.destroy(); // evicted or timed out while its handshake ran
        return;
      }
      this.authFailures.delete(slot.ip);
      slot.secure = secure;
      secure.on('error', () => {}); // errors surface through the session's reads and writes
      secure.once('close', () => slot.socket.destroy());
      this.startSession(slot, secure);
    });
    server.on('tlsClientError', (err: Error & { code?: string }, secure) => {
      const slot = this.takeHandshaking(secure);
      secure.destroy();
      if (slot === null) return;
      slot.socket.destroy();
      // Only a handshake that OpenSSL judged (a wrong key, garbage) is a failed attempt; a
      // peer that went away or was too slow guessed nothing.
      const judged = err.code?.startsWith('ERR_SSL_') ?? false;
      if (judged) {
        const seen = this.authFailures.get(slot.ip);
        this.authFailures.set(slot.ip, { count: (seen?.count ?? 0) + 1, last: Date.now() });
        // Bounded: a scan from many addresses must not grow this without end.
        if (this.authFailures.size > 10_000) this.authFailures.clear();
      }
      this.emit('connectionRefused', {
        peer: slot.peer,
        reason: judged
          ? `TLS handshake failed (wrong secret?): ${err.message.split('\n')[0]}`
          : `the TLS handshake did not finish: ${err.message.split('\n')[0]}`,
      });
    });
    return server;
  }

  private takeHandshaking(secure: net.Socket): Slot | null {
    const key = handshakeKey(secure);
    const slot = this.handshaking.get(key) ?? null;
    this.handshaking.delete(key);
    return slot;
  }

  /**
   * Count the connection against the caps, or turn it away. "Every connection, at every stage,
   * counts": it is counted from here until its TCP socket closes.
   */
  private admit(socket: net.Socket): void {
    socket.on('error', () => {}); // errors surface through the session's reads and writes
    const ip = socket.remoteAddress ?? '?';
    const peer = `${ip.includes(':') ? `[${ip}]` : ip}:${socket.remotePort ?? 0}`;
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
      if (this.tlsServer) {
        // A TLS client cannot read a plain-text line; it sees a close and tries again later.
        socket.destroy();
        return;
      }
      const err = new TooManyConnectionsError(`${refusal}: try again later`);
      socket.end(`${formatErr(err.wireCode, err.message)}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const slot: Slot = { socket, ip, peer, since: Date.now(), session: null, secure: null };
    this.open.add(slot);
    this.perIp.set(ip, fromIp + 1);
    socket.once('close', () => {
      slot.secure?.destroy();
      const key = handshakeKey(socket);
      if (this.handshaking.get(key) === slot) this.handshaking.delete(key);
      this.forget(slot);
      this.wakeClose?.();
    });
    if (this.tlsServer) this.beforeTls(slot);
    else this.startSession(slot, socket);
  }

  /**
   * With a secret: wait for the client's first bytes (holding them for the TLS server), then
   * hand the socket over. A plain-text client is told at once that a secret is needed.
   * "repeated failures are slowed down": after 3 failed handshakes from an address, each new
   * attempt from it waits 2^(n-3) × 250 ms (at most 30 s) before its handshake starts. All the
   * while the connection counts, is closed when its peer closes, and has a deadline.
   */
  private beforeTls(slot: Slot): void {
    const { socket, ip } = slot;
    const seen = this.authFailures.get(ip);
    if (seen && Date.now() - seen.last > 10 * 60_000) this.authFailures.delete(ip);
    const count = this.authFailures.get(ip)?.count ?? 0;
    const delayMs = count < 3 ? 0 : Math.min(30_000, 250 * 2 ** (count - 3));
    const held: Buffer[] = [];
    let heldBytes = 0;
    let delayOver = delayMs === 0;
    // "bounded by a handshake timeout": from accept to a running session.
    const timeoutMs = this.options.handshakeTimeoutMs;
    const deadline = setTimeout(() => {
      if (slot.session !== null) return;
      this.emit('connectionRefused', { peer: slot.peer, reason: `no TLS session within ${timeoutMs / 1000} s` });
      socket.destroy();
    }, delayMs + timeoutMs);
    socket.once('close', () => clearTimeout(deadline));
    const handOver = () => {
      if (socket.destroyed || !delayOver || heldBytes === 0) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      // The TLS socket reads what is buffered here first, then the rest from the wire.
      socket.unshift(Buffer.concat(held));
      // The TLS socket inherits this: a peer that closes mid-handshake must not leave our side
      // open (CLOSE-WAIT) until the deadline. No TLS client of ours half-closes.
      socket.allowHalfOpen = false;
      this.handshaking.set(handshakeKey(socket), slot);
      this.tlsServer!.emit('connection', socket);
    };
    const onData = (chunk: Buffer) => {
      if (heldBytes === 0 && !startsTls(chunk)) {
        socket.off('data', onData);
        socket.off('end', onEnd);
        // A browser gets its session, where every request is answered with a page that says a
        // secret is needed (http/routes.ts); any other plain-text client gets an ERR line.
        if (opensWithHttp(chunk)) {
          socket.pause();
          socket.unshift(chunk);
          this.startSession(slot, socket);
          socket.resume();
        } else this.refuseWithoutSecret(slot);
        return;
      }
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes > MAX_BYTES_BEFORE_TLS) socket.destroy();
      else handOver();
    };
    // "closed when its peer closes": before TLS, an end is the end.
    const onEnd = () => socket.destroy();
    socket.on('data', onData);
    socket.once('end', onEnd);
    if (!delayOver) {
      setTimeout(() => {
        delayOver = true;
        handOver();
      }, delayMs).unref();
    }
  }

  /** A plain-text client at a server with a secret: one ERR line it can read, then close. */
  private refuseWithoutSecret(slot: Slot): void {
    this.emit('connectionRefused', { peer: slot.peer, reason: 'no secret (a plain-text client)' });
    const err = new AuthError('missing secret (set TCPSEND_SECRET or use --secret-file): a secret is required');
    slot.socket.end(`${formatErr(err.wireCode, err.message)}\r\n`);
    setTimeout(() => slot.socket.destroy(), 1000).unref();
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

  private startSession(slot: Slot, stream: net.Socket): void {
    const file = new SocketFile(stream, {
      timeoutMs: this.options.idleTimeoutMs,
      maxLineLength: this.options.maxLineLength,
    });
    const session = new Session(file, slot.peer, slot.ip);
    slot.session = session;
    const log = Object.assign((entry: RequestLogEntry) => this.emit('request', entry), {
      started: (start: TransferStart) => this.emit('transferStart', start),
    });
    void runSession(this.ctx, stream, session, log).finally(() => {
      slot.socket.destroy(); // its close counts it out (a no-op if it was evicted)
    });
  }

  /**
   * Make room: a connection still before its TLS session goes first (the oldest), then the
   * session idle the longest. Busy sessions are never cut.
   */
  private evictIdlest(): void {
    let idlest: Slot | null = null;
    for (const t of this.open) {
      if (t.session?.busy) continue;
      if (idlest === null || evictsBefore(t, idlest)) idlest = t;
    }
    if (idlest) {
      this.forget(idlest); // counted out now; its close comes later
      this.cut(idlest);
    }
  }

  private forget(slot: Slot): boolean {
    if (!this.open.delete(slot)) return false;
    const left = (this.perIp.get(slot.ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(slot.ip, left);
    else this.perIp.delete(slot.ip);
    return true;
  }

  private cut(slot: Slot): void {
    slot.secure?.destroy();
    slot.socket.destroy();
  }

  private wakeClose: (() => void) | null = null;

  /**
   * Stop accepting, close idle connections at once, give transfers in flight `graceMs` to
   * finish, then cut the rest. Unfinished uploads stay as partial files, ready to resume.
   */
  async close(graceMs = this.options.shutdownGraceMs): Promise<void> {
    this.ctx.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const slot of this.open) if (!slot.session?.busy) this.cut(slot);
    const deadline = Date.now() + graceMs;
    while (this.open.size > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wakeClose = resolve;
        setTimeout(resolve, Math.max(0, Math.min(100, deadline - Date.now())));
      });
      for (const slot of this.open) if (!slot.session?.busy) this.cut(slot);
    }
    this.wakeClose = null;
    for (const slot of this.open) this.cut(slot);
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
