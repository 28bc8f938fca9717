/**
 * Open a TCP connection, trying each address a host name resolves to in turn, as Python's
 * socket.create_connection does, and turning failures into errors a person can act on.
 */
import net from 'node:net';
import {
  ConnectionLostError,
  ConnectionRefusedError,
  ConnectTimeoutError,
  HostNotFoundError,
  type TcpsendError,
} from '../errors.js';
import type { DirectReads } from '../io/index.js';
import { formatTarget, type Target } from './target.js';

export interface ConnectOptions {
  /** Per-address connect timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Create the socket with these direct reads (Node's `onread`; see SocketFile's DirectReads). */
  directReads?: DirectReads;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function connectOnce(address: string, family: number, port: number, timeoutMs: number, signal?: AbortSignal, reads?: DirectReads): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, family, noDelay: true, ...(reads ? { onread: reads.onread } : {}) });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      done();
      socket.destroy();
      const err = new Error(`timed out after ${timeoutMs} ms`) as NodeJS.ErrnoException;
      err.code = 'ETIMEDOUT';
      reject(err);
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      done();
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      done();
      socket.destroy();
      reject(err);
    });
  });
}

function explain(err: NodeJS.ErrnoException, where: string): TcpsendError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new ConnectionRefusedError(
        `nothing is listening on ${where} (is 'tcpsend serve' running there?)`,
        { cause: err },
      );
    case 'ETIMEDOUT':
      return new ConnectTimeoutError(
        `no answer from ${where} (${err.message}; is the host up, and the port open in its firewall?)`,
        { cause: err },
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectTimeoutError(`no route to ${where} (${err.code})`, { cause: err });
    default:
      return new ConnectionLostError(`cannot connect to ${where}: ${err.message}`, { cause: err });
  }
}

export async function connectTcp(target: Target, options: ConnectOptions = {}): Promise<net.Socket> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const where = formatTarget(target);
  let addresses: { address: string; family: number }[];
  if (net.isIP(target.host)) {
    addresses = [{ address: target.host, family: net.isIP(target.host) }];
  } else {
    try {
      // Loaded only for a name: node:dns/promises costs a few ms of start-up, an address none.
      const { lookup } = await import('node:dns/promises');
      addresses = await lookup(target.host, { all: true });
    } catch (err) {
      throw new HostNotFoundError(`host not found: '${target.host}'`, { cause: err });
    }
  }
  let firstError: NodeJS.ErrnoException | null = null;
  for (const { address, family } of addresses) {
    options.signal?.throwIfAborted();
    try {
      const socket = await connectOnce(address, family, target.port, timeoutMs, options.signal, options.directReads);
      socket.setKeepAlive(true, 30_000);
      return socket;
    } catch (err) {
      options.signal?.throwIfAborted();
      firstError ??= err as NodeJS.ErrnoException;
    }
  }
  throw explain(firstError ?? Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), where);
}
