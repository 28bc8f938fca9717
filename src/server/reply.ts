/**
 * Replies prepared ahead of their turn, and the one builder of a small file's whole answer
 * (header, bytes, trailer laid end to end), which GET and every MGET item use.
 */
import { FileChangedError, PrefixMismatchError } from '../errors.js';
import { fileChanged, SMALL_FILE_BYTES } from '../files/index.js';
import { formatOk } from '../protocol/index.js';
import { toStorageError, type OpenedFile } from './root/index.js';
import { checksumAlgorithm, CHECKSUM_NAMES, type ChecksumName } from '../hash/index.js';
import type { HandlerResult, ServerContext, Session } from './context.js';
import { quoteRequestPath } from '../files/quote-path.js';

/**
 * A reply in two phases: the file-system work is done (it may run ahead while earlier replies
 * still go out, so a pipelined folder transfer keeps the disk busy), and `send` writes it when
 * its turn comes; `discard` releases it if that turn never comes.
 */
export interface PreparedReply {
  /** Bytes the reply holds in memory while it waits its turn (bounded per connection). */
  readonly heldBytes: number;
  send(session: Session): Promise<HandlerResult>;
  discard(): void;
}

/** A reply that is one ready buffer or line. */
export function readyReply(data: Buffer | string, result: HandlerResult = {}): PreparedReply {
  return {
    heldBytes: typeof data === 'string' ? data.length : data.length,
    send: async (session) => {
      await session.file.write(data);
      return result;
    },
    discard: () => {},
  };
}

/** Files up to this size are answered whole: read at once, and sent with header and trailer in one write. */
export const SMALL_BODY = SMALL_FILE_BYTES;

/** A GET trailer's length at most: `OK sha256=<64 hex digits>` (or blake3=) and CRLF. */
export const TRAILER_BYTES = Math.max(...CHECKSUM_NAMES.map((name) => `${formatOk({ [name]: '0'.repeat(64) })}\r\n`.length));

/** What part of a small file to answer with, in which checksum, and the prefix digest a resuming receiver holds. */
export interface SmallRange {
  offset: number;
  length: number;
  checksum: ChecksumName;
  prefixDigest: string | null;
}

/**
 * The whole answer to a GET of a small file (info.size <= SMALL_BODY), written into the room
 * `reserve(bytes)` gives (a buffer of its own for a GET, a slab shared by many for MGET): the
 * header, the bytes and the trailer, read with synchronous calls (the file is small). Returns
 * the bytes used. A change seen here is still a clean ERR: nothing has been sent yet.
 */
export function layOutSmallFile(
  ctx: ServerContext,
  requestPath: string,
  { file, info }: OpenedFile,
  range: SmallRange,
  reserve: (bytes: number) => { buffer: Buffer; at: number },
): number {
  const { checksum } = range;
  const cached = ctx.hashCache.get(info, checksum) ?? null;
  const header = `${formatOk({ size: info.size, offset: range.offset, length: range.length, mtime: info.mtimeMs, mode: info.mode, [checksum]: cached })}\r\n`;
  const total = header.length + range.length + TRAILER_BYTES;
  const whole = range.offset === 0 && range.length === info.size;
  const { buffer, at } = reserve(whole ? total : total + info.size);
  buffer.write(header, at, 'latin1');
  const bodyAt = at + header.length;
  // The whole file goes where the body goes; a range is read whole past the end of the reply.
  const contents = buffer.subarray(whole ? bodyAt : at + total, (whole ? bodyAt : at + total) + info.size);
  let got: number;
  try {
    got = file.readSyncInto(contents, 0);
  } catch (err) {
    throw toStorageError(err, requestPath);
  }
  if (got < info.size || fileChanged(info, file.stat())) {
    throw new FileChangedError(`${quoteRequestPath(requestPath)} changed while it was being read: try again`);
  }
  const algorithm = checksumAlgorithm(checksum);
  if (range.prefixDigest !== null && range.offset > 0) {
    const prefix = algorithm.digestOf(contents.subarray(0, range.offset));
    if (prefix !== range.prefixDigest) {
      throw new PrefixMismatchError(`the first ${range.offset} bytes of ${quoteRequestPath(requestPath)} differ from the receiver's: start over`);
    }
  }
  const digest = cached ?? algorithm.digestOf(contents);
  if (cached === null) ctx.hashCache.set(info, checksum, digest);
  if (!whole) contents.copy(buffer, bodyAt, range.offset, range.offset + range.length);
  const trailer = `${formatOk({ [checksum]: digest })}\r\n`;
  buffer.write(trailer, bodyAt + range.length, 'latin1');
  // The reply is exactly as long as what was written (the trailer's room is its longest form).
  return header.length + range.length + trailer.length;
}
