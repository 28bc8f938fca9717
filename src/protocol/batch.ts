/**
 * The item lines of the batch verbs (docs/protocol.md, "MGET" and "MPUT"): after
 * `MGET folder count=N` come N lines, each naming one file relative to the folder; after
 * `MPUT folder count=N` come N items, each an item line and then exactly `size` bytes.
 *
 *   mget-item = path
 *   mput-item = path SP "size=" uint SP checksum-name "=" hex64 [SP "mtime=" uint] [SP "mode=" octal]
 *
 * The item's digest is keyed by the MPUT's `checksum` (`sha256=` unless it names another).
 */
import { BadPathError, BadRequestError, TcpsendError } from '../errors.js';
import { decodePath, encodePath } from './encoding.js';
import type { ChecksumName } from '../hash/names.js';
import { digestKey, formatDigest, formatMode, formatUint, optionalMode, optionalUint, requireDigest, requireUint } from './fields.js';
import { quote } from './printable.js';
import { isFieldToken, parseFields, splitTokens } from './tokens.js';

/** Items one batch request may carry: a server reads them one by one, so this bounds a request's work, not its memory. */
export const MAX_BATCH_ITEMS = 10_000;

/** An MPUT item's bytes are held whole in memory: more than this is refused (and the connection closed). */
export const MAX_MPUT_ITEM_BYTES = 1024 * 1024;

export interface MputItem {
  /** Relative to the request's folder. */
  path: string;
  size: number;
  /** The file's digest, in the MPUT's checksum. */
  digest: string;
  mtime: number | null;
  mode: number | null;
}

/** "Item paths are relative to the request's folder": no leading '/'. Checked like any path after joining. */
function itemPath(token: string | undefined, verb: string): string {
  if (token === undefined || isFieldToken(token)) throw new BadRequestError(`a ${verb} item needs a path first`);
  const path = decodePath(token);
  if (path.startsWith('/') || path === '') {
    throw new BadPathError(`${verb} item paths are relative to the request's folder, got ${quote(path)}`);
  }
  return path;
}

/** One MGET item line: the path. Fields after it are ignored, like unknown fields anywhere. */
export function parseMgetItem(line: string): string {
  const [first, ...rest] = splitTokens(line);
  const stray = rest.find((token) => !isFieldToken(token));
  if (stray !== undefined) {
    // As on a request line: a space in a path must be sent as %20, and `my file.txt` must not
    // quietly fetch `my`.
    throw new BadRequestError(`expected key=value after the item's path, got ${quote(stray)} (spaces in paths are sent as %20)`);
  }
  return itemPath(first, 'MGET');
}

export function formatMgetItem(path: string): string {
  return encodePath(path);
}

/**
 * One MPUT item line. `size` says how many bytes follow, so it (and the digest) is read first: a
 * line where either is missing or malformed throws (BadRequestError: the stream cannot be
 * kept in step). Anything else wrong (the path, `mtime`, `mode`) is the item's own error, in
 * `error`, and its bytes can still be read past.
 */
export function parseMputItem(line: string, checksum: ChecksumName): ParsedMputItem {
  return parseCanonicalMputItem(line, checksum) ?? parseAnyMputItem(line, checksum);
}

// The item line as formatMputItem writes it: one space between tokens, the fields in its order,
// each value well formed. Such a line is read in one match; any other (fields in another
// order, unknown fields, a bad value to report) goes through the general parser.
const CANONICAL_MPUT_ITEM = /^([^ =]+) size=(0|[1-9][0-9]{0,15}) ([a-z0-9]+)=([0-9a-f]{64})(?: mtime=(0|[1-9][0-9]{0,15}))?(?: mode=([0-7]{1,4}))?$/;

/** An item line exactly as formatMputItem writes it, or null (exported for test/protocol/fast-parsers.test.ts). */
export function parseCanonicalMputItem(line: string, checksum: ChecksumName): ParsedMputItem | null {
  const match = CANONICAL_MPUT_ITEM.exec(line);
  if (match === null || match[3] !== digestKey(checksum)) return null;
  const size = Number(match[2]);
  const mtime = match[5] === undefined ? null : Number(match[5]);
  if (size > Number.MAX_SAFE_INTEGER || (mtime !== null && mtime > Number.MAX_SAFE_INTEGER)) return null;
  let path: string;
  try {
    path = itemPath(match[1], 'MPUT');
  } catch {
    return null; // its own error, as the general parser words it
  }
  return { size, item: { path, size, digest: match[4]!, mtime, mode: match[6] === undefined ? null : Number.parseInt(match[6], 8) }, error: null };
}

/** Any item line, fields in any order (exported for test/protocol/fast-parsers.test.ts). */
export function parseAnyMputItem(line: string, checksum: ChecksumName): ParsedMputItem {
  const [first, ...rest] = splitTokens(line);
  if (first === undefined || isFieldToken(first)) throw new BadRequestError('an MPUT item needs a path first');
  const fields = parseFields(rest);
  const size = requireUint(fields, 'size', 'an MPUT item');
  const digest = requireDigest(fields, checksum, 'an MPUT item');
  try {
    const item = { path: itemPath(first, 'MPUT'), size, digest, mtime: optionalUint(fields, 'mtime'), mode: optionalMode(fields, 'mode') };
    return { size, item, error: null };
  } catch (err) {
    if (!(err instanceof TcpsendError)) throw err;
    return { size, item: null, error: err };
  }
}

export function formatMputItem(item: MputItem, checksum: ChecksumName): string {
  let line = `${encodePath(item.path)} size=${formatUint(item.size)} ${digestKey(checksum)}=${formatDigest(item.digest)}`;
  if (item.mtime !== null) line += ` mtime=${formatUint(item.mtime)}`;
  if (item.mode !== null) line += ` mode=${formatMode(item.mode)}`;
  return line;
}

/** An MPUT item as read off the wire: the item, or its own error (and how many bytes to read past). */
export type ParsedMputItem =
  | { size: number; item: MputItem; error: null }
  | { size: number; item: null; error: TcpsendError };

/** The path a batch item names: the request's folder joined with the item's relative path. */
export function joinItemPath(folder: string, item: string): string {
  return `${folder.replace(/\/+$/, '')}/${item}`;
}
