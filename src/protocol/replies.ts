/**
 * Typed readers for the fields of the server's `OK` lines, for the client. A missing or
 * malformed field, or numbers that contradict each other, are a ProtocolError: from the
 * client's side, a server that lies broke the protocol.
 */

import { ProtocolError } from '../errors.js';
import {
  optionalFlag,
  optionalSha256,
  optionalUint,
  requireMode,
  requireSha256,
  requireString,
  requireUint,
  type Fields,
} from './fields.js';
import { fromPeer } from './peer.js';
import { quote } from './printable.js';

/** `OK size=S offset=O length=L mtime=M mode=O [sha256=H]`, before the bytes of a GET. */
export interface GetHeader {
  size: number;
  offset: number;
  /** Exactly this many bytes follow. */
  length: number;
  mtimeMs: number;
  mode: number;
  /** The whole file's SHA-256, when the server's cache knew it. */
  sha256: string | null;
}

export function readGetHeader(fields: Fields): GetHeader {
  return fromPeer('GET header', () => {
    const header: GetHeader = {
      size: requireUint(fields, 'size', 'a GET header'),
      offset: requireUint(fields, 'offset', 'a GET header'),
      length: requireUint(fields, 'length', 'a GET header'),
      mtimeMs: requireUint(fields, 'mtime', 'a GET header'),
      mode: requireMode(fields, 'mode', 'a GET header'),
      sha256: optionalSha256(fields, 'sha256'),
    };
    checkRange(header.offset, header.length, header.size);
    return header;
  });
}

/** `OK sha256=H`, the trailer after the bytes of a GET: the SHA-256 of the whole file. */
export function readGetTrailer(fields: Fields): { sha256: string } {
  return fromPeer('GET trailer', () => ({
    sha256: requireSha256(fields, 'sha256', 'a GET trailer'),
  }));
}

/** `OK sha256=H offset=O length=L size=S`, the answer to HASH. */
export interface HashResult {
  sha256: string;
  offset: number;
  length: number;
  size: number;
}

export function readHashResult(fields: Fields): HashResult {
  return fromPeer('HASH answer', () => {
    const result: HashResult = {
      sha256: requireSha256(fields, 'sha256', 'a HASH answer'),
      offset: requireUint(fields, 'offset', 'a HASH answer'),
      length: requireUint(fields, 'length', 'a HASH answer'),
      size: requireUint(fields, 'size', 'a HASH answer'),
    };
    checkRange(result.offset, result.length, result.size);
    return result;
  });
}

/** The server's first answer to a two-step PUT: `OK offset=O [part_sha256=H] [identical=1]`. */
export interface PutOffer {
  /** Bytes of a partial upload the server holds (0 if none); with `identical`, the size. */
  offset: number;
  /** SHA-256 of the server's first `offset` bytes; set whenever a part is offered. */
  partSha256: string | null;
  /** The destination already holds exactly this content: the upload is over, no DATA. */
  identical: boolean;
}

export function readPutOffer(fields: Fields): PutOffer {
  return fromPeer('PUT offer', () => {
    const offer: PutOffer = {
      offset: requireUint(fields, 'offset', 'a PUT offer'),
      partSha256: optionalSha256(fields, 'part_sha256'),
      identical: optionalFlag(fields, 'identical'),
    };
    // "`part_sha256`, their SHA-256, when `offset` > 0": without it the client cannot check the
    // part it would be resuming.
    if (offer.offset > 0 && !offer.identical && offer.partSha256 === null) {
      throw new ProtocolError(`offset=${offer.offset} without part_sha256=`);
    }
    return offer;
  });
}

/** `OK size=S sha256=H`, the final answer to PUT. */
export function readPutResult(fields: Fields): { size: number; sha256: string } {
  return fromPeer('PUT result', () => ({
    size: requireUint(fields, 'size', 'a PUT result'),
    sha256: requireSha256(fields, 'sha256', 'a PUT result'),
  }));
}

/** `OK type=file size=S mtime=M mode=O [sha256=H]` or `OK type=dir mtime=M mode=O`. */
export interface StatInfo {
  type: 'file' | 'dir';
  /** Always set for a file. */
  size: number | null;
  mtimeMs: number;
  mode: number;
  sha256: string | null;
}

export function readStat(fields: Fields): StatInfo {
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
      sha256: optionalSha256(fields, 'sha256'),
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
