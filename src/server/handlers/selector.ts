/**
 * Bare selectors: "If the client's first line starts with `/` ... the server ... sends the raw
 * bytes of that file, or for a folder a plain-text listing ..., and closes the connection."
 */
import { selectorPath } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

export async function handleSelector(ctx: ServerContext, session: Session, line: string): Promise<HandlerResult> {
  const path = selectorPath(line);
  const info = ctx.root.stat(path);
  session.markOutOfStep();
  if (info.type === 'dir') {
    let listing = '';
    for await (const entry of ctx.root.list(path, { recursive: false })) {
      listing += `${entry.path}${entry.type === 'dir' ? '/' : ''}\n`;
    }
    await session.file.write(listing);
    return { bytes: Buffer.byteLength(listing), close: true };
  }
  const { file } = ctx.root.openRead(path);
  try {
    const bytes = await session.file.sendfile(file, 0);
    return { bytes, close: true };
  } finally {
    file.close();
  }
}
