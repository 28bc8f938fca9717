/**
 * Bare selectors: "a first line that is neither a tcpsend verb nor an HTTP request line names
 * a file, with or without its leading `/`: the server sends the raw bytes of that file, or for
 * a folder a plain-text listing ..., and closes the connection." A request that fails before
 * any byte is sent is answered as Gopher answers one, with an error item (docs/protocol.md).
 */
import type { TcpsendError } from '../../errors.js';
import { sanitizeMessage, selectorPath } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

export async function handleSelector(ctx: ServerContext, session: Session, line: string): Promise<HandlerResult> {
  const path = selectorPath(line);
  const info = ctx.root.stat(path);
  if (info.type === 'dir') {
    let listing = '';
    for await (const entry of ctx.root.list(path, { recursive: false })) {
      listing += `${entry.path}${entry.type === 'dir' ? '/' : ''}\n`;
    }
    session.markOutOfStep();
    await session.file.write(listing);
    return { bytes: Buffer.byteLength(listing), close: true };
  }
  const { file } = ctx.root.openRead(path);
  try {
    session.markOutOfStep();
    const bytes = await session.file.sendfile(file, 0);
    return { bytes, close: true };
  } finally {
    file.close();
  }
}

/**
 * RFC 1436's error item: type `3`, the message as its display string, then the selector, host
 * and port fields Gopher clients expect (`error.host`, port 1, as Gopher servers send them),
 * and the `.` line that ends a menu. Never after the first byte of a file: those bytes are
 * out, and a line after them would pass for part of the file.
 */
export function selectorError(err: TcpsendError, session: Session): string | null {
  if (session.outOfStep) return null;
  const display = sanitizeMessage(`${err.wireCode}: ${err.message}`);
  return `3${display}\t\terror.host\t1\r\n.`;
}
