/**
 * Typed readers for the fields of the server's `OK` lines, for the client. A missing or
 * malformed field, or numbers that contradict each other, are a ProtocolError: from the
 * client's side, a server that lies broke the protocol.
 */

import { ProtocolError } from '../errors.js';
import type { ChecksumName } from '../hash/names.js';
import {
  digestKey,
  formatUint,
  optionalDigest,
  optionalFlag,
  optionalUint,
  requireDigest,
  requireMode,
  requireString,
  requireUint,
  type Fields,
} from './fields.js';
import { fromPeer } from './peer.js';
import { quote } from './printable.js';

/**
 * Every digest in an answer is keyed by the checksum the request named (`sha256=H`,
 * `blake3=H`): a reader takes that name and finds the digest under it.
 */

/** `OK size=S offset=O length=L mtime=M mode=O [<checksum>=H]`, before the bytes of a GET. */
export interface GetHeader {
  size: number;
  offset: number;
  /** Exactly this many bytes follow. */
  length: number;
  mtimeMs: number;
  mode: number;
  /** The whole file's digest, when the server's cache knew it. */
  digest: string | null;
}

export function readGetHeader(fields: Fields, checksum: ChecksumName): GetHeader {
  return fromPeer('GET header', () => {
    const header: GetHeader = {
      size: requireUint(fields, 'size', 'a GET header'),
      offset: requireUint(fields, 'offset', 'a GET header'),
      length: requireUint(fields, 'length', 'a GET header'),
      mtimeMs: requireUint(fields, 'mtime', 'a GET header'),
      mode: requireMode(fields, 'mode', 'a GET header'),
      digest: optionalDigest(fields, checksum),
    };
    checkRange(header.offset, header.length, header.size);
    return header;
  });
}

/**
 * A GET answer's header and trailer exactly as a tcpsend server writes them (formatOk, fields
 * in this order), read with one match each: the header or trailer, or null for any other line
 * (an ERR, fields in another order, fields a newer server adds, a number or range the general
 * readers refuse), which then goes through parseResponse and readGetHeader or readGetTrailer.
 * A folder get reads both for every file: the tokens, the Map and the field readers of the
 * general path were 2.7 µs and 2.4 KiB of garbage a file. Held to the general path by
 * test/protocol/fast-parsers.test.ts.
 */
const HEADER_AS_FORMATTED = /^OK size=(0|[1-9][0-9]{0,15}) offset=(0|[1-9][0-9]{0,15}) length=(0|[1-9][0-9]{0,15}) mtime=(0|[1-9][0-9]{0,15}) mode=([0-7]{1,4})(?: ([a-z0-9]+)=([0-9a-f]{64}))?$/;
const TRAILER_AS_FORMATTED = /^OK ([a-z0-9]+)=([0-9a-f]{64})$/;

export function parseFormattedGetHeader(line: string, checksum: ChecksumName): GetHeader | null {
  const m = HEADER_AS_FORMATTED.exec(line);
  if (m === null || (m[6] !== undefined && m[6] !== checksum)) return null;
  const size = Number(m[1]);
  const offset = Number(m[2]);
  const length = Number(m[3]);
  const mtimeMs = Number(m[4]);
  if (Math.max(size, offset, length, mtimeMs) > Number.MAX_SAFE_INTEGER || offset > size || length > size - offset) return null;
  return { size, offset, length, mtimeMs, mode: Number.parseInt(m[5]!, 8), digest: m[7] ?? null };
}

export function parseFormattedGetTrailer(line: string, checksum: ChecksumName): { digest: string } | null {
  const m = TRAILER_AS_FORMATTED.exec(line);
  return m === null || m[1] !== checksum ? null : { digest: m[2]! };
}

/** `OK <checksum>=H`, the trailer after the bytes of a GET: the digest of the whole file. */
export function readGetTrailer(fields: Fields, checksum: ChecksumName): { digest: string } {
  return fromPeer('GET trailer', () => ({
    digest: requireDigest(fields, checksum, 'a GET trailer'),
  }));
}

/** `OK <checksum>=H offset=O length=L size=S`, the answer to HASH. */
export interface HashResult {
  digest: string;
  offset: number;
  length: number;
  size: number;
}

export function readHashResult(fields: Fields, checksum: ChecksumName): HashResult {
  return fromPeer('HASH answer', () => {
    const result: HashResult = {
      digest: requireDigest(fields, checksum, 'a HASH answer'),
      offset: requireUint(fields, 'offset', 'a HASH answer'),
      length: requireUint(fields, 'length', 'a HASH answer'),
      size: requireUint(fields, 'size', 'a HASH answer'),
    };
    checkRange(result.offset, result.length, result.size);
    return result;
  });
}

/** The server's first answer to a two-step PUT: `OK offset=O [part_<checksum>=H] [identical=1]`. */
export interface PutOffer {
  /** Bytes of a partial upload the server holds (0 if none); with `identical`, the size. */
  offset: number;
  /** The digest of the server's first `offset` bytes; set whenever a part is offered. */
  partDigest: string | null;
  /** The destination already holds exactly this content: the upload is over, no DATA. */
  identical: boolean;
}

export function readPutOffer(fields: Fields, checksum: ChecksumName): PutOffer {
  return fromPeer('PUT offer', () => {
    const offer: PutOffer = {
      offset: requireUint(fields, 'offset', 'a PUT offer'),
      partDigest: optionalDigest(fields, checksum, 'part_'),
      identical: optionalFlag(fields, 'identical'),
    };
    // "`part_sha256`, their digest, when `offset` > 0": without it the client cannot check the
    // part it would be resuming.
    if (offer.offset > 0 && !offer.identical && offer.partDigest === null) {
      throw new ProtocolError(`offset=${offer.offset} without ${digestKey(checksum, 'part_')}=`);
    }
    return offer;
  });
}

/**
 * `OK size=S <checksum>=H [identical=1]`, the final answer to PUT (and to each MPUT item): the
 * one way a server writes it, and the line a client expects back, to the byte (see
 * readPutResult's callers).
 */
export function formatPutResult(size: number, checksum: ChecksumName, digest: string, identical = false): string {
  return `OK size=${formatUint(size)} ${digestKey(checksum)}=${digest}${identical ? ' identical=1' : ''}`;
}

/** `OK size=S <checksum>=H`, the final answer to PUT. */
export function readPutResult(fields: Fields, checksum: ChecksumName): { size: number; digest: string } {
  return fromPeer('PUT result', () => ({
    size: requireUint(fields, 'size', 'a PUT result'),
    digest: requireDigest(fields, checksum, 'a PUT result'),
  }));
}

/** `OK type=file size=S mtime=M mode=O [<checksum>=H]` or `OK type=dir mtime=M mode=O`. */
export interface StatInfo {
  type: 'file' | 'dir';
  /** Always set for a file. */
  size: number | null;
  mtimeMs: number;
  mode: number;
  digest: string | null;
}

export function readStat(fields: Fields, checksum: ChecksumName): StatInfo {
  return fromPeer('STAT answer', () => {
    const type = requireString(fields, 'type', 'a STAT answer');
    if (type !== 'file' && type !== 'dir') {
      throw new ProtocolError(`type must be file or dir, got ${quote(type)}`);
    }
    const size = optionalUint(fields, 'size');
    if (type === 'file' && size === null) throw new ProtocolError('type=file without size=');
    return {
      type,
      size,
      mtimeMs: requireUint(fields, 'mtime', 'a STAT answer'),
      mode: requireMode(fields, 'mode', 'a STAT answer'),
      digest: optionalDigest(fields, checksum),
    };
  });
}

/** `OK version=1`, the answer to HELLO. */
export function readHelloReply(fields: Fields): { version: number } {
  return fromPeer('HELLO answer', () => ({
    version: requireUint(fields, 'version', 'a HELLO answer'),
  }));
}

function checkRange(offset: number, length: number, size: number): void {
  if (offset > size || length > size - offset) {
    throw new ProtocolError(`range offset=${offset} length=${length} is outside size=${size}`);
  }
}
