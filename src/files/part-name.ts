/**
 * The name of the partial file an incoming file collects in, the same on both ends: the
 * server's uploads and the client's downloads use this one function, so a name the server
 * stores is a name the client can fetch (a 254-byte name once failed on the client only).
 */
import { createHash } from 'node:crypto';
import { MAX_NAME_BYTES } from './relative-path.js';

/** Partial files end in this suffix; they are never listed, read or overwritten by name. */
export const PART_SUFFIX = '.tcpsend-part';

/** Whether `name` (one segment) is a partial file, hidden from every request. */
export function isPartName(name: string): boolean {
  return name.endsWith(PART_SUFFIX);
}

/**
 * The name of the partial file that collects `name`: hidden (leading dot) and next to its
 * destination, so the final rename stays on one file system. There is one part per
 * destination, not per content: whoever resumes it first checks the part's SHA-256 against
 * its own prefix, so a part of other content is never appended to. If the name would pass
 * NAME_MAX (255 bytes), the SHA-256 of the name stands in for it.
 */
export function partNameFor(name: string): string {
  const partName = `.${name}${PART_SUFFIX}`;
  if (Buffer.byteLength(partName, 'utf8') <= MAX_NAME_BYTES) return partName;
  const nameKey = createHash('sha256').update(name, 'utf8').digest('hex');
  return `.${nameKey}${PART_SUFFIX}`;
}
