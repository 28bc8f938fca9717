/** Server settings and their defaults (docs/security.md lists every limit). */
import type { RootFs } from './root/fs-port.js';
import { availableChecksums, type ChecksumName } from '../hash/index.js';

export interface ServerOptions {
  /** The folder to serve. */
  root: string;
  /** Take PUT and MKDIR (off by default: a server is read-only unless told otherwise). */
  allowUpload?: boolean;
  /** Let an upload replace an existing file when the client asks with overwrite=1. */
  allowOverwrite?: boolean;
  /** Take DELETE (off by default): remove files, symlinks and whole folders inside the root. */
  allowDelete?: boolean;
  /** Connections open at once, from everyone. */
  maxConnections?: number;
  /** Connections open at once from one IP address. */
  maxConnectionsPerIp?: number;
  /** Drop a connection that sends or takes nothing for this long. */
  idleTimeoutMs?: number;
  /** Longest request line, in bytes. */
  maxLineLength?: number;
  /** Once a request line has begun, all of it must arrive within this many ms. */
  lineDeadlineMs?: number;
  /** Largest single upload, in bytes. */
  maxUploadBytes?: number;
  /** On close(), how long transfers in flight may run on. */
  shutdownGraceMs?: number;
  /**
   * While a slow answer is worked out (a long hash before a resume, HASH, STAT hash=1), a
   * client that said HELLO progress=1 gets a `+` line this often, so its idle timeout does not
   * give up on a server that is busy for it.
   */
  progressIntervalMs?: number;
  /** Serve, list and take uploads of hidden files ('.git', '.env'); off by default. */
  dotfiles?: boolean;
  /**
   * The checksums to offer, best first (default: every one this process can compute). The
   * greeting lists them; a request naming another is refused.
   */
  checksums?: ChecksumName[];
  /** A shared secret: TLS 1.3 with a key derived from it, and only peers that hold it. */
  secret?: string;
  /** With a secret: from accept to a running session at most this long (plus any slow-down). */
  handshakeTimeoutMs?: number;
  /** File system to serve from: node:fs by default (memfs, or a fault-injecting wrapper, in tests). */
  fs?: RootFs;
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'fs' | 'secret'>> & Pick<ServerOptions, 'fs' | 'secret'>;

export const DEFAULT_SERVER_OPTIONS = {
  allowUpload: false,
  allowOverwrite: false,
  allowDelete: false,
  dotfiles: false,
  maxConnections: 512,
  maxConnectionsPerIp: 64,
  idleTimeoutMs: 60_000,
  maxLineLength: 8192,
  lineDeadlineMs: 10_000,
  maxUploadBytes: 1024 ** 4, // 1 TiB
  shutdownGraceMs: 5_000,
  progressIntervalMs: 5_000,
  handshakeTimeoutMs: 10_000,
} as const;

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const resolved: ResolvedServerOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    checksums: availableChecksums(),
    ...stripUndefined(options),
    root: options.root,
  };
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
