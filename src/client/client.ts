/**
 * TcpsendClient: one connection to a server, one method per verb. Requests may be issued
 * without awaiting the previous one; they are pipelined on the connection.
 */
import type { Duplex } from 'node:stream';
import {
  END_OF_LIST,
  formatRequest,
  parseEntry,
  readHashResult,
  readStat,
  type HashResult,
  type ListEntry,
  type StatInfo,
} from '../protocol/index.js';
import { connectTcp, type ConnectOptions } from './connect.js';
import { Connection, DEFAULT_CLIENT_TIMEOUT_MS } from './connection.js';
import { downloadFile, type DownloadOptions } from './download.js';
import type { LocalPlace } from '../transfer/local-file.js';
import { fetchMany, storeMany, type BatchHooks, type FetchItem, type StoreItem } from './batch.js';
import { formatTarget, parseTarget, type Target } from './target.js';
import { secureChannel } from './secure.js';
import { deriveKey } from '../transport/psk.js';
import { ConnectionLostError, UnexpectedEofError } from '../errors.js';
import { DirectReads } from '../io/index.js';
import type { ChecksumName } from '../hash/index.js';
import type { Socket } from 'node:net';
import type { TransferOptions, TransferResult } from './types.js';
import { uploadFile, type UploadOptions } from './upload.js';

export interface ClientOptions extends ConnectOptions {
  /** The server's shared secret: TLS 1.3 with a pre-shared key derived from it. */
  secret?: string;
  /** Idle timeout for each read and write once connected. */
  idleTimeoutMs?: number;
  /** False once this server has answered before: a silent close is then not about secrets. */
  firstContact?: boolean;
  /** The checksums this side may use, best first (default: all this process has). */
  checksums?: ChecksumName[];
  /** Open the stream yourself (TLS, a test pair); host and port are then only for messages. */
  dial?: (target: Target) => Promise<Duplex>;
}

export class TcpsendClient {
  readonly target: Target;
  readonly connection: Connection;

  private constructor(target: Target, connection: Connection) {
    this.target = target;
    this.connection = connection;
  }

  /** Connect to `HOST:PORT` (or a Target) and exchange HELLO and the greeting. */
  static async connect(target: string | Target, options: ClientOptions = {}): Promise<TcpsendClient> {
    const where = typeof target === 'string' ? parseTarget(target) : target;
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    // The key first: a server may close while a slow derivation runs, and the handshake must
    // start on a socket that is still open.
    const key = options.secret ? await deriveKey(options.secret) : null;
    // A plain TCP socket reads straight into the memory a body goes to (TLS reads its socket itself).
    const directReads = options.dial || options.secret ? undefined : new DirectReads();
    let stream: Duplex = options.dial ? await options.dial(where) : await connectTcp(where, { ...options, directReads });
    if (key) {
      stream = await secureChannel(stream as Socket, key, formatTarget(where), { timeoutMs: idleTimeoutMs, signal: options.signal });
    }
    const connection = new Connection(stream, idleTimeoutMs, { checksums: options.checksums, directReads });
    // Ctrl-C while waiting for the greeting: there is no client yet that abortNow() could cut.
    const onAbort = () => connection.close();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      options.signal?.throwIfAborted();
      await connection.hello();
    } catch (err) {
      connection.close();
      options.signal?.throwIfAborted();
      // A server with a secret drops a plain client without a word; so does a cut right at
      // the start. Say both, and let the retry logic treat it as the cut it may be.
      const silent = err instanceof ConnectionLostError && !(err.cause instanceof UnexpectedEofError);
      if (!options.secret && options.firstContact !== false && silent) {
        throw new ConnectionLostError(
          `${formatTarget(where)} closed the connection before its greeting (if it uses a secret, set TCPSEND_SECRET or use --secret-file)`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return new TcpsendClient(where, connection);
  }

  get uploadsAllowed(): boolean {
    return this.connection.uploadsAllowed;
  }

  /** The checksum this connection's transfers use (chosen from both sides' lists). */
  get checksum(): ChecksumName {
    return this.connection.checksum;
  }

  /** Whether the server's greeting lists `cap` ('mget', 'mput', ...). */
  supports(cap: string): boolean {
    return this.connection.caps.has(cap);
  }

  async stat(path: string, options: { hash?: boolean } = {}): Promise<StatInfo> {
    const { checksum } = this.connection;
    return readStat(await this.connection.simple({ verb: 'STAT', path, hash: options.hash ?? false, checksum }), checksum);
  }

  async hash(path: string, range: { offset?: number; length?: number } = {}): Promise<HashResult> {
    const { checksum } = this.connection;
    return readHashResult(
      await this.connection.simple({ verb: 'HASH', path, offset: range.offset ?? 0, length: range.length ?? null, checksum }),
      checksum,
    );
  }

  /**
   * LIST, streamed: a folder's entries (all of them below it with `recursive`) in batches, each
   * batch the lines that had arrived when it was read (one promise per batch, not per entry: a
   * listing may hold a million). With `links`, symlinks inside the root come as `type: 'link'`
   * entries with their text instead of as what they point to (a server without the `symlink`
   * capability ignores the field).
   */
  async *listBatches(path: string, options: { recursive?: boolean; links?: boolean } = {}): AsyncGenerator<ListEntry[]> {
    const batches: ListEntry[][] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let failure: unknown = null;
    const request = formatRequest({ verb: 'LIST', path, recursive: options.recursive ?? false, links: options.links ?? false });
    const reading = this.connection
      .exchange(
        (file) => file.writeLine(request),
        async (file) => {
          await this.connection.readOk();
          // A batch per turn: the first line waited for, then every whole line buffered with it.
          for (let ended = false; !ended; ) {
            const first = await this.connection.readLine();
            ended = first === END_OF_LIST;
            const batch: ListEntry[] = ended ? [] : [parseEntry(first)];
            for (const line of ended ? [] : file.takeBufferedLines(END_OF_LIST)) {
              if (line === END_OF_LIST) ended = true;
              else batch.push(parseEntry(line));
            }
            if (batch.length > 0) {
              batches.push(batch);
              wake?.();
            }
          }
        },
      )
      .catch((err: unknown) => {
        failure = err;
      })
      .finally(() => {
        done = true;
        wake?.();
      });
    for (;;) {
      const batch = batches.shift();
      if (batch !== undefined) {
        yield batch;
        continue;
      }
      if (done) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
    await reading;
    if (failure) throw failure;
  }

  /** LIST, streamed one entry at a time. */
  async *listStream(path: string, options: { recursive?: boolean; links?: boolean } = {}): AsyncGenerator<ListEntry> {
    for await (const batch of this.listBatches(path, options)) yield* batch;
  }

  async list(path: string, options: { recursive?: boolean } = {}): Promise<ListEntry[]> {
    const all: ListEntry[] = [];
    for await (const entry of this.listStream(path, options)) all.push(entry);
    return all;
  }

  async mkdir(path: string, options: { mtimeMs?: number; mode?: number } = {}): Promise<void> {
    await this.connection.simple({ verb: 'MKDIR', path, mtime: options.mtimeMs ?? null, mode: options.mode ?? null });
  }

  /**
   * DELETE: remove a file, a symlink (not followed) or a folder with everything in it. Needs the
   * greeting's `delete` capability and a server started with --allow-delete.
   */
  async delete(path: string): Promise<void> {
    await this.connection.simple({ verb: 'DELETE', path });
  }

  /**
   * SYMLINK: make `path` a symlink to `target` (relative, staying inside the root). With
   * `overwrite`, a file or link there is replaced (the server must allow it); the same link
   * there already is no change. Whether it made one: false for that same link.
   */
  async symlink(path: string, target: string, options: { overwrite?: boolean } = {}): Promise<boolean> {
    const fields = await this.connection.simple({ verb: 'SYMLINK', path, target, overwrite: options.overwrite ?? false });
    return fields.get('identical') !== '1';
  }

  /** Fetch one remote file into `localPath` (resuming a partial file there). */
  download(remotePath: string, localPath: string | LocalPlace, options?: DownloadOptions): Promise<TransferResult> {
    return downloadFile(this.connection, remotePath, localPath, options);
  }

  /** Send one local file to `remotePath` (resuming a partial upload the server holds). */
  upload(localPath: string, remotePath: string, options?: UploadOptions): Promise<TransferResult> {
    return uploadFile(this.connection, localPath, remotePath, options);
  }

  /** MGET: many small files of the remote `folder` in one request (see batch.ts). */
  fetchMany(folder: string, items: readonly FetchItem[], hooks: BatchHooks<FetchItem>): Promise<void> {
    return fetchMany(this.connection, folder, items, hooks);
  }

  /** MPUT: many small local files into the remote `folder` in one request (see batch.ts). */
  storeMany(folder: string, items: readonly StoreItem[], options: { overwrite?: boolean }, hooks: BatchHooks<StoreItem>): Promise<void> {
    return storeMany(this.connection, folder, items, options, hooks);
  }

  get isBroken(): boolean {
    return this.connection.isBroken;
  }

  /** Say QUIT and close. */
  async close(): Promise<void> {
    await this.connection.quit();
  }
}
