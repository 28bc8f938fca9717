/** Small things several handlers share. */
import { quotePath } from '../../files/quote-path.js';

/** 'a/b.txt' in quotes, as the client named it (never the server's absolute path). */
export function quoteRequestPath(path: string): string {
  return quotePath(path.replace(/^\/+/, '') || '/');
}

