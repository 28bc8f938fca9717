/** What every handler gets: the server's shared state and the connection it serves. */
import type { SocketFile } from '../io/index.js';
import type { HttpFront } from './http/front.js';
import type { HashCache } from './root/hash-cache.js';
import type { Root } from './root/root.js';
import type { LockHolder, UploadLocks } from './root/upload-locks.js';
import type { ResolvedServerOptions } from './options.js';

export interface ServerContext {
  readonly root: Root;
  readonly options: ResolvedServerOptions;
  readonly hashCache: HashCache;
  /** One writer per upload path, across all connections. */
  readonly uploadLocks: UploadLocks;
  /** Bytes that replies prepared ahead of their turn hold, over all connections (session.ts). */
  readonly readAhead: { bytes: number };
  /** Where a connection that opens with an HTTP request line is handed. */
  readonly http: HttpFront;
  /** True once close() began: requests after that get ERR SHUTTING_DOWN. */
  shuttingDown: boolean;
}

/**
 * One connection's state. The session loop owns whether the stream is in step; a handler says
 * when a request's bytes start and stop being partly on the wire (markOutOfStep, markInStep),
 * and the loop decides from that whether an error can be answered and the connection go on.
 */
export class Session {
  #outOfStep = false;
  readonly #cut = new AbortController();
  readonly #ended = new AbortController();
  /** A transfer is running (shutdown waits for it; an idle connection is closed at once). */
  busy = false;
  /** When the connection last finished a request (Date.now()), to pick whom to evict. */
  lastActive = Date.now();
  /** The client said HELLO progress=1: it takes `+` lines while a slow answer is being worked out. */
  progress = false;

  /** This connection as the holder of an upload lock: cut when it has gone quiet (upload-locks.ts). */
  readonly lockHolder: LockHolder;

  constructor(
    readonly file: SocketFile,
    /** `address:port` of the client, for logs. */
    readonly peer: string,
    /** The client's address alone, e.g. '192.168.1.20'. */
    readonly ip: string,
  ) {
    this.lockHolder = { ip, cut: () => file.close() };
  }

  /** Whether a request's bytes are partly read or written: an error then cannot be answered in step. */
  get outOfStep(): boolean {
    return this.#outOfStep;
  }

  /** From here on an error cannot be answered in step (a body, or items, are partly on the wire). */
  markOutOfStep(): void {
    this.#outOfStep = true;
  }

  /** The request's bytes are all read and written: the stream is in step again. */
  markInStep(): void {
    this.#outOfStep = false;
  }

  /**
   * Run `work`, which reads or writes part of a request's or a reply's bytes: while it runs,
   * and after it fails, the stream is out of step (an error closes the connection); once it
   * has succeeded, it is in step again.
   */
  async partway<T>(work: () => Promise<T>): Promise<T> {
    this.#outOfStep = true;
    const result = await work();
    this.#outOfStep = false;
    return result;
  }

  /** Aborted once the connection is over or cut: work for an answer (its trailer's hash) stops then. */
  get signal(): AbortSignal {
    return this.#cut.signal;
  }

  /**
   * Aborted as soon as the peer has ended its side, or gone: hashing that must finish before
   * an answer can begin (HASH, STAT hash=1, a resume's prefix check) stops then. A peer that
   * half-closes still gets the answers that are already flowing.
   */
  get beforeAnswer(): AbortSignal {
    return this.#ended.signal;
  }

  /** The peer ended its side of the connection. */
  peerEnded(reason: Error): void {
    this.#ended.abort(reason);
  }

  /** The connection is over: stop what works for it. */
  end(reason: Error): void {
    this.#ended.abort(reason);
    this.#cut.abort(reason);
  }
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
