/**
 * Strict parsers for field values (docs/protocol.md, "Numbers and checksums"), their
 * formatters, and accessors over a parsed `Map` of fields.
 *
 * Parsers throw BadRequestError: "a field it knows with a bad value is `ERR BAD_REQUEST`".
 * Response readers turn that into a ProtocolError (see replies.ts).
 */

import { BadRequestError, UsageError } from '../errors.js';
import { quote } from './printable.js';

/** The fields of a line, decoded: key → value. */
export type Fields = ReadonlyMap<string, string>;

// uint = "0" / (%x31-39 *DIGIT) ; decimal, no sign, no leading zero, < 2^53
const UINT = /^(?:0|[1-9][0-9]*)$/;
// sha256 = 64HEXDIG ; lower-case hex of SHA-256 (upper case is accepted and folded)
const SHA256 = /^[0-9a-fA-F]{64}$/;
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
export function parseSha256(key: string, text: string): string {
  if (!SHA256.test(text)) {
    throw new BadRequestError(`${key} must be 64 hex digits (a SHA-256), got ${quote(text)}`);
  }
  return text.toLowerCase();
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

/** A SHA-256 for the wire: 64 lower-case hex digits, or a UsageError. */
export function formatSha256(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) {
    throw new UsageError(`not a lower-case hex SHA-256: ${quote(value)}`);
  }
  return value;
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

export function optionalSha256(fields: Fields, key: string): string | null {
  const text = fields.get(key);
  return text === undefined ? null : parseSha256(key, text);
}

export function requireSha256(fields: Fields, key: string, context?: string): string {
  return parseSha256(key, requireString(fields, key, context));
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
