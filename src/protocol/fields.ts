/**
 * Strict parsers for field values (docs/protocol.md, "Numbers and checksums"), their
 * formatters, and accessors over a parsed `Map` of fields.
 *
 * Parsers throw BadRequestError: "a field it knows with a bad value is `ERR BAD_REQUEST`".
 * Response readers turn that into a ProtocolError (see replies.ts).
 */

import { BadRequestError, UsageError } from '../errors.js';
import { CHECKSUM_NAMES, isChecksumName, LEGACY_CHECKSUM, type ChecksumName } from '../hash/names.js';
import { quote } from './printable.js';

/** The fields of a line, decoded: key → value. */
export type Fields = ReadonlyMap<string, string>;

// uint = "0" / (%x31-39 *DIGIT) ; decimal, no sign, no leading zero, < 2^53
const UINT = /^(?:0|[1-9][0-9]*)$/;
// digest = 64HEXDIG ; lower-case hex of a SHA-256 or BLAKE3 (upper case is accepted and folded)
const DIGEST = /^[0-9a-fA-F]{64}$/;
// mode = 1*4("0"-"7") ; permission bits in octal, e.g. 644
const MODE = /^[0-7]{1,4}$/;

/** "`-1`, `1.5`, `0x10`, `+1`, `01` and numbers past 2^53 − 1 are `ERR BAD_REQUEST`." */
export function parseUint(key: string, text: string): number {
  if (!UINT.test(text)) {
    throw new BadRequestError(`${key} must be a decimal integer >= 0, got ${quote(text)}`);
  }
  // Number() may round, but monotonically: any decimal above 2^53 − 1 converts to 2^53 or
  // more (or Infinity), never below, so this one comparison is exact.
  const value = Number(text);
  if (value > Number.MAX_SAFE_INTEGER) {
    throw new BadRequestError(`${key} must be below 2^53, got ${quote(text)}`);
  }
  return value;
}

/** 64 hex digits; upper case is accepted and returned in lower case. */
export function parseDigest(key: string, text: string): string {
  if (!DIGEST.test(text)) {
    throw new BadRequestError(`${key} must be 64 hex digits (a ${key.replace(/^.*_/, '')} digest), got ${quote(text)}`);
  }
  return text.toLowerCase();
}

/** `checksum=blake3`: a name from CHECKSUM_NAMES. */
export function parseChecksumName(key: string, text: string): ChecksumName {
  if (!isChecksumName(text)) {
    throw new BadRequestError(`${key} must be one of ${CHECKSUM_NAMES.join(', ')}, got ${quote(text)}`);
  }
  return text;
}

/** 1 to 4 octal digits, e.g. `644`, → the permission bits as a number (0o644). */
export function parseMode(key: string, text: string): number {
  if (!MODE.test(text)) {
    throw new BadRequestError(`${key} must be 1 to 4 octal digits, got ${quote(text)}`);
  }
  return Number.parseInt(text, 8);
}

/** `1` → true, `0` → false. */
export function parseFlag(key: string, text: string): boolean {
  if (text === '1') return true;
  if (text === '0') return false;
  throw new BadRequestError(`${key} must be 1 or 0, got ${quote(text)}`);
}

/** A number as a `uint` for the wire; anything the peer would refuse is a UsageError here. */
export function formatUint(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`not an integer in 0 .. 2^53 - 1: ${value}`);
  }
  return String(value);
}

/** A digest for the wire: 64 lower-case hex digits, or a UsageError. */
export function formatDigest(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) {
    throw new UsageError(`not a lower-case hex digest: ${quote(value)}`);
  }
  return value;
}

/**
 * A digest's field key names its algorithm: `sha256=H`, `blake3=H`, `prefix_blake3=H`. With
 * SHA-256 these are the keys of every tcpsend before BLAKE3, so an older peer reads them.
 */
export function digestKey(checksum: ChecksumName, prefix = ''): string {
  return `${prefix}${checksum}`;
}

/** The `checksum=` a request names, SHA-256 when it names none (older clients, `nc`). */
export function optionalChecksum(fields: Fields): ChecksumName {
  const text = fields.get('checksum');
  return text === undefined ? LEGACY_CHECKSUM : parseChecksumName('checksum', text);
}

/** `checksum=` for the wire: left out for SHA-256, so an older server reads the line as before. */
export function formatChecksum(checksum: ChecksumName): string | null {
  return checksum === LEGACY_CHECKSUM ? null : checksum;
}

/** Permission bits as octal digits for the wire: 0o644 → `644`. */
export function formatMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new UsageError(`not a permission mode in 0 .. 0o7777: ${mode}`);
  }
  return mode.toString(8);
}

// ---------------------------------------------------------------------------------------------
// Accessors. `context` (e.g. the verb) only makes the message of a missing field clearer.

function missing(key: string, context?: string): BadRequestError {
  return new BadRequestError(`${context ? `${context} needs` : 'missing field'} ${key}=`);
}

export function optionalString(fields: Fields, key: string): string | null {
  return fields.get(key) ?? null;
}

export function requireString(fields: Fields, key: string, context?: string): string {
  const text = fields.get(key);
  if (text === undefined) throw missing(key, context);
  return text;
}

export function optionalUint(fields: Fields, key: string): number | null {
  const text = fields.get(key);
  return text === undefined ? null : parseUint(key, text);
}

export function requireUint(fields: Fields, key: string, context?: string): number {
  return parseUint(key, requireString(fields, key, context));
}

/**
 * The digest under `prefix` + `checksum` (`prefix_blake3`), or null. The same digest under
 * another algorithm's key is refused: it cannot be checked against this transfer's.
 */
export function optionalDigest(fields: Fields, checksum: ChecksumName, prefix = ''): string | null {
  for (const other of CHECKSUM_NAMES) {
    if (other !== checksum && fields.has(digestKey(other, prefix))) {
      throw new BadRequestError(`${digestKey(other, prefix)}= does not go with checksum ${checksum} (expected ${digestKey(checksum, prefix)}=)`);
    }
  }
  const key = digestKey(checksum, prefix);
  const text = fields.get(key);
  return text === undefined ? null : parseDigest(key, text);
}

export function requireDigest(fields: Fields, checksum: ChecksumName, context: string, prefix = ''): string {
  const digest = optionalDigest(fields, checksum, prefix);
  if (digest === null) throw missing(digestKey(checksum, prefix), context);
  return digest;
}

/** A line that carries exactly one digest, keyed by its algorithm (`END blake3=H`). */
export function namedDigest(fields: Fields, context: string): { checksum: ChecksumName; digest: string } {
  const present = CHECKSUM_NAMES.filter((name) => fields.has(name));
  if (present.length === 0) throw new BadRequestError(`${context} needs a digest (${CHECKSUM_NAMES.map((n) => `${n}=`).join(' or ')})`);
  if (present.length > 1) throw new BadRequestError(`${context} carries more than one digest (${present.join(', ')})`);
  const checksum = present[0]!;
  return { checksum, digest: parseDigest(checksum, fields.get(checksum)!) };
}

export function optionalMode(fields: Fields, key: string): number | null {
  const text = fields.get(key);
  return text === undefined ? null : parseMode(key, text);
}

export function requireMode(fields: Fields, key: string, context?: string): number {
  return parseMode(key, requireString(fields, key, context));
}

/** A flag that is false when absent. */
export function optionalFlag(fields: Fields, key: string): boolean {
  const text = fields.get(key);
  return text === undefined ? false : parseFlag(key, text);
}
