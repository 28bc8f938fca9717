/**
 * The server's greeting (docs/protocol.md, "The greeting"):
 *
 *   greeting = "TCPSEND" SP version *(SP field)
 *
 * e.g. `TCPSEND 1 server=tcpsend/0.1.0 caps=range,sha256,resume,hash,list,mkdir upload=1
 * checksums=blake3,sha256`.
 */

import { ProtocolError } from '../errors.js';
import { parseChecksumList } from '../hash/negotiate.js';
import type { ChecksumName } from '../hash/names.js';
import { formatUint, parseUint } from './fields.js';
import { fromPeer } from './peer.js';
import { quote } from './printable.js';
import { formatFields, parseFields, splitTokens, type FieldValues } from './tokens.js';

export const GREETING_WORD = 'TCPSEND';

/** The TCP port a server listens on and a client dials when none is given. */
export const DEFAULT_PORT = 7070;

/** The protocol version this module speaks. */
export const PROTOCOL_VERSION = 1;

export interface Greeting {
  version: number;
  fields: Map<string, string>;
}

export function formatGreeting(greeting: { version: number; fields?: FieldValues }): string {
  return `${GREETING_WORD} ${formatUint(greeting.version)}${formatFields(greeting.fields ?? {})}`;
}

/** Parses the greeting line; a line that does not start with `TCPSEND ` is a ProtocolError. */
export function parseGreeting(line: string): Greeting {
  if (!line.startsWith(`${GREETING_WORD} `)) {
    throw new ProtocolError(`expected the TCPSEND greeting, got ${quote(line)}`);
  }
  return fromPeer('greeting', () => {
    const [version, ...fieldTokens] = splitTokens(line.slice(GREETING_WORD.length));
    if (version === undefined) throw new ProtocolError('greeting without a version');
    return { version: parseUint('version', version), fields: parseFields(fieldTokens) };
  });
}

/** The `caps` field of a greeting as a set (`caps=range,sha256` → {range, sha256}). */
export function greetingCaps(greeting: Greeting): Set<string> {
  const caps = greeting.fields.get('caps') ?? '';
  return new Set(caps.split(',').filter((cap) => cap !== ''));
}

/**
 * The checksums a greeting offers (`checksums=blake3,sha256`), best first. A greeting
 * without the field is an older server's: SHA-256 only.
 */
export function greetingChecksums(greeting: Greeting): ChecksumName[] {
  return parseChecksumList(greeting.fields.get('checksums'));
}
