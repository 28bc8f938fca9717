/**
 * A raw peer for hostile-input tests: one loopback TCP connection that speaks bytes, not the
 * client library, and keeps a copy of every byte the other side sent (to prove later that
 * nothing from outside a served root ever came back).
 */
import net from 'node:net';
import { ConnectionLostError, StreamClosedError, UnexpectedEofError } from '../../src/errors.js';
import { SocketFile } from '../../src/io/index.js';

export interface RawPeerOptions {
  /** Where to connect; only loopback addresses are used in these tests. */
  host?: string;
  /** Source address (127.0.0.x) to connect from. */
  localAddress?: string;
  /** A read that waits longer than this fails (so a hang shows as an error, not a test timeout). */
  timeoutMs?: number;
  /** Longest line a read accepts (the peer may answer with long listings). */
  maxLineLength?: number;
}

export class RawPeer {
  readonly file: SocketFile;
  /** Every byte received, in order. */
  readonly received: Buffer[] = [];
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  #closed = false;

  constructor(readonly socket: net.Socket, options: RawPeerOptions = {}) {
    this.file = new SocketFile(socket, {
      timeoutMs: options.timeoutMs ?? 5000,
      maxLineLength: options.maxLineLength ?? 1024 * 1024,
    });
    socket.on('data', (chunk: Buffer) => this.received.push(chunk));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Everything received so far, as one buffer. */
  receivedBytes(): Buffer {
    return Buffer.concat(this.received);
  }

  async send(data: string | Buffer): Promise<void> {
    await this.file.write(data);
  }

  async sendLine(text: string): Promise<void> {
    await this.file.write(`${text}\r\n`);
  }

  async line(): Promise<string | null> {
    return this.file.readLine();
  }

  async bytes(n: number): Promise<Buffer> {
    return this.file.readExactly(n);
  }

  /** HELLO, then the greeting and `OK version=1`; returns the greeting. */
  async hello(): Promise<string> {
    await this.sendLine('HELLO');
    const greeting = await this.line();
    if (greeting === null || !greeting.startsWith('TCPSEND 1 ')) {
      throw new Error(`expected a greeting, got ${JSON.stringify(greeting)}`);
    }
    const ok = await this.line();
    if (ok !== 'OK version=1') throw new Error(`expected OK version=1, got ${JSON.stringify(ok)}`);
    return greeting;
  }

  /**
   * Wait for the other side to close: resolves with any bytes that came first (normally none).
   * A reset counts as a close. Throws if the stream is still open after `timeoutMs`.
   */
  async untilClosed(timeoutMs = 5000): Promise<Buffer> {
    const rest: Buffer[] = [];
    const deadline = Date.now() + timeoutMs;
    this.file.setTimeout(timeoutMs);
    for (;;) {
      if (Date.now() > deadline) throw new Error(`still open after ${timeoutMs} ms`);
      let chunk: Buffer | null;
      try {
        chunk = await this.file.read(64 * 1024);
      } catch (err) {
        if (isCloseError(err)) return Buffer.concat(rest);
        throw err;
      }
      if (chunk === null) return Buffer.concat(rest);
      rest.push(chunk);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A reset or a close seen by a reader: what "the server closed the connection" looks like. */
export function isCloseError(err: unknown): boolean {
  return (
    err instanceof ConnectionLostError ||
    err instanceof StreamClosedError ||
    err instanceof UnexpectedEofError
  );
}

/** Connect to 127.0.0.1:`port` (or `options.host`), optionally from `options.localAddress`. */
export async function connectRaw(port: number, options: RawPeerOptions = {}): Promise<RawPeer> {
  const host = options.host ?? '127.0.0.1';
  if (!host.startsWith('127.')) throw new Error(`raw peers talk to loopback only, not ${host}`);
  const socket = net.connect({ host, port, localAddress: options.localAddress, noDelay: true });
  socket.on('error', () => {}); // surfaced through the SocketFile's reads
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return new RawPeer(socket, options);
}

/** Keeps every peer a test opens, to destroy them all in afterEach. */
export class PeerPool {
  readonly #peers = new Set<RawPeer>();
  /** Every peer this pool ever opened, open or not: to look through what they received. */
  readonly history: RawPeer[] = [];

  async connect(port: number, options: RawPeerOptions = {}): Promise<RawPeer> {
    const peer = await connectRaw(port, options);
    this.#peers.add(peer);
    this.history.push(peer);
    void peer.closed.then(() => this.#peers.delete(peer));
    return peer;
  }

  destroyAll(): void {
    for (const peer of this.#peers) peer.destroy();
    this.#peers.clear();
  }
}
