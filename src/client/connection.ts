/**
 * One client connection: the greeting, and request/response exchanges that may be pipelined.
 *
 * Each exchange writes its request under the write turnstile and reads its reply under the
 * read turnstile; the read place is reserved when the write place is taken, so replies are
 * read in the order requests went out, however many are in flight.
 */
import type { Duplex } from 'node:stream';
import {
  ChecksumMismatchError,
  ConnectionLostError,
  ProtocolError,
  UsageError,
  RemoteError,
  TcpsendError,
  UnexpectedEofError,
} from '../errors.js';
import { SocketFile, type DirectReads } from '../io/index.js';
import { availableChecksums, chooseChecksum, formatChecksumList, LEGACY_CHECKSUM, type ChecksumName } from '../hash/index.js';
import {
  formatRequest,
  greetingCaps,
  greetingChecksums,
  parseGreeting,
  isProgressLine,
  parseResponse,
  readHelloReply,
  PROTOCOL_VERSION,
  type Greeting,
  type Request,
} from '../protocol/index.js';
import { VERSION } from '../version.js';
import { Turnstile } from './turnstile.js';

export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
/** Lines from the server (listings carry long paths) may be longer than request lines. */
const MAX_REPLY_LINE = 64 * 1024;

export interface ExchangeOptions {
  /** Keep other requests from being written until `read` is done (two-step PUT). */
  holdWrite?: boolean;
}

/**
 * Failures after which the stream is still in step: an ERR answer, or a checksum found wrong
 * after the trailer. Anything else broke the connection.
 */
export function leavesStreamInStep(err: unknown): err is RemoteError | ChecksumMismatchError {
  return err instanceof RemoteError || err instanceof ChecksumMismatchError;
}

/** A response line's fields if it is OK; a RemoteError if ERR. */
export function okFields(line: string): Map<string, string> {
  const response = parseResponse(line);
  if (!response.ok) throw new RemoteError(response.code, response.message);
  return response.fields;
}

export class Connection {
  readonly file: SocketFile;
  greeting: Greeting | null = null;
  /**
   * The checksum of every transfer on this connection: the best one both sides have, chosen
   * once the greeting is in (SHA-256 until then, and with an older server).
   */
  checksum: ChecksumName = LEGACY_CHECKSUM;
  /** Set once the stream lost its place; every later exchange fails with it. */
  private broken: Error | null = null;
  private readonly writeTurn = new Turnstile();
  private readonly readTurn = new Turnstile();

  /** The checksums this client may use, best first (`--checksum-choice` leaves one). */
  readonly checksums: readonly ChecksumName[];

  constructor(
    stream: Duplex,
    timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
    options: { checksums?: readonly ChecksumName[]; directReads?: DirectReads } = {},
  ) {
    this.checksums = options.checksums ?? availableChecksums();
    this.file = new SocketFile(stream, { timeoutMs, maxLineLength: MAX_REPLY_LINE, directReads: options.directReads });
  }

  /** Send HELLO (with the checksums this side has) and read the greeting and its answer. */
  async hello(): Promise<Greeting> {
    const hello = formatRequest({
      verb: 'HELLO',
      version: PROTOCOL_VERSION,
      client: `tcpsend/${VERSION}`,
      progress: true,
      checksums: formatChecksumList(this.checksums),
    });
    await this.exchange(
      // progress=1: a server busy working out an answer (a long hash) says so with `+` lines.
      (file) => file.writeLine(hello),
      async () => {
        const first = await this.readLine();
        // A server that turns the connection away (full, stopping, a secret needed) answers
        // ERR in place of its greeting.
        const refusal = first.startsWith('ERR ') ? parseResponse(first) : null;
        if (refusal && !refusal.ok) throw new RemoteError(refusal.code, refusal.message);
        this.greeting = parseGreeting(first);
        readHelloReply(await this.readOk());
      },
    );
    const offered = greetingChecksums(this.greeting!);
    const chosen = chooseChecksum(this.checksums, offered);
    if (chosen === null) {
      this.close();
      throw new UsageError(
        `the server checks with ${offered.join(', ')} only, and this side with ${this.checksums.join(', ')} (see --checksum-choice)`,
      );
    }
    this.checksum = chosen;
    return this.greeting!;
  }

  get caps(): Set<string> {
    return this.greeting ? greetingCaps(this.greeting) : new Set();
  }

  get uploadsAllowed(): boolean {
    return this.greeting?.fields.get('upload') === '1';
  }

  /**
   * Write with `write`, then read with `read` once every earlier reply has been read. A
   * failure that leaves the stream out of step breaks the connection for later exchanges.
   */
  async exchange<T>(
    write: (file: SocketFile) => Promise<void>,
    read: (file: SocketFile) => Promise<T>,
    options: ExchangeOptions = {},
  ): Promise<T> {
    if (this.broken) throw this.broken;
    const releaseWrite = await this.writeTurn.take();
    const readPlace = this.readTurn.take();
    let writeHeld = true;
    const releaseWriteOnce = () => {
      if (writeHeld) {
        writeHeld = false;
        releaseWrite();
      }
    };
    let releaseRead: (() => void) | null = null;
    try {
      if (this.broken) throw this.broken;
      await write(this.file);
      if (!options.holdWrite) releaseWriteOnce();
      releaseRead = await readPlace;
      if (this.broken) throw this.broken;
      return await read(this.file);
    } catch (err) {
      if (leavesStreamInStep(err)) throw err;
      // Anything else broke the stream; the server may have said why just before it closed.
      const reason = await this.reasonForCut(err);
      this.fail(err as Error);
      throw reason;
    } finally {
      releaseWriteOnce();
      if (releaseRead) releaseRead();
      else void readPlace.then((release) => release());
    }
  }

  /** Send one request line and read one response line (no body either way). */
  async simple(req: Request): Promise<Map<string, string>> {
    return this.exchange(
      (file) => file.writeLine(formatRequest(req)),
      () => this.readOk(),
    );
  }

  /**
   * One response line (after any progress lines): its fields if OK, a RemoteError if ERR.
   * `first`: the answer's first line, when the caller has read it already.
   */
  async readOk(first?: string): Promise<Map<string, string>> {
    return this.readAnswer(okFields, first);
  }

  /** readOk, the line read by `read` (which throws RemoteError for an ERR, as okFields does). */
  async readAnswer<T>(read: (line: string) => T, first?: string): Promise<T> {
    let line = first ?? (await this.readLine());
    while (isProgressLine(line)) line = await this.readLine();
    return read(line);
  }

  /** readAnswer without waiting: undefined unless the answer's whole line is buffered (then readAnswer waits for it). */
  takeBufferedAnswer<T>(read: (line: string) => T): T | undefined {
    for (;;) {
      const line = this.file.takeBufferedLine();
      if (line === undefined) return undefined;
      if (!isProgressLine(line)) return read(line);
    }
  }

  async readLine(): Promise<string> {
    let line: string | null;
    try {
      line = await this.file.readLine();
    } catch (err) {
      if (err instanceof UnexpectedEofError) {
        throw new ConnectionLostError('the server closed the connection mid-reply', { cause: err });
      }
      throw err;
    }
    if (line === null) throw new ConnectionLostError('the server closed the connection');
    return line;
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken =
      err instanceof TcpsendError ? err : new ProtocolError(`connection failed: ${err.message}`, { cause: err });
    this.file.close();
  }

  get isBroken(): boolean {
    return this.broken !== null || this.file.closed;
  }

  /**
   * After a write failed mid-body: the server may have said why before it closed (a full
   * disk, a refusal). Read that line if it is there; it explains the cut better than EPIPE.
   */
  async reasonForCut(err: unknown): Promise<unknown> {
    try {
      const line = await Promise.race([
        this.file.readLine(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 500).unref()),
      ]);
      if (line?.startsWith('ERR ')) {
        const response = parseResponse(line);
        if (!response.ok) {
          this.fail(err as Error);
          return new RemoteError(response.code, response.message);
        }
      }
    } catch {
      // Nothing readable: the original error stands.
    }
    return err;
  }

  /** Say QUIT (best effort) and close. */
  async quit(): Promise<void> {
    if (!this.broken && !this.file.closed) {
      try {
        await this.simple({ verb: 'QUIT' });
      } catch {
        // Closing anyway.
      }
    }
    this.file.close();
  }

  close(): void {
    this.file.close();
  }
}
