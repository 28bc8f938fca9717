/**
 * LIST entries (docs/protocol.md, "LIST"): one line per entry, then a line holding a single `.`.
 *
 *   entry = path SP "type=" ("file" / "dir" / "link") [SP "size=" uint] [SP "target=" value]
 *           SP "mtime=" mtime SP "mode=" mode
 *
 * `type=link` (only asked for, with `links=1`) carries the symlink's relative target.
 */

import { ProtocolError } from '../errors.js';
import { decodePath, encodePath, encodeValue } from './encoding.js';
import {
  formatMode,
  formatUint,
  optionalUint,
  requireMode,
  requireString,
  requireUint,
} from './fields.js';
import { fromPeer } from './peer.js';
import { quote } from './printable.js';
import { decodeFieldValue, isFieldToken, parseFields, splitTokens } from './tokens.js';

/** The line that ends a listing. */
export const END_OF_LIST = '.';

export interface ListEntry {
  /** Relative to the listed folder; with `recursive=1`, may hold `/`. */
  path: string;
  type: 'file' | 'dir' | 'link';
  /** Always set for a file. */
  size: number | null;
  /** A link's target, relative to the link's folder (always set for a link). */
  target?: string;
  mtimeMs: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

export function formatEntry(entry: ListEntry): string {
  const size = entry.size === null ? '' : ` size=${formatUint(entry.size)}`;
  const target = entry.target === undefined ? '' : ` target=${encodeValue(entry.target)}`;
  return (
    `${encodePath(entry.path)} type=${entry.type}${size}${target}` +
    ` mtime=${formatUint(entry.mtimeMs)} mode=${formatMode(entry.mode)}`
  );
}

/**
 * An entry exactly as formatEntry writes it: fields in its order, one space apart. Such a line
 * (every line a tcpsend server sends) is read with one match; any other shape (fields in
 * another order, more spaces, fields a newer server adds) goes through the general parser.
 */
const AS_FORMATTED = /^([^ =]+) type=(file|dir|link)(?: size=(0|[1-9][0-9]{0,15}))?(?: target=([^ ]*))? mtime=(0|[1-9][0-9]{0,15}) mode=([0-7]{1,4})$/;

/** Parses one entry line; call it only for lines other than END_OF_LIST. */
export function parseEntry(line: string): ListEntry {
  return parseFormattedEntry(line) ?? parseAnyEntry(line);
}

/**
 * An entry line exactly as formatEntry writes it, read with one match: the entry, or null for
 * any other line (then parseAnyEntry reads it, or says what is wrong). Exported for the test
 * that holds it to parseAnyEntry (test/protocol/fast-parsers.test.ts).
 */
export function parseFormattedEntry(line: string): ListEntry | null {
  const m = AS_FORMATTED.exec(line);
  if (m === null) return null;
  const type = m[2] as ListEntry['type'];
  const size = m[3] === undefined ? null : Number(m[3]);
  const mtimeMs = Number(m[5]);
  // Past 2^53 - 1, or a file without a size or a link without a target: the general parser says why.
  if (mtimeMs > Number.MAX_SAFE_INTEGER || (size === null ? type === 'file' : size > Number.MAX_SAFE_INTEGER) || (type === 'link' && m[4] === undefined)) return null;
  return fromPeer('LIST entry', () => {
    const entry: ListEntry = { path: decodePath(m[1]!), type, size, mtimeMs, mode: Number.parseInt(m[6]!, 8) };
    if (type === 'link') entry.target = decodeFieldValue('target', m[4]!);
    return entry;
  });
}

/** Any entry line, fields in any order: the entry, or a ProtocolError that says what is wrong. */
export function parseAnyEntry(line: string): ListEntry {
  return fromPeer('LIST entry', () => {
    const [pathToken, ...fieldTokens] = splitTokens(line);
    if (pathToken === undefined || isFieldToken(pathToken)) {
      throw new ProtocolError(`LIST entry without a path: ${quote(line)}`);
    }
    const fields = parseFields(fieldTokens);
    const type = requireString(fields, 'type', 'a LIST entry');
    if (type !== 'file' && type !== 'dir' && type !== 'link') {
      throw new ProtocolError(`LIST entry type must be file, dir or link, got ${quote(type)}`);
    }
    const target = fields.get('target');
    if (type === 'link' && target === undefined) {
      throw new ProtocolError(`LIST entry for a link without target=: ${quote(line)}`);
    }
    const size = optionalUint(fields, 'size');
    if (type === 'file' && size === null) {
      throw new ProtocolError(`LIST entry for a file without size=: ${quote(line)}`);
    }
    return {
      path: decodePath(pathToken),
      type,
      size,
      ...(type === 'link' ? { target } : {}),
      mtimeMs: requireUint(fields, 'mtime', 'a LIST entry'),
      mode: requireMode(fields, 'mode', 'a LIST entry'),
    };
  });
}
