/**
 * Uploads over HTTP, with `--allow-upload`: `PUT /dir/name` (what `curl -T FILE URL/` sends)
 * and a browser's multipart form POSTed to a folder (busboy reads the multipart body). Each
 * file goes through the one upload pipeline (../upload.ts), step by step as a tcpsend PUT:
 * admit, lock, decide, the partial file, the SHA-256, fsync and rename. Nothing here writes a
 * file.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import escapeHtml from 'escape-html';
import { BadRequestError, TcpsendError, TooLargeError, TransferInterruptedError } from '../../errors.js';
import type { ServerContext, Session } from '../context.js';
import { quoteRequestPath } from '../../files/quote-path.js';
import { errnoCode } from '../root/index.js';
import { asTcpsendError } from '../session.js';
import { admitUpload, uploadBody, type BodySource, type UploadRequest } from '../upload.js';
import { reprDigest } from '../../hash/index.js';
import { HTTP_CHECKSUM } from './download.js';
import type { HttpOutcome } from './outcome.js';
import { httpStatusOf } from './status.js';

/** An upload that arrives as a stream: its size may be unknown until its end (a form field). */
export interface StreamUpload {
  path: string;
  /** Bytes the body will hold, when the sender said (Content-Length); null: unknown. */
  size: number | null;
  /** Replace a different file at `path` (still only if the server allows overwrites). */
  overwrite: boolean;
}

/**
 * Store `body` at `upload.path` through the pipeline's one entry for a whole body (uploadBody),
 * with no SHA-256 declared: what arrives is stored, under the same checks, lock, partial file,
 * fsync and rename as a tcpsend PUT. A body of unknown length is held to --max-upload as it
 * comes. As with a PUT, a body that breaks off leaves its bytes in the partial file.
 */
export async function storeStream(
  ctx: ServerContext,
  session: Session,
  upload: StreamUpload,
  body: AsyncIterable<Buffer>,
): Promise<{ size: number; sha256: string }> {
  const where = quoteRequestPath(upload.path);
  const limit = upload.size ?? ctx.options.maxUploadBytes;
  const req: UploadRequest = { path: upload.path, size: limit, checksum: HTTP_CHECKSUM, digest: null, mtime: null, mode: null, overwrite: upload.overwrite };
  const source: BodySource = async (sink, onChunk) => {
    let received = 0;
    try {
      for await (const chunk of body) {
        received += chunk.length;
        if (received > limit) {
          throw upload.size === null
            ? new TooLargeError(`${where} is over the ${ctx.options.maxUploadBytes} bytes this server takes (--max-upload)`)
            : new BadRequestError(`${where} ran past the ${upload.size} bytes announced`);
        }
        onChunk?.(chunk);
        if (!sink.write(chunk)) await once(sink, 'drain');
      }
    } catch (err) {
      // The client went, or the idle timeout cut it, mid-body: Node's request fails with
      // 'aborted' (ECONNRESET). A cut transfer, not an internal error.
      if (errnoCode(err) === 'ECONNRESET') throw new TransferInterruptedError(received, `${where} was cut off after ${received} bytes: not stored`, { cause: err });
      throw err;
    }
    if (upload.size !== null && received !== upload.size) {
      throw new TransferInterruptedError(received, `${where} ended after ${received} of ${upload.size} bytes: not stored`);
    }
  };
  const { digest, size } = await uploadBody(ctx, session, req, source, null, upload.size === null);
  return { size, sha256: digest };
}

function contentLength(req: IncomingMessage): number | null {
  const value = req.headers['content-length'];
  return value === undefined ? null : Number(value); // Node has checked it is a number
}

/**
 * PUT replaces what is there (RFC 9110 §9.3.4), so it asks to overwrite, which the server
 * still grants only with --allow-overwrite; `If-None-Match: *` asks never to replace.
 */
export async function putFile(ctx: ServerContext, session: Session, req: IncomingMessage, res: ServerResponse, path: string): Promise<HttpOutcome> {
  if (path.endsWith('/')) throw new BadRequestError('PUT names a file: add its name after the folder (curl -T does, for a URL ending in /)');
  const stored = await storeStream(ctx, session, { path, size: contentLength(req), overwrite: req.headers['if-none-match'] !== '*' }, req);
  const body = `stored ${path.replace(/^\/+/, '')}: ${stored.size} bytes, sha256 ${stored.sha256}\n`;
  res.writeHead(201, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Repr-Digest': reprDigest(HTTP_CHECKSUM, stored.sha256),
  });
  res.end(body);
  return { bytes: stored.size, note: 'stored' };
}

interface FileResult {
  name: string;
  size?: number;
  sha256?: string;
  error?: TcpsendError;
}

/** A form POSTed to a folder: every file field is stored in that folder, one after another. */
export async function postForm(ctx: ServerContext, session: Session, req: IncomingMessage, res: ServerResponse, folderPath: string): Promise<HttpOutcome> {
  // Refused before the form is read: uploads off (READ_ONLY), or a folder path that is not one.
  admitUpload(ctx, { path: folderPath, size: 0, checksum: HTTP_CHECKSUM, digest: null, mtime: null, mode: null, overwrite: false });
  let parser: busboy.Busboy;
  try {
    // preservePath: a name is judged by the served root, as every upload's path is ('../x' is
    // BAD_PATH there), and a folder chosen in the browser arrives as 'folder/file'.
    parser = busboy({ headers: req.headers, preservePath: true, limits: { files: 1000, fields: 20, fieldSize: 1024 } });
  } catch (err) {
    throw new BadRequestError(`not a form upload: ${(err as Error).message}`);
  }
  const results: FileResult[] = [];
  let overwrite = false;
  let chain = Promise.resolve();
  parser.on('field', (name, value) => {
    if (name === 'overwrite') overwrite = value === '1' || value === 'on';
  });
  parser.on('file', (_field, stream, info) => {
    const name = info.filename;
    chain = chain.then(async () => {
      try {
        if (!name) throw new BadRequestError('a file in the form has no name');
        const path = `${folderPath.replace(/\/+$/, '')}/${name}`;
        const stored = await storeStream(ctx, session, { path, size: null, overwrite }, stream.iterator({ destroyOnReturn: false }));
        results.push({ name, ...stored });
      } catch (err) {
        results.push({ name: name || '(no name)', error: asTcpsendError(err) });
        stream.resume(); // drop the rest of this file; the next may still be stored
      }
    });
  });
  const finished = new Promise<void>((resolve, reject) => {
    parser.on('close', () => resolve());
    parser.on('error', (err: Error) => reject(new BadRequestError(`bad form upload: ${err.message}`)));
    // The client went away mid-form: the file being stored fails (its part is removed, its
    // lock released) rather than wait for bytes that will never come.
    req.on('close', () => {
      if (req.complete) return;
      const cut = new TransferInterruptedError(0, 'the form upload was cut off');
      parser.destroy(cut);
      reject(cut);
    });
  });
  req.pipe(parser);
  try {
    await finished;
  } finally {
    await chain;
  }
  const failed = results.find((r) => r.error);
  const stored = results.filter((r) => !r.error);
  const status = results.length === 0 ? 400 : failed ? httpStatusOf(failed.error!) : 200;
  const body = renderResults(results);
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return { bytes: stored.reduce((n, r) => n + (r.size ?? 0), 0), note: `stored ${stored.length} of ${results.length} files` };
}

function renderResults(results: readonly FileResult[]): string {
  const rows = results.map((r) =>
    r.error
      ? `<li>✗ ${escapeHtml(r.name)}: ${escapeHtml(r.error.message)}</li>`
      : `<li>✓ ${escapeHtml(r.name)}: ${r.size} bytes, sha256 <code>${r.sha256}</code></li>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Upload · tcpsend</title><style>body{font:16px/1.4 system-ui,sans-serif;margin:1rem auto;max-width:48rem;padding:0 .75rem}code{overflow-wrap:anywhere}</style></head>
<body><h1>Upload</h1><ul>
${rows.join('\n') || '<li>No file was sent.</li>'}
</ul><p><a href="./">Back to the folder</a></p></body></html>
`;
}
