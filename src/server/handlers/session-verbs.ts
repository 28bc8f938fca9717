/** HELLO and QUIT: the verbs about the connection itself. */
import { formatOk, PROTOCOL_VERSION, type HelloRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

export async function handleHello(_ctx: ServerContext, session: Session, req: HelloRequest): Promise<HandlerResult> {
  session.progress = req.progress === true;
  await session.file.writeLine(formatOk({ version: PROTOCOL_VERSION, progress: session.progress || null }));
  return {};
}

export async function handleQuit(_ctx: ServerContext, session: Session): Promise<HandlerResult> {
  await session.file.writeLine(formatOk());
  return { close: true };
}
