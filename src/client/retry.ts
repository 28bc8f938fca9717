/**
 * Retrying over dropped connections. A ReconnectingClient keeps one connection for as many
 * operations as it can and dials again, with backoff, only after a failure that a retry can
 * cure; each retried transfer resumes from its partial file.
 */
import { TcpsendError } from '../errors.js';
import { TcpsendClient, type ClientOptions } from './client.js';
import { parseTarget, type Target } from './target.js';

export interface RetryOptions {
  /** Further attempts after the first fails (default 8: about 30 s of backoff in all). */
  retries?: number;
  /**
   * Wait before the first retry (default 250 ms); doubles with each failure in a row, up to
   * 8 s, each wait ±25% at random. A new connection that gets through starts it again here.
   */
  backoffMs?: number;
  /** Told before each retry: `attempt` of `retries`, after `delayMs`. */
  onRetry?: (info: { attempt: number; retries: number; error: TcpsendError; delayMs: number }) => void;
  signal?: AbortSignal;
}

/**
 * "The default retry schedule must outlast a server restarted within 10 s": 0.25, 0.5, 1, 2, 4,
 * 8, 8 and 8 s, about 32 s in all, so the 6th retry comes about 16 s after the first failure.
 */
export const DEFAULT_RETRIES = 8;
export const DEFAULT_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 8_000;

/** The wait before a retry after `failuresInARow` failures: exponential, capped, with jitter. */
export function backoffDelay(failuresInARow: number, backoffMs = DEFAULT_BACKOFF_MS, random = Math.random): number {
  // ±25%: clients cut by the same restart do not all come back at the same instant.
  return Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** failuresInARow) * (0.75 + random() * 0.5);
}

/**
 * Codes a new attempt may cure: the connection, the server's load, a changing source. A
 * refusal (a missing or wrong secret, a permission) is never here: retrying cannot cure it.
 */
const RETRIABLE = new Set([
  'TCPSEND_ERR_CONNECTION_LOST',
  'TCPSEND_ERR_CONNECTION_REFUSED',
  'TCPSEND_ERR_CONNECT_TIMEOUT',
  'TCPSEND_ERR_UNEXPECTED_EOF',
  'TCPSEND_ERR_TIMEOUT',
  'TCPSEND_ERR_STREAM_CLOSED',
  'TCPSEND_ERR_STREAM_UNUSABLE',
  'TCPSEND_ERR_TRANSFER_INTERRUPTED',
  'TCPSEND_ERR_CHANGED',
  'TCPSEND_ERR_CHECKSUM_MISMATCH',
  'TCPSEND_ERR_BUSY',
  'TCPSEND_ERR_SHUTTING_DOWN',
  'TCPSEND_ERR_TOO_MANY_CONNECTIONS',
]);

/** On the first contact these mean a wrong address or a server not started: say so at once. */
const FIRST_CONTACT_FINAL = new Set([
  'TCPSEND_ERR_CONNECTION_REFUSED',
  'TCPSEND_ERR_CONNECT_TIMEOUT',
  'TCPSEND_ERR_HOST_NOT_FOUND',
]);

export function isRetriable(err: unknown): err is TcpsendError {
  return err instanceof TcpsendError && RETRIABLE.has(err.code);
}

/** Wait `ms`, or less if `signal` aborts; either way it stops listening to the signal. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      // A listener left behind per wait piled up on the one signal of a long run with many
      // retries: MaxListenersExceededWarning (issue 14.19).
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class ReconnectingClient {
  readonly target: Target;
  private client: TcpsendClient | null = null;
  /**
   * Connections that got through so far: a retry's backoff starts again after a new one, and
   * until one has worked, "nothing listens there" is an answer, not a blip.
   */
  private connections = 0;

  constructor(
    target: string | Target,
    private readonly options: ClientOptions & RetryOptions = {},
  ) {
    this.target = typeof target === 'string' ? parseTarget(target) : target;
  }

  private connecting: Promise<TcpsendClient> | null = null;

  /** Whether any connection got through: only then can a failure have left partial files. */
  get hasConnected(): boolean {
    return this.connections > 0;
  }

  /** The live client, connecting if there is none (or the last one broke). */
  async current(): Promise<TcpsendClient> {
    if (this.client !== null && !this.client.isBroken) return this.client;
    // Operations running side by side share one reconnection.
    this.connecting ??= (async () => {
      this.client?.connection.close();
      this.client = null;
      const client = await TcpsendClient.connect(this.target, { ...this.options, firstContact: this.connections === 0 });
      this.client = client;
      this.connections += 1;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Run `operation`, reconnecting and running it again after a retriable failure. */
  async run<T>(operation: (client: TcpsendClient) => Promise<T>): Promise<T> {
    const retries = this.options.retries ?? DEFAULT_RETRIES;
    const backoffMs = this.options.backoffMs ?? DEFAULT_BACKOFF_MS;
    let failuresInARow = 0;
    let connectionsSeen = this.connections;
    for (let attempt = 0; ; attempt++) {
      this.options.signal?.throwIfAborted();
      try {
        return await operation(await this.current());
      } catch (err) {
        if (!isRetriable(err) || attempt >= retries || this.options.signal?.aborted) throw err;
        if (this.connections === 0 && FIRST_CONTACT_FINAL.has(err.code)) throw err;
        // The backoff spares a server that is down or refusing. Once a new connection got
        // through, the next failure (a cut mid-transfer) is a new incident: without this, a
        // long transfer over a flaky link would wait the full 10 s after each of its later cuts.
        if (this.connections !== connectionsSeen) {
          connectionsSeen = this.connections;
          failuresInARow = 0;
        }
        const delayMs = backoffDelay(failuresInARow, backoffMs);
        failuresInARow += 1;
        this.options.onRetry?.({ attempt: attempt + 1, retries, error: err, delayMs });
        if (this.client?.isBroken) this.client = null;
        await sleep(delayMs, this.options.signal);
      }
    }
  }

  /** Cut the connection now (Ctrl-C): whatever is in flight fails, partial files stay. */
  abortNow(): void {
    this.client?.connection.close();
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }
}
