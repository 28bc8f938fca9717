/** Small things several handlers share. */
import type { StatsLike } from '../../storage/fs-promises.js';
import { quotePath } from '../../storage/quote-path.js';

/** 'a/b.txt' in quotes, as the client named it (never the server's absolute path). */
export function quoteRequestPath(path: string): string {
  return quotePath(path.replace(/^\/+/, '') || '/');
}

/** "If the file changes while it is sent (size or mtime moved)". */
export function fileChanged(before: { size: number; mtimeMs: number }, after: StatsLike): boolean {
  return Number(after.size) !== before.size || Math.trunc(Number(after.mtimeMs)) !== Math.trunc(before.mtimeMs);
}
