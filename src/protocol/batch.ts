/**
 * The item lines of the batch verbs (docs/protocol.md, "MGET" and "MPUT"): after
 * `MGET folder count=N` come N lines, each naming one file relative to the folder; after
 * `MPUT folder count=N` come N items, each an item line and then exactly `size` bytes.
 *
 *   mget-item = path
 *   mput-item = path SP "size=" uint SP "sha256=" hex64 [SP "mtime=" uint] [SP "mode=" octal]
 */
import { BadPathError, BadRequestError } from '../errors.js';
import { decodePath, encodePath } from './encoding.js';
import { formatSha256, optionalMode, optionalUint, requireSha256, requireUint } from './fields.js';
import { quote } from './printable.js';
import { formatFields, isFieldToken, parseFields, splitTokens } from './tokens.js';

/** Items one batch request may carry: a server reads them one by one, so this bounds a request's work, not its memory. */
export const MAX_BATCH_ITEMS = 10_000;

/** An MPUT item's bytes are held whole in memory: more than this is refused (and the connection closed). */
export const MAX_MPUT_ITEM_BYTES = 1024 * 1024;

export interface MputItem {
  /** Relative to the request's folder. */
  path: string;
  size: number;
  sha256: string;
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
  return itemPath(splitTokens(line)[0], 'MGET');
}

export function formatMgetItem(path: string): string {
  return encodePath(path);
}

export function parseMputItem(line: string): MputItem {
  const [first, ...rest] = splitTokens(line);
  const path = itemPath(first, 'MPUT');
  const fields = parseFields(rest);
  return {
    path,
    size: requireUint(fields, 'size', 'an MPUT item'),
    sha256: requireSha256(fields, 'sha256', 'an MPUT item'),
    mtime: optionalUint(fields, 'mtime'),
    mode: optionalMode(fields, 'mode'),
  };
}

export function formatMputItem(item: MputItem): string {
  return `${encodePath(item.path)}${formatFields({
    size: item.size,
    sha256: formatSha256(item.sha256),
    mtime: item.mtime,
    mode: item.mode,
  })}`;
}

/** The path a batch item names: the request's folder joined with the item's relative path. */
export function joinItemPath(folder: string, item: string): string {
  return `${folder.replace(/\/+$/, '')}/${item}`;
}
