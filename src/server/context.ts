/** What every handler gets: the server's shared state and the connection it serves. */
import type { SocketFile } from '../io/index.js';
import type { HashCache } from '../storage/hash-cache.js';
import type { ServedRoot } from '../storage/served-root.js';
import type { HttpFront } from './http/front.js';
import type { ResolvedServerOptions } from './options.js';

export interface ServerContext {
  readonly root: ServedRoot;
  readonly options: ResolvedServerOptions;
  readonly hashCache: HashCache;
  /** Where a connection that opens with an HTTP request line is handed. */
  readonly http: HttpFront;
  /** True once close() began: requests after that get ERR SHUTTING_DOWN. */
  shuttingDown: boolean;
}

export interface Session {
  readonly file: SocketFile;
  /** `address:port` of the client, for logs. */
  readonly peer: string;
  /**
   * Set while a request's bytes are partly read or written: an error then cannot be answered
   * in step, so the connection is closed after it.
   */
  outOfStep: boolean;
  /** A transfer is running (shutdown waits for it; an idle connection is closed at once). */
  busy: boolean;
  /** When the connection last finished a request (Date.now()), to pick whom to evict. */
  lastActive: number;
}

/** What a handler reports for the request log. */
export interface HandlerResult {
  /** Body bytes that crossed the wire. */
  bytes?: number;
  /** Close the connection after this reply (QUIT, bare selectors). */
  close?: boolean;
  /** A word for the log, e.g. 'identical', 'resumed@4096'. */
  note?: string;
}
