/**
 * Request lines (docs/protocol.md, "Requests" and "Verbs"): parse what a client sent, format
 * what a client sends. `format` then `parse` gives back the same object.
 *
 *   request = verb [SP path] *(SP field)
 */

import { BadRequestError, UnknownVerbError, UsageError } from '../errors.js';
import type { ChecksumName } from '../hash/names.js';
import { decodePath, encodePath } from './encoding.js';
import {
  digestKey,
  formatChecksum,
  formatDigest,
  namedDigest,
  optionalChecksum,
  optionalDigest,
  optionalFlag,
  optionalMode,
  optionalString,
  optionalUint,
  requireString,
  requireUint,
  type Fields,
} from './fields.js';
import { quote } from './printable.js';
import {
  formatFields,
  isFieldToken,
  parseFields,
  splitTokens,
  type FieldValues,
} from './tokens.js';

export interface HelloRequest {
  verb: 'HELLO';
  version: number | null;
  client: string | null;
  /** `checksums=blake3,sha256`: the algorithms the client has, as it sent them (null: none named). */
  checksums: string | null;
  /** `progress=1`: the client takes `+` lines (progress) before an answer that is slow to come. */
  progress?: boolean;
}

/**
 * `checksum=NAME` on the verbs that carry or compute digests: the algorithm of every digest
 * in the request, its items and its answers. SHA-256 when the request names none.
 */
interface ChecksumChoice {
  checksum: ChecksumName;
}

export interface StatRequest extends ChecksumChoice {
  verb: 'STAT';
  path: string;
  /** `hash=1`: include the file's digest. */
  hash: boolean;
}

export interface ListRequest {
  verb: 'LIST';
  path: string;
  recursive: boolean;
  /** `links=1`: symlinks whose target stays inside are listed as `type=link target=...`. */
  links?: boolean;
}

export interface GetRequest extends ChecksumChoice {
  verb: 'GET';
  path: string;
  /** 0 when the request has no `offset`. */
  offset: number;
  /** null: to the end of the file. */
  length: number | null;
  /** `prefix_<checksum>`: the digest of the receiver's first `offset` bytes, for resume. */
  prefixDigest: string | null;
}

export interface HashRequest extends ChecksumChoice {
  verb: 'HASH';
  path: string;
  offset: number;
  length: number | null;
}

export interface PutRequest extends ChecksumChoice {
  verb: 'PUT';
  path: string;
  size: number;
  /**
   * The whole file's digest when the client knows it up front (it enables the identical
   * check); null otherwise, and the client's END trailer carries it after the body.
   */
  digest: string | null;
  mtime: number | null;
  mode: number | null;
  overwrite: boolean;
  /** `offset=0` was sent: the one-step form, the body follows the request line at once. */
  eager: boolean;
}

export interface DataRequest {
  verb: 'DATA';
  offset: number;
}

/** After an upload body: the digest of the whole file, computed while it was read, keyed by its algorithm. */
export interface EndRequest extends ChecksumChoice {
  verb: 'END';
  digest: string;
}

/** After an upload body, instead of END: the client's file changed; drop the upload. */
export interface AbortRequest {
  verb: 'ABORT';
  reason: string | null;
}

export interface MkdirRequest {
  verb: 'MKDIR';
  path: string;
  mtime: number | null;
  mode: number | null;
}

export interface QuitRequest {
  verb: 'QUIT';
}

/** Remove a file, a symlink (not followed) or a folder with all in it (`serve --allow-delete`). */
export interface DeleteRequest {
  verb: 'DELETE';
  path: string;
}

/** Make a symlink at `path` to `target` (relative, and resolving inside the root). */
export interface SymlinkRequest {
  verb: 'SYMLINK';
  path: string;
  target: string;
  overwrite: boolean;
}

/**
 * Many whole files of one folder in one request: `count` item lines (see batch.ts) follow
 * the request line, and each gets the answer `GET folder/item` would get, in order.
 */
export interface MgetRequest extends ChecksumChoice {
  verb: 'MGET';
  path: string;
  count: number;
}

/** Many small uploads into one folder: `count` items follow, each an item line and its bytes. */
export interface MputRequest extends ChecksumChoice {
  verb: 'MPUT';
  path: string;
  count: number;
  overwrite: boolean;
}

export type Request =
  | HelloRequest
  | StatRequest
  | ListRequest
  | GetRequest
  | HashRequest
  | PutRequest
  | DataRequest
  | EndRequest
  | AbortRequest
  | MkdirRequest
  | QuitRequest
  | MgetRequest
  | MputRequest
  | DeleteRequest
  | SymlinkRequest;

export type Verb = Request['verb'];

/** Every verb, and whether it takes a path. */
const TAKES_PATH: Readonly<Record<Verb, boolean>> = {
  HELLO: false,
  STAT: true,
  LIST: true,
  GET: true,
  HASH: true,
  PUT: true,
  DATA: false,
  END: false,
  ABORT: false,
  MKDIR: true,
  QUIT: false,
  MGET: true,
  MPUT: true,
  DELETE: true,
  SYMLINK: true,
};

export const VERBS: readonly Verb[] = Object.keys(TAKES_PATH) as Verb[];

function isVerb(token: string): token is Verb {
  return Object.hasOwn(TAKES_PATH, token);
}

// verb = 1*UPALPHA
const VERB = /^[A-Z]+$/;

/**
 * Parses a request line (without its CRLF). Malformed lines are BadRequestError, unknown verbs
 * UnknownVerbError, undecodable paths BadPathError.
 */
export function parseRequest(line: string): Request {
  const tokens = splitTokens(line);
  const [verbToken, ...rest] = tokens;
  if (verbToken === undefined) throw new BadRequestError('empty request line');
  if (!VERB.test(verbToken)) {
    const upper = verbToken.toUpperCase();
    const hint = isVerb(upper) ? ` (try ${upper})` : '';
    throw new BadRequestError(
      `verb must be upper-case letters, got ${quote(verbToken, 32)}${hint}`,
    );
  }
  if (!isVerb(verbToken)) throw new UnknownVerbError(`unknown verb ${quote(verbToken, 32)}`);
  const verb = verbToken;

  // "path = 1*pchar ; a token with no "="": the second token, if it has no "=", is the path.
  let path: string | null = null;
  let fieldTokens = rest;
  const [second, ...afterPath] = rest;
  if (second !== undefined && !isFieldToken(second)) {
    if (!TAKES_PATH[verb]) throw new BadRequestError(`${verb} takes no path`);
    path = decodePath(second);
    fieldTokens = afterPath;
  }
  const stray = fieldTokens.find((token) => !isFieldToken(token));
  if (stray !== undefined) {
    throw new BadRequestError(`expected key=value after the path, got ${quote(stray)}`);
  }
  // "Fields a server does not know are ignored": only the known keys are read below.
  const fields = parseFields(fieldTokens);

  const needPath = (): string => {
    if (path === null) throw new BadRequestError(`${verb} needs a path`);
    return path;
  };
  const checksum = optionalChecksum(fields);
  switch (verb) {
    case 'HELLO':
      return {
        verb,
        version: optionalUint(fields, 'version'),
        client: optionalString(fields, 'client'),
        checksums: optionalString(fields, 'checksums'),
        ...(optionalFlag(fields, 'progress') ? { progress: true } : {}),
      };
    case 'STAT':
      return { verb, path: needPath(), hash: optionalFlag(fields, 'hash'), checksum };
    case 'LIST':
      return {
        verb,
        path: needPath(),
        recursive: optionalFlag(fields, 'recursive'),
        ...(optionalFlag(fields, 'links') ? { links: true } : {}),
      };
    case 'GET':
      return {
        verb,
        path: needPath(),
        // "Without `offset`, the range starts at 0; without `length` it runs to the end."
        offset: optionalUint(fields, 'offset') ?? 0,
        length: optionalUint(fields, 'length'),
        checksum,
        prefixDigest: optionalDigest(fields, checksum, 'prefix_'),
      };
    case 'HASH':
      return {
        verb,
        path: needPath(),
        offset: optionalUint(fields, 'offset') ?? 0,
        length: optionalUint(fields, 'length'),
        checksum,
      };
    case 'PUT':
      return {
        verb,
        path: needPath(),
        size: requireUint(fields, 'size', 'PUT'),
        checksum,
        digest: optionalDigest(fields, checksum),
        mtime: optionalUint(fields, 'mtime'),
        mode: optionalMode(fields, 'mode'),
        overwrite: optionalFlag(fields, 'overwrite'),
        eager: readEagerOffset(fields),
      };
    case 'DATA':
      return { verb, offset: requireUint(fields, 'offset', 'DATA') };
    case 'END':
      return { verb, ...namedDigest(fields, 'END') };
    case 'ABORT':
      return { verb, reason: optionalString(fields, 'reason') };
    case 'MKDIR':
      return {
        verb,
        path: needPath(),
        mtime: optionalUint(fields, 'mtime'),
        mode: optionalMode(fields, 'mode'),
      };
    case 'QUIT':
      return { verb };
    case 'MGET':
      return { verb, path: needPath(), count: requireUint(fields, 'count', 'MGET'), checksum };
    case 'MPUT':
      return {
        verb,
        path: needPath(),
        count: requireUint(fields, 'count', 'MPUT'),
        overwrite: optionalFlag(fields, 'overwrite'),
        checksum,
      };
    case 'DELETE':
      return { verb, path: needPath() };
    case 'SYMLINK':
      return {
        verb,
        path: needPath(),
        target: requireString(fields, 'target', 'SYMLINK'),
        overwrite: optionalFlag(fields, 'overwrite'),
      };
  }
}

/** "`PUT path size=S [sha256=H] offset=0 ...` is the one-step form": any other offset is wrong. */
function readEagerOffset(fields: Fields): boolean {
  const offset = optionalUint(fields, 'offset');
  if (offset !== null && offset !== 0) {
    throw new BadRequestError(`PUT offset can only be 0 (the one-step form), got ${offset}`);
  }
  return offset === 0;
}

/**
 * Formats a request line (without CRLF). The path is percent-encoded, so any path round-trips;
 * an empty path cannot be sent (the root is `/`) and is a UsageError.
 */
export function formatRequest(req: Request): string {
  const withPath = (path: string, fields: FieldValues): string => {
    if (path === '') throw new UsageError(`${req.verb} needs a non-empty path (the root is '/')`);
    return `${req.verb} ${encodePath(path)}${formatFields(fields)}`;
  };
  switch (req.verb) {
    case 'HELLO':
      return `HELLO${formatFields({ version: req.version, client: req.client, progress: req.progress || null, checksums: req.checksums })}`;
    case 'STAT':
      return withPath(req.path, { hash: req.hash || null, checksum: formatChecksum(req.checksum) });
    case 'LIST':
      return withPath(req.path, { recursive: req.recursive || null, links: req.links || null });
    case 'GET':
      return withPath(req.path, {
        offset: req.offset || null,
        length: req.length,
        checksum: formatChecksum(req.checksum),
        [digestKey(req.checksum, 'prefix_')]: req.prefixDigest === null ? null : formatDigest(req.prefixDigest),
      });
    case 'HASH':
      return withPath(req.path, { offset: req.offset || null, length: req.length, checksum: formatChecksum(req.checksum) });
    case 'PUT':
      return withPath(req.path, {
        size: req.size,
        checksum: formatChecksum(req.checksum),
        [digestKey(req.checksum)]: req.digest === null ? null : formatDigest(req.digest),
        offset: req.eager ? 0 : null,
        mtime: req.mtime,
        mode: req.mode,
        overwrite: req.overwrite || null,
      });
    case 'DATA':
      return `DATA${formatFields({ offset: req.offset })}`;
    case 'END':
      return `END${formatFields({ [digestKey(req.checksum)]: formatDigest(req.digest) })}`;
    case 'ABORT':
      return `ABORT${formatFields({ reason: req.reason })}`;
    case 'MKDIR':
      return withPath(req.path, { mtime: req.mtime, mode: req.mode });
    case 'QUIT':
      return 'QUIT';
    case 'MGET':
      return withPath(req.path, { count: req.count, checksum: formatChecksum(req.checksum) });
    case 'MPUT':
      return withPath(req.path, { count: req.count, overwrite: req.overwrite || null, checksum: formatChecksum(req.checksum) });
    case 'DELETE':
      return withPath(req.path, {});
    case 'SYMLINK':
      return withPath(req.path, { target: req.target, overwrite: req.overwrite || null });
  }
}

// ---------------------------------------------------------------------------------------------
// The first line of a connection, and bare selectors

/** What a connection's first line asks for: see docs/protocol.md, "Telling the first line apart". */
export type FirstLineKind = 'request' | 'http' | 'selector';

// "a request line that ends in ` HTTP/1.0` or ` HTTP/1.1`": method SP request-target SP version.
// This only routes the connection; Node's own HTTP parser reads (and judges) the request.
const HTTP_REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ ]+ HTTP\/1\.[01]$/;

/**
 * Tell the three kinds of client apart by their first line, in this order: a line that ends in
 * ` HTTP/1.0` or ` HTTP/1.1` after a method and a target is HTTP; a line whose first word is a
 * tcpsend verb, exactly (upper-case), is a tcpsend request; anything else is a bare selector, a
 * file name with or without its leading `/`, as the classic "send a name, read until close"
 * clients and Gopher send it. Only the first line of a connection is told apart this way.
 */
export function firstLineKind(line: string): FirstLineKind {
  if (HTTP_REQUEST_LINE.test(line)) return 'http';
  const firstWord = line.split(' ', 1)[0]!;
  return isVerb(firstWord) ? 'request' : 'selector';
}

/**
 * The path a selector line names, decoded like a request path (`%XX` and raw UTF-8; a bad
 * escape is BadPathError). The whole line is the selector, spaces included, up to a TAB: a
 * Gopher client sends `selector TAB search` or `selector TAB +`.
 */
export function selectorPath(line: string): string {
  const tab = line.indexOf('\t');
  const selector = tab < 0 ? line : line.slice(0, tab);
  return selector === '' ? '/' : decodePath(selector);
}
