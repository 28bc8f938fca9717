/**
 * The token layer shared by every line: splitting on spaces, and `key=value` fields.
 */

import { BadRequestError, UsageError } from '../errors.js';
import { encodeValue, percentDecode } from './encoding.js';
import { formatMode, formatUint } from './fields.js';
import { quote } from './printable.js';

// key = LOALPHA *(LOALPHA / DIGIT / "_")
const KEY = /^[a-z][a-z0-9_]*$/;

/** What a formatter accepts for a field: null and undefined leave it out. */
export type FieldValue = string | number | boolean | null | undefined;
export type FieldValues = Readonly<Record<string, FieldValue>>;

/** "Tokens are separated by one or more spaces." Leading and trailing spaces are ignored. */
export function splitTokens(text: string): string[] {
  return text.split(' ').filter((token) => token !== '');
}

export function isFieldToken(token: string): boolean {
  return token.includes('=');
}

/** The value of the field `key`, percent-decoded: BadRequestError naming the field if it is not well formed. */
export function decodeFieldValue(key: string, value: string): string {
  return percentDecode(value, (reason) => new BadRequestError(`${key} ${reason}`));
}

/**
 * Parses `key=value` tokens into a map of decoded values. A bad key, a bad escape in a value
 * or a repeated key ("A key may appear once.") is a BadRequestError.
 */
export function parseFields(tokens: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq < 0) throw new BadRequestError(`expected key=value, got ${quote(token)}`);
    const key = token.slice(0, eq);
    if (!KEY.test(key)) {
      throw new BadRequestError(
        `field name must be lower-case letters, digits and '_', got ${quote(key)}`,
      );
    }
    if (fields.has(key)) throw new BadRequestError(`duplicate field ${key}=`);
    fields.set(key, decodeFieldValue(key, token.slice(eq + 1)));
  }
  return fields;
}

/**
 * Formats fields in their given order, each as ` key=value` (with its leading space): strings
 * percent-encoded, numbers as `uint`, booleans as 1/0; null and undefined are left out.
 * A number under the key `mode` is written in octal (0o644 → `644`): `mode` is the protocol's
 * one octal field.
 */
export function formatFields(fields: FieldValues): string {
  let out = '';
  // for-in, not Object.entries: no array per call (a server formats two lines per file it sends).
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const value = fields[key];
    if (value === null || value === undefined) continue;
    if (!KEY.test(key)) throw new UsageError(`not a valid field name: ${quote(key)}`);
    const text =
      typeof value === 'string'
        ? encodeValue(value)
        : typeof value === 'number'
          ? key === 'mode'
            ? formatMode(value)
            : formatUint(value)
          : value
            ? '1'
            : '0';
    out += ` ${key}=${text}`;
  }
  return out;
}
