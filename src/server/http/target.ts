/**
 * The served path an HTTP request-target names. The path is decoded exactly as a tcpsend
 * request path is (docs/protocol.md, "Paths"), and NOT normalised: `/a/../b` and `/%2e%2e/x`
 * reach the served root as written, and its one confinement check refuses them, as it does
 * for `GET ../x`. (WHATWG URL parsing would quietly resolve the dots instead.) The query is
 * read with URLSearchParams.
 */
import { BadRequestError } from '../../errors.js';
import { decodePath } from '../../protocol/index.js';

export interface HttpTarget {
  /** The decoded path, '/'-prefixed as sent. */
  path: string;
  /** The path as sent, still percent-encoded: for links and redirects. */
  rawPath: string;
  /** The target ended in `/`: a folder is meant. */
  folder: boolean;
  query: URLSearchParams;
}

export function parseTarget(url: string | undefined): HttpTarget {
  // origin-form only (RFC 9112 §3.2.1): this is not a proxy.
  if (url === undefined || !url.startsWith('/')) {
    throw new BadRequestError(`request-target must be a path starting with '/', got ${JSON.stringify(String(url).slice(0, 100))}`);
  }
  const cut = url.search(/[?#]/);
  const rawPath = cut < 0 ? url : url.slice(0, cut);
  const query = new URLSearchParams(cut < 0 || url[cut] === '#' ? '' : url.slice(cut + 1).split('#', 1)[0]);
  return { path: decodePath(rawPath), rawPath, folder: rawPath.endsWith('/'), query };
}
