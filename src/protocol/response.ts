/**
 * Response lines (docs/protocol.md, "Responses"):
 *
 *   response = ok / err
 *   ok       = "OK" *(SP field)
 *   err      = "ERR" SP code [SP message]      ; message: free text to the end of the line
 *   code     = 1*(UPALPHA / "_")
 *   progress = "+" *(SP field)                 ; only to a client that said HELLO progress=1
 */

import { ProtocolError, UsageError } from '../errors.js';
import { fromPeer } from './peer.js';
import { quote, sanitizeMessage } from './printable.js';
import { formatFields, parseFields, splitTokens, type FieldValues } from './tokens.js';

export type Response =
  | { ok: true; fields: Map<string, string> }
  | { ok: false; code: string; message: string };

const CODE = /^[A-Z_]+$/;
// One space after the code, then the message exactly as sent (inner spaces kept).
const ERR_LINE = /^ERR +([^ ]+)(?: (.*))?$/s;

/** Parses a server's response line (without CRLF). Anything but `OK`/`ERR`: ProtocolError. */
export function parseResponse(line: string): Response {
  if (line === 'OK' || line.startsWith('OK ')) {
    return { ok: true, fields: fromPeer('OK line', () => parseFields(splitTokens(line.slice(2)))) };
  }
  if (line === 'ERR' || line.startsWith('ERR ')) {
    const match = ERR_LINE.exec(line);
    const code = match?.[1];
    if (code === undefined || !CODE.test(code)) {
      throw new ProtocolError(`bad ERR line from the server: ${quote(line)}`);
    }
    return { ok: false, code, message: match?.[2] ?? '' };
  }
  throw new ProtocolError(`expected OK or ERR from the server, got ${quote(line)}`);
}

/** A progress line: the server is still working on the answer that follows (`+ hashed=N size=M`). */
export function isProgressLine(line: string): boolean {
  return line === '+' || line.startsWith('+ ');
}

/** A progress line with its fields. */
export function formatProgress(fields: FieldValues = {}): string {
  return `+${formatFields(fields)}`;
}

/**
 * `OK` and its fields: strings percent-encoded, numbers as decimal (a number under `mode` in
 * octal), booleans as 1/0; null and undefined are left out.
 */
export function formatOk(fields: FieldValues = {}): string {
  return `OK${formatFields(fields)}`;
}

/**
 * `ERR <code> <message>`. The code is the wire token (`NOT_FOUND`, see TcpsendError.wireCode);
 * the message is sanitised so that it can never break the line framing, and capped in length.
 */
export function formatErr(code: string, message: string): string {
  if (!CODE.test(code)) throw new UsageError(`not an error code for the wire: ${quote(code)}`);
  const text = sanitizeMessage(message);
  return text === '' ? `ERR ${code}` : `ERR ${code} ${text}`;
}
