/**
 * LIST entries (docs/protocol.md, "LIST"): one line per entry, then a line holding a single `.`.
 *
 *   entry = path SP "type=" ("file" / "dir") [SP "size=" uint] SP "mtime=" mtime SP "mode=" mode
 */

import { ProtocolError } from '../errors.js';
import { decodePath, encodePath } from './encoding.js';
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
import { isFieldToken, parseFields, splitTokens } from './tokens.js';

/** The line that ends a listing. */
export const END_OF_LIST = '.';

export interface ListEntry {
  /** Relative to the listed folder; with `recursive=1`, may hold `/`. */
  path: string;
  type: 'file' | 'dir';
  /** Always set for a file. */
  size: number | null;
  mtimeMs: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

export function formatEntry(entry: ListEntry): string {
  const size = entry.size === null ? '' : ` size=${formatUint(entry.size)}`;
  return (
    `${encodePath(entry.path)} type=${entry.type}${size}` +
    ` mtime=${formatUint(entry.mtimeMs)} mode=${formatMode(entry.mode)}`
  );
}

/** Parses one entry line; call it only for lines other than END_OF_LIST. */
export function parseEntry(line: string): ListEntry {
  return fromPeer('LIST entry', () => {
    const [pathToken, ...fieldTokens] = splitTokens(line);
    if (pathToken === undefined || isFieldToken(pathToken)) {
      throw new ProtocolError(`LIST entry without a path: ${quote(line)}`);
    }
    const fields = parseFields(fieldTokens);
    const type = requireString(fields, 'type', 'a LIST entry');
    if (type !== 'file' && type !== 'dir') {
      throw new ProtocolError(`LIST entry type must be file or dir, got ${quote(type)}`);
    }
    const size = optionalUint(fields, 'size');
    if (type === 'file' && size === null) {
      throw new ProtocolError(`LIST entry for a file without size=: ${quote(line)}`);
    }
    return {
      path: decodePath(pathToken),
      type,
      size,
      mtimeMs: requireUint(fields, 'mtime', 'a LIST entry'),
      mode: requireMode(fields, 'mode', 'a LIST entry'),
    };
  });
}
