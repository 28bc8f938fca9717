/**
 * One HTTP request, parsed by Node, answered from the served root: which handler a method and
 * target go to. Each handler is thin; the file system is reached only through ctx.root and the
 * upload pipeline (handlers/put.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ServerContext, Session } from '../context.js';
import type { ListEntry } from '../root/index.js';
import { sendFile } from './download.js';
import { renderFolderPage, renderSecretPage } from './folder-page.js';
import { sendFolderTar } from './folder-tar.js';
import type { HttpOutcome } from './outcome.js';
import { parseTarget } from './target.js';
import { postForm, putFile } from './upload.js';

const ALLOW = 'GET, HEAD, PUT, POST, OPTIONS';

/** The path the request named, for the log, once known. */
export interface Answered extends HttpOutcome {
  path: string | null;
}

export async function answerHttp(ctx: ServerContext, session: Session, req: IncomingMessage, res: ServerResponse): Promise<Answered> {
  if (ctx.options.secret !== undefined) return { path: null, ...forbidWithoutSecret(res) };
  if (ctx.shuttingDown) res.shouldKeepAlive = false;
  const target = parseTarget(req.url);
  const at = (outcome: HttpOutcome): Answered => ({ path: target.path, ...outcome });
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const info = ctx.root.stat(target.path);
      if (info.type === 'file') return at(await sendFile(ctx, req, res, target.path));
      // A folder's page links its entries relative to itself: it must be asked for with its /.
      if (!target.folder) return at(redirect(res, `${target.rawPath}/${req.url!.slice(target.rawPath.length)}`));
      if (target.query.has('tar') && req.method === 'GET') {
        return at(await sendFolderTar(ctx, res, target.path, path.basename(ctx.root.rootPath)));
      }
      return at(await sendFolderPage(ctx, req, res, target.path));
    }
    case 'PUT':
      return at(await putFile(ctx, session, req, res, target.path));
    case 'POST':
      return at(await postForm(ctx, session, req, res, target.path));
    case 'OPTIONS':
      res.writeHead(204, { Allow: ALLOW });
      res.end();
      return at({ bytes: 0 });
    default: {
      const body = `405: ${req.method} is not served here (${ALLOW})\n`;
      res.writeHead(405, { Allow: ALLOW, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
      res.end(body);
      return at({ bytes: 0, note: '405' });
    }
  }
}

async function sendFolderPage(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, folderPath: string): Promise<HttpOutcome> {
  const entries: ListEntry[] = [];
  for await (const entry of ctx.root.list(folderPath, { recursive: false })) entries.push(entry);
  const body = renderFolderPage({ path: folderPath, host: os.hostname(), entries, upload: ctx.options.allowUpload, overwrite: ctx.options.allowOverwrite });
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    // No script runs on the page: a name that slipped past the escaping would still be inert.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return { bytes: Buffer.byteLength(body), note: `${entries.length} entries` };
}

function redirect(res: ServerResponse, location: string): HttpOutcome {
  res.writeHead(301, { Location: location, 'Content-Length': 0 });
  res.end();
  return { bytes: 0, note: '301' };
}

/**
 * "A server with a secret never serves a file's bytes over plain HTTP": a browser cannot hold
 * the secret, so every request gets a 403 page that says so.
 */
function forbidWithoutSecret(res: ServerResponse): HttpOutcome {
  const body = renderSecretPage();
  res.writeHead(403, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return { bytes: 0, note: 'refused: the server has a secret' };
}
