/**
 * "Still working": while an answer that must be worked out first (a long hash) is awaited at
 * its turn, a client that said HELLO progress=1 gets a `+` line every progressIntervalMs, with
 * how far the work is when that is known. Bytes keep coming, so its idle timeout does not give
 * up on a server that is busy for it (a resume of a 10 GB file once timed out that way).
 */
import { formatProgress, type FieldValues } from '../protocol/index.js';
import type { ServerContext, Session } from './context.js';

export async function keepAlive<T>(ctx: ServerContext, session: Session, work: Promise<T> | T, status: () => FieldValues = () => ({})): Promise<T> {
  if (!session.progress || !(work instanceof Promise)) return work;
  const timer = setInterval(() => {
    session.file.writeLine(formatProgress(status())).catch(() => {});
  }, ctx.options.progressIntervalMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
