/**
 * GET and HEAD of a file (RFC 9110): validators, single byte ranges, and the whole file's
 * SHA-256 as `Repr-Digest` (RFC 9530) when the server knows it. Range and conditional headers
 * are read by range-parser and fresh; the bytes go out through the same sendfile as a tcpsend
 * GET, from a file opened through the served root.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import fresh from 'fresh';
import { contentType } from 'mime-types';
import parseRange from 'range-parser';
import { sendFileRange } from '../../io/index.js';
import { fileChanged } from '../../files/file-changed.js';
import type { FileInfo } from '../root/index.js';
import { createHasher, reprDigest, type ChecksumName } from '../../hash/index.js';
import type { ServerContext } from '../context.js';
import type { HttpOutcome } from './outcome.js';

/** A strong validator: this inode, at this size and modification time. */
export function entityTag(info: FileInfo): string {
  return `"${info.ino.toString(16)}-${info.size.toString(16)}-${info.mtimeMs.toString(16)}"`;
}

/**
 * The checksum HTTP answers carry, whatever the tcpsend verbs negotiate: SHA-256 is in IANA's
 * registry of digest algorithms (`sha-256`), so curl users can check it with sha256sum and
 * RFC 9530 recipients know it; BLAKE3 is not registered, and recipients ignore unknown keys.
 */
export const HTTP_CHECKSUM: ChecksumName = 'sha256';

/** The bytes to send: the whole file (200), one range (206), or none (416). */
type Selection = { status: 200 | 206; start: number; length: number } | { status: 416 };

/**
 * RFC 9110 §14.2: a server MAY ignore Range. A malformed one, one that is not in bytes, or a
 * list of several ranges gets the whole file (200): one byte range is all a resuming client
 * (curl -C -, wget -c, a browser) asks for, and multipart/byteranges is not worth its cost.
 * A single range that starts past the end is unsatisfiable (416).
 */
export function selectRange(size: number, range: string | undefined): Selection {
  const whole = { status: 200, start: 0, length: size } as const;
  if (range === undefined) return whole;
  const ranges = parseRange(size, range, { combine: true });
  if (ranges === -1) return { status: 416 };
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return whole;
  const { start, end } = ranges[0]!;
  return { status: 206, start, length: end - start + 1 };
}

/** RFC 9110 §13.1.5: a range applies only if If-Range names this very version (strong match). */
function ifRangeHolds(req: IncomingMessage, etag: string, lastModified: string): boolean {
  const ifRange = req.headers['if-range'];
  if (ifRange === undefined) return true;
  return ifRange === etag || ifRange === lastModified;
}

export async function sendFile(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<HttpOutcome> {
  const { file, info } = ctx.root.openRead(path);
  try {
    const etag = entityTag(info);
    const lastModified = new Date(info.mtimeMs).toUTCString();
    const known = ctx.hashCache.get(info, HTTP_CHECKSUM);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModified);
    res.setHeader('Content-Type', contentType(path.split('/').pop() ?? '') || 'application/octet-stream');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // A served .html file runs in a sandbox of its own, not as this server's origin: it cannot
    // script the folder pages or their upload forms.
    res.setHeader('Content-Security-Policy', 'sandbox');
    if (known !== undefined) res.setHeader('Repr-Digest', reprDigest(HTTP_CHECKSUM, known));

    if (fresh(req.headers, { etag, 'last-modified': lastModified })) {
      res.statusCode = 304;
      res.end();
      return { bytes: 0, note: '304' };
    }
    const selection = ifRangeHolds(req, etag, lastModified) ? selectRange(info.size, req.headers.range) : selectRange(info.size, undefined);
    if (selection.status === 416) {
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${info.size}`);
      res.setHeader('Content-Length', 0);
      res.end();
      return { bytes: 0, note: `416 ${req.headers.range ?? ''}`.trim() };
    }
    const { start, length } = selection;
    res.statusCode = selection.status;
    res.setHeader('Content-Length', length);
    if (selection.status === 206) res.setHeader('Content-Range', `bytes ${start}-${start + length - 1}/${info.size}`);
    if (req.method === 'HEAD') {
      res.end();
      return { bytes: 0, note: `${selection.status}` };
    }
    // The whole file, not yet hashed: hash it on the way, so the next answer carries Repr-Digest.
    const hash = known === undefined && selection.status === 200 ? createHasher(HTTP_CHECKSUM) : null;
    const sent = await sendFileRange(res, file, start, length, {
      timeoutMs: ctx.options.idleTimeoutMs,
      onChunk: hash ? (chunk) => void hash.update(chunk) : undefined,
    });
    if (sent < length) {
      // The file shrank under us, or the client went away: the announced length cannot be
      // met, so the connection is cut and the client sees a short transfer.
      res.destroy();
      return { bytes: sent, note: 'cut short' };
    }
    res.end();
    if (hash && !fileChanged(info, file.stat())) ctx.hashCache.set(info, HTTP_CHECKSUM, hash.digest());
    return { bytes: sent, note: selection.status === 206 ? `206 from ${start}` : undefined };
  } finally {
    file.close();
  }
}
