/**
 * "If the file changes while it is sent (size or mtime moved)": one test, for the server's
 * replies and the client's uploads alike.
 */
import { wholeMilliseconds } from './mtime.js';

/** `after` (a stat) is another version than `before` (size and whole-ms mtime as first seen). */
export function fileChanged(
  before: { size: number; mtimeMs: number },
  after: { size: number | bigint; mtimeMs: number | bigint },
): boolean {
  return Number(after.size) !== before.size || wholeMilliseconds(Number(after.mtimeMs)) !== wholeMilliseconds(before.mtimeMs);
}
