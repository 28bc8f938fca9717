/** The checksums a server offers, and the refusal of a request that names another. */
import { BadRequestError } from '../errors.js';
import type { ChecksumName } from '../hash/index.js';
import type { ServerContext } from './context.js';

/**
 * A request that names a checksum this server does not offer is refused (its greeting told
 * the client which ones it has: `--checksum-choice` may have left one).
 */
export function checkChecksum(ctx: ServerContext, req: object): void {
  if (!('checksum' in req)) return;
  const checksum = req.checksum as ChecksumName;
  if (ctx.options.checksums.includes(checksum)) return;
  throw new BadRequestError(`this server does not offer checksum ${checksum} (it offers ${ctx.options.checksums.join(', ')})`);
}
