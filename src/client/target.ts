/** Parse `HOST:PORT`, `[v6]:PORT`, `HOST` and `:PORT` into a host and a port. */
import { UsageError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/index.js';

export interface Target {
  host: string;
  port: number;
}

function parsePort(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`bad port in '${spec}': expected 1-65535`);
  }
  return Number(text);
}

export function parseTarget(spec: string, defaultPort = DEFAULT_PORT): Target {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(spec);
  if (bracketed) {
    const [, host, port] = bracketed;
    return { host: host!, port: port === undefined ? defaultPort : parsePort(port, spec) };
  }
  if (spec.startsWith('[') || spec.includes(']')) {
    throw new UsageError(`bad address '${spec}': write an IPv6 address in brackets, then the port: [::1]:7070`);
  }
  const colons = spec.split(':').length - 1;
  if (colons > 1) return { host: spec, port: defaultPort }; // a bare IPv6 address
  if (colons === 1) {
    const [host, port] = spec.split(':') as [string, string];
    return { host: host || '127.0.0.1', port: parsePort(port, spec) };
  }
  if (spec === '') throw new UsageError('no host given: expected HOST:PORT');
  return { host: spec, port: defaultPort };
}

/** `host:port`, with brackets around IPv6 addresses. */
export function formatTarget({ host, port }: Target): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Does `spec` look like a HOST:PORT target rather than a local path? */
export function looksLikeTarget(spec: string): boolean {
  return /^\[[^\]]+\]:\d+$/.test(spec) || /^[^/\\:]*:\d+$/.test(spec);
}
