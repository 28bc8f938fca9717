/**
 * Every error tcpsend raises, in one place.
 *
 * Each class has a stable `code` (`TCPSEND_ERR_*`) that callers match on, never the message
 * text. A code's suffix (`NOT_FOUND` for `TCPSEND_ERR_NOT_FOUND`) is the token the server puts
 * on the wire in `ERR <token> <message>`; the client turns such a line back into a
 * `RemoteError` carrying the same `code`, so `err.code === 'TCPSEND_ERR_NOT_FOUND'` holds
 * whether the file was missing locally or on the server. docs/errors.md lists every code.
 */

export const CODE_PREFIX = 'TCPSEND_ERR_';

export class TcpsendError extends Error {
  static readonly code: string = `${CODE_PREFIX}GENERIC`;
  static readonly defaultMessage: string = 'tcpsend failed';

  constructor(message?: string, options?: ErrorOptions) {
    const own = new.target as typeof TcpsendError;
    super(message ?? own.defaultMessage, options);
    this.name = own.name;
  }

  /** Stable machine-readable code, e.g. `TCPSEND_ERR_LINE_TOO_LONG`. */
  get code(): string {
    return (this.constructor as typeof TcpsendError).code;
  }

  /** The token sent on the wire after `ERR`. */
  get wireCode(): string {
    return wireCodeOf(this.code);
  }
}

export function wireCodeOf(code: string): string {
  return code.startsWith(CODE_PREFIX) ? code.slice(CODE_PREFIX.length) : code;
}

// ---------------------------------------------------------------------------------------------
// Stream layer (src/io)

/** A line passed its length limit before a newline came. The stream is unusable afterwards. */
export class LineTooLongError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}LINE_TOO_LONG`;
  static override readonly defaultMessage = 'line too long';
  constructor(
    readonly maxLength: number,
    message = `line longer than ${maxLength} bytes`,
  ) {
    super(message);
  }
}

/** The stream ended before a whole line or the announced number of bytes arrived. */
export class UnexpectedEofError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}UNEXPECTED_EOF`;
  static override readonly defaultMessage = 'connection closed early';
  constructor(
    /** Bytes that were wanted (for a line: the bytes read so far, with no newline). */
    readonly expected: number | null,
    /** Bytes that did arrive before the end. */
    readonly received: number,
    message = expected === null
      ? `stream ended in the middle of a line (${received} bytes without a newline)`
      : `stream ended after ${received} of ${expected} bytes`,
  ) {
    super(message);
  }
}

/** No data moved for longer than the stream's timeout. The stream is unusable afterwards. */
export class TimeoutError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}TIMEOUT`;
  static override readonly defaultMessage = 'timed out';
  constructor(
    readonly timeoutMs: number,
    message = `no data for ${timeoutMs} ms`,
  ) {
    super(message);
  }
}

/** A read after a timeout or an over-long line: the buffer state is unknown (as CPython). */
export class StreamUnusableError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}STREAM_UNUSABLE`;
  static override readonly defaultMessage =
    'stream is unusable after an earlier timeout or over-long line';
}

/** Write or read on a stream that was closed, or whose peer reset it. */
export class StreamClosedError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}STREAM_CLOSED`;
  static override readonly defaultMessage = 'stream is closed';
}

/** `readToEnd({ maxBytes })` saw more than `maxBytes`. */
export class BodyTooLargeError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}BODY_TOO_LARGE`;
  static override readonly defaultMessage = 'body too large';
  constructor(
    readonly maxBytes: number,
    message = `more than ${maxBytes} bytes before the end of the stream`,
  ) {
    super(message);
  }
}

/** `sendfile` or `pipeTo` failed part way; `bytesSent` is exact, which is what resume needs. */
export class TransferInterruptedError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}TRANSFER_INTERRUPTED`;
  static override readonly defaultMessage = 'transfer interrupted';
  constructor(
    readonly bytesSent: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: raised by protocol parsing, the served root and handlers; sent on the wire as `ERR <token>`.

/** The request line does not follow the grammar in docs/protocol.md. */
export class BadRequestError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}BAD_REQUEST`;
  static override readonly defaultMessage = 'malformed request';
}

export class UnknownVerbError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}UNKNOWN_VERB`;
  static override readonly defaultMessage = 'unknown verb';
}

/** A path that would leave the served root, or holds a byte no path may hold. */
export class BadPathError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}BAD_PATH`;
  static override readonly defaultMessage = 'path not allowed';
}

/** A symlink inside the root that leads outside it, or a hidden partial file. */
export class ForbiddenError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}FORBIDDEN`;
  static override readonly defaultMessage = 'access denied';
}

export class NotFoundError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}NOT_FOUND`;
  static override readonly defaultMessage = 'no such file or folder';
}

export class IsDirectoryError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}IS_DIRECTORY`;
  static override readonly defaultMessage = 'is a folder';
}

export class NotDirectoryError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}NOT_DIRECTORY`;
  static override readonly defaultMessage = 'not a folder';
}

/** The destination holds a different file and overwriting was not asked for (or not allowed). */
export class ExistsError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}EXISTS`;
  static override readonly defaultMessage = 'a different file exists there';
}

/** An upload to a server that was not started with uploads on. */
export class ReadOnlyError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}READ_ONLY`;
  static override readonly defaultMessage = 'uploads are off on this server';
}

/** Offset or length outside the file, or not a plain decimal integer. */
export class BadRangeError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}BAD_RANGE`;
  static override readonly defaultMessage = 'range not satisfiable';
}

/** The part held for resume does not match the source's prefix: it is discarded. */
export class PrefixMismatchError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}PREFIX_MISMATCH`;
  static override readonly defaultMessage = 'the partial file does not match the source';
}

/** The bytes received do not hash to the digest announced for them. */
export class ChecksumMismatchError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}CHECKSUM_MISMATCH`;
  static override readonly defaultMessage = 'SHA-256 mismatch';
}

/** An upload larger than the server accepts. */
export class TooLargeError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}TOO_LARGE`;
  static override readonly defaultMessage = 'upload larger than the server accepts';
}

/** Another transfer is writing the same path right now. */
export class BusyError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}BUSY`;
  static override readonly defaultMessage = 'another upload to this path is in progress';
}

/** The disk filled up; the partial file is kept for resume. */
export class NoSpaceError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}NO_SPACE`;
  static override readonly defaultMessage = 'no space left on the device';
}

/** The source file's size or mtime moved while it was being sent. */
export class FileChangedError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}CHANGED`;
  static override readonly defaultMessage = 'the file changed while it was being sent';
}

/** The server already has as many connections as it takes. */
export class TooManyConnectionsError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}TOO_MANY_CONNECTIONS`;
  static override readonly defaultMessage = 'too many connections';
}

/** A failure on the server that is not the request's fault. */
export class InternalError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}INTERNAL`;
  static override readonly defaultMessage = 'internal server error';
}

/** The server is shutting down and takes no more requests. */
export class ShuttingDownError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}SHUTTING_DOWN`;
  static override readonly defaultMessage = 'server is shutting down';
}

// ---------------------------------------------------------------------------------------------
// Client side

/** The peer said something that is not tcpsend protocol. */
export class ProtocolError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}PROTOCOL`;
  static override readonly defaultMessage = 'the peer broke the protocol';
}

/** Nothing accepts connections at that address (ECONNREFUSED). */
export class ConnectionRefusedError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}CONNECTION_REFUSED`;
  static override readonly defaultMessage = 'nothing is listening there';
}

/** The host name does not resolve (ENOTFOUND, EAI_AGAIN). */
export class HostNotFoundError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}HOST_NOT_FOUND`;
  static override readonly defaultMessage = 'host not found';
}

/** The connection attempt got no answer in time. */
export class ConnectTimeoutError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}CONNECT_TIMEOUT`;
  static override readonly defaultMessage = 'connection attempt timed out';
}

/** An established connection broke (reset, closed mid-reply). */
export class ConnectionLostError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}CONNECTION_LOST`;
  static override readonly defaultMessage = 'connection lost';
}

/** The shared secret was missing or did not match (the TLS-PSK handshake failed). */
export class AuthError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}AUTH`;
  static override readonly defaultMessage = 'authentication failed';
}

/** Bad arguments to a library call or the command line. */
export class UsageError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}USAGE`;
  static override readonly defaultMessage = 'invalid arguments';
}

/** The transfer was stopped by a signal (Ctrl-C) or an abort signal. */
export class InterruptedError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}INTERRUPTED`;
  static override readonly defaultMessage = 'interrupted';
}

/**
 * An `ERR` line from the server. `code` is the full code of the server-side error, so callers
 * match remote and local failures alike; `remoteMessage` is the server's text as sent.
 */
export class RemoteError extends TcpsendError {
  static override readonly code = `${CODE_PREFIX}REMOTE`;
  static override readonly defaultMessage = 'the server refused the request';
  readonly remote = true;
  constructor(
    readonly wireToken: string,
    readonly remoteMessage: string,
  ) {
    super(remoteMessage || wireToken);
  }
  override get code(): string {
    return CODE_PREFIX + this.wireToken;
  }
  override get wireCode(): string {
    return this.wireToken;
  }
}

/** What every error class has, whatever its constructor takes. */
export interface TcpsendErrorClass {
  readonly name: string;
  readonly code: string;
  readonly defaultMessage: string;
  readonly prototype: TcpsendError;
}

/** Every error class, for the table-driven test and for docs/errors.md. */
export const ERROR_CLASSES: ReadonlyArray<TcpsendErrorClass> = [
  LineTooLongError,
  UnexpectedEofError,
  TimeoutError,
  StreamUnusableError,
  StreamClosedError,
  BodyTooLargeError,
  TransferInterruptedError,
  BadRequestError,
  UnknownVerbError,
  BadPathError,
  ForbiddenError,
  NotFoundError,
  IsDirectoryError,
  NotDirectoryError,
  ExistsError,
  ReadOnlyError,
  BadRangeError,
  PrefixMismatchError,
  ChecksumMismatchError,
  TooLargeError,
  BusyError,
  NoSpaceError,
  FileChangedError,
  TooManyConnectionsError,
  InternalError,
  ShuttingDownError,
  ProtocolError,
  ConnectionRefusedError,
  HostNotFoundError,
  ConnectTimeoutError,
  ConnectionLostError,
  AuthError,
  UsageError,
  InterruptedError,
  RemoteError,
];

/** Look up the class whose code ends in `wireToken` (e.g. `NOT_FOUND`), if any. */
export function errorClassForWire(wireToken: string): TcpsendErrorClass | undefined {
  return ERROR_CLASSES.find((cls) => wireCodeOf(cls.code) === wireToken);
}
