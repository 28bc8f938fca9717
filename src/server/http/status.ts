/**
 * What an HTTP client is told when a request fails: the status for each error code, and a
 * short plain-text body that says why (the same message a tcpsend client gets in its ERR line).
 */
import type { ServerResponse } from 'node:http';
import type { TcpsendError } from '../../errors.js';

/** By wire code; anything not here is a 500. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  BAD_PATH: 400,
  FORBIDDEN: 403,
  READ_ONLY: 403,
  NOT_FOUND: 404,
  NOT_DIRECTORY: 404,
  TIMEOUT: 408,
  EXISTS: 409,
  IS_DIRECTORY: 409,
  BUSY: 409,
  TOO_LARGE: 413,
  BAD_RANGE: 416,
  TRANSFER_INTERRUPTED: 400,
  CHANGED: 503,
  SHUTTING_DOWN: 503,
  TOO_MANY_CONNECTIONS: 503,
  NO_SPACE: 507,
};

export function httpStatusOf(err: TcpsendError): number {
  return STATUS_OF_CODE[err.wireCode] ?? 500;
}

/**
 * Answer `err`, if the response has not begun; otherwise the bytes already sent cannot be
 * taken back, and the connection is cut so the client sees a broken transfer, never a whole one.
 */
export function sendError(res: ServerResponse, err: TcpsendError, { bodyUnread }: { bodyUnread: boolean }): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = httpStatusOf(err);
  const body = `${status} ${err.wireCode}: ${err.message}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // A request body left unread (an upload refused before it) would otherwise be read and
  // dropped whole to keep the connection: close it instead.
  if (bodyUnread) res.setHeader('Connection', 'close');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
