/** HELLO and QUIT: the verbs about the connection itself. */
import { formatOk, PROTOCOL_VERSION, type HelloRequest } from '../../protocol/index.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';

export async function handleHello(_ctx: ServerContext, session: Session, _req: HelloRequest): Promise<HandlerResult> {
  await session.file.writeLine(formatOk({ version: PROTOCOL_VERSION }));
  return {};
}

export async function handleQuit(_ctx: ServerContext, session: Session): Promise<HandlerResult> {
  await session.file.writeLine(formatOk());
  return { close: true };
}
