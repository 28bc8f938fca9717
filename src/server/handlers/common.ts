/** Small things several handlers share. */
import { BadRequestError } from '../../errors.js';
import type { Request } from '../../protocol/index.js';
import { quotePath } from '../../storage/quote-path.js';
import type { ServerContext } from '../context.js';

/** 'a/b.txt' in quotes, as the client named it (never the server's absolute path). */
export function quoteRequestPath(path: string): string {
  return quotePath(path.replace(/^\/+/, '') || '/');
}


/**
 * A request that names a checksum this server does not offer is refused (the greeting told
 * the client which ones it has).
 */
export function checkChecksum(ctx: ServerContext, req: Request): void {
  if (!('checksum' in req) || ctx.options.checksums.includes(req.checksum)) return;
  throw new BadRequestError(`this server does not offer checksum ${req.checksum} (it offers ${ctx.options.checksums.join(', ')})`);
}
