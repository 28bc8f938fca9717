/** Small things several handlers share. */
import type { StatsLike } from '../../storage/fs-promises.js';

/** 'a/b.txt' in quotes, as the client named it (never the server's absolute path). */
export function quoteRequestPath(path: string): string {
  const shown = path.replace(/^\/+/, '') || '/';
  return `'${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}'`;
}

/** "If the file changes while it is sent (size or mtime moved)". */
export function fileChanged(before: { size: number; mtimeMs: number }, after: StatsLike): boolean {
  return Number(after.size) !== before.size || Math.trunc(Number(after.mtimeMs)) !== Math.trunc(before.mtimeMs);
}
