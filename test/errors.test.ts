/** Every error class, walked from one table; and docs/errors.md, held to the same list. */
import fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { isRetriable } from '../src/client/retry.js';
import * as errors from '../src/errors.js';
import {
  CODE_PREFIX,
  ERROR_CLASSES,
  errorClassForWire,
  RemoteError,
  TcpsendError,
  wireCodeOf,
  type TcpsendErrorClass,
} from '../src/errors.js';

/**
 * How to build each class with no message of its own, and with a cause when its constructor
 * takes one (`null`: it takes none). Keyed by class, so a class added to ERROR_CLASSES without
 * a row here fails the walk below.
 */
type Make = (cause?: unknown) => TcpsendError;
interface Row {
  make: Make;
  /** The constructor computes its message from its arguments instead of using defaultMessage. */
  computedMessage?: boolean;
  takesCause: boolean;
}

const plain = (cls: new (message?: string, options?: ErrorOptions) => TcpsendError): Row => ({
  make: (cause) => (cause === undefined ? new cls() : new cls(undefined, { cause })),
  takesCause: true,
});

const ROWS = new Map<TcpsendErrorClass, Row>([
  [errors.LineTooLongError, { make: () => new errors.LineTooLongError(8192), computedMessage: true, takesCause: false }],
  [errors.UnexpectedEofError, { make: () => new errors.UnexpectedEofError(10, 3), computedMessage: true, takesCause: false }],
  [errors.TimeoutError, { make: () => new errors.TimeoutError(5000), computedMessage: true, takesCause: false }],
  [errors.StreamUnusableError, plain(errors.StreamUnusableError)],
  [errors.StreamClosedError, plain(errors.StreamClosedError)],
  [errors.BodyTooLargeError, { make: () => new errors.BodyTooLargeError(1024), computedMessage: true, takesCause: false }],
  [
    errors.TransferInterruptedError,
    {
      make: (cause) => new errors.TransferInterruptedError(42, 'broke after 42 bytes', cause === undefined ? undefined : { cause }),
      computedMessage: true,
      takesCause: true,
    },
  ],
  [errors.BadRequestError, plain(errors.BadRequestError)],
  [errors.UnknownVerbError, plain(errors.UnknownVerbError)],
  [errors.BadPathError, plain(errors.BadPathError)],
  [errors.ForbiddenError, plain(errors.ForbiddenError)],
  [errors.NotFoundError, plain(errors.NotFoundError)],
  [errors.IsDirectoryError, plain(errors.IsDirectoryError)],
  [errors.NotDirectoryError, plain(errors.NotDirectoryError)],
  [errors.ExistsError, plain(errors.ExistsError)],
  [errors.ReadOnlyError, plain(errors.ReadOnlyError)],
  [errors.BadRangeError, plain(errors.BadRangeError)],
  [errors.PrefixMismatchError, plain(errors.PrefixMismatchError)],
  [errors.ChecksumMismatchError, plain(errors.ChecksumMismatchError)],
  [errors.TooLargeError, plain(errors.TooLargeError)],
  [errors.BusyError, plain(errors.BusyError)],
  [errors.NoSpaceError, plain(errors.NoSpaceError)],
  [errors.FileChangedError, plain(errors.FileChangedError)],
  [errors.TooManyConnectionsError, plain(errors.TooManyConnectionsError)],
  [errors.InternalError, plain(errors.InternalError)],
  [errors.ShuttingDownError, plain(errors.ShuttingDownError)],
  [errors.ProtocolError, plain(errors.ProtocolError)],
  [errors.ConnectionRefusedError, plain(errors.ConnectionRefusedError)],
  [errors.HostNotFoundError, plain(errors.HostNotFoundError)],
  [errors.ConnectTimeoutError, plain(errors.ConnectTimeoutError)],
  [errors.ConnectionLostError, plain(errors.ConnectionLostError)],
  [errors.AuthError, plain(errors.AuthError)],
  [errors.UsageError, plain(errors.UsageError)],
  [errors.InterruptedError, plain(errors.InterruptedError)],
  // A RemoteError's code is the server's; with its own token it carries its own static code.
  [errors.RemoteError, { make: () => new RemoteError('REMOTE', ''), computedMessage: true, takesCause: false }],
]);

describe('error classes', () => {
  it('the table covers ERROR_CLASSES exactly, and every code is prefixed and unique', () => {
    expect(new Set(ROWS.keys())).toEqual(new Set(ERROR_CLASSES));
    const codes = ERROR_CLASSES.map((cls) => cls.code);
    for (const code of codes) expect(code).toMatch(/^TCPSEND_ERR_[A-Z][A-Z_]*[A-Z]$/);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).not.toContain(TcpsendError.code); // the base class's GENERIC is no subclass's
  });

  it.each(ERROR_CLASSES.map((cls) => [cls.name, cls] as const))('%s', (name, cls) => {
    const row = ROWS.get(cls);
    expect(row, `no row for ${name} in ROWS`).toBeDefined();
    const wire = cls.code.slice(CODE_PREFIX.length);

    const err = row!.make();
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(TcpsendError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(cls.code);
    expect(err.name).toBe(name);
    expect(err.wireCode).toBe(wire);
    expect(wireCodeOf(err.code)).toBe(wire);
    expect(String(err)).toBe(`${name}: ${err.message}`);
    expect(err.stack).toContain(name);

    expect(cls.defaultMessage.length).toBeGreaterThan(0);
    expect(err.message.length).toBeGreaterThan(0);
    if (!row!.computedMessage) expect(err.message).toBe(cls.defaultMessage);

    expect(errorClassForWire(wire)).toBe(cls);

    if (row!.takesCause) {
      const cause = new Error('root cause');
      expect(row!.make(cause).cause).toBe(cause);
      expect(err.cause).toBeUndefined();
    }
  });

  it('a given message replaces the default', () => {
    expect(new errors.NotFoundError("no such file 'x'").message).toBe("no such file 'x'");
    expect(new errors.LineTooLongError(10, 'too long').message).toBe('too long');
    expect(new errors.LineTooLongError(10).maxLength).toBe(10);
    expect(new errors.UnexpectedEofError(null, 5).message).toMatch(/middle of a line/);
    expect(new errors.TransferInterruptedError(7, 'x').bytesSent).toBe(7);
  });

  it('RemoteError carries the server code, and says it is remote', () => {
    const err = new RemoteError('NOT_FOUND', 'x');
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toBeInstanceOf(TcpsendError);
    expect(err.code).toBe('TCPSEND_ERR_NOT_FOUND');
    expect(err.code).toBe(errors.NotFoundError.code);
    expect(err.wireCode).toBe('NOT_FOUND');
    expect(err.remote).toBe(true);
    expect(err.message).toBe('x');
    expect(err.remoteMessage).toBe('x');
    expect(err.name).toBe('RemoteError');
    // An ERR line with no message still has a message.
    expect(new RemoteError('BUSY', '').message).toBe('BUSY');
  });

  it('errorClassForWire knows no token that is not a class', () => {
    expect(errorClassForWire('NO_SUCH_TOKEN')).toBeUndefined();
    expect(errorClassForWire('TCPSEND_ERR_NOT_FOUND')).toBeUndefined(); // tokens, not codes
    expect(errorClassForWire('')).toBeUndefined();
  });
});

describe('docs/errors.md', () => {
  const docPath = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

  it('mentions every code', async () => {
    const doc = await fsp.readFile(docPath, 'utf8');
    const missing = ERROR_CLASSES.map((cls) => cls.code).filter((code) => !doc.includes(code));
    expect(missing).toEqual([]);
  });

  it("has one table row per class, whose token, class, retry and exit status match the code's", async () => {
    const doc = await fsp.readFile(docPath, 'utf8');
    const rows = new Map<string, string[]>();
    for (const line of doc.split('\n')) {
      if (!line.startsWith('| `TCPSEND_ERR_')) continue;
      const cells = line.slice(1, -1).split(' | ').map((cell) => cell.trim());
      expect(cells, line).toHaveLength(7);
      const code = cells[0]!.replace(/`/g, '');
      expect(rows.has(code), `${code} has two rows`).toBe(false);
      rows.set(code, cells);
    }
    expect([...rows.keys()].sort()).toEqual(ERROR_CLASSES.map((cls) => cls.code).sort());

    for (const cls of ERROR_CLASSES) {
      const [, token, className, when, , retries, exit] = rows.get(cls.code)!;
      expect(className, cls.code).toBe(`\`${cls.name}\``);
      expect(when!.length, cls.code).toBeGreaterThan(10);
      if (cls === RemoteError) continue; // its code, retry and exit status are the server's
      const err = ROWS.get(cls)!.make();
      expect(token!.startsWith(`\`${wireCodeOf(cls.code)}\``), cls.code).toBe(true);
      expect(retries!.split(/[ ,;]/)[0], `${cls.code}: retries`).toBe(isRetriable(err) ? 'yes' : 'no');
      expect(exit, `${cls.code}: exit status`).toBe(String(exitCodeFor(err)));
    }
  });
});
