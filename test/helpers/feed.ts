/** Drive the raw end of a pair the way a peer on the network would: one chunk per turn. */
import type { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

export { nextTurn };

/**
 * Write each chunk to `end` and yield to the event loop after each, so the reader on the other
 * side sees the chunks as separate arrivals (a readLine may be waiting between them).
 */
export async function feed(end: Writable, chunks: ReadonlyArray<Buffer | string>): Promise<void> {
  for (const chunk of chunks) {
    end.write(chunk);
    await nextTurn();
  }
}

/** Resolve with how a promise settled, without ever letting it reject unhandled. */
export async function settle<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** True once `promise` has settled; checks after letting the event loop turn a few times. */
export async function hasSettled(promise: Promise<unknown>, turns = 5): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns; i++) await nextTurn();
  return settled;
}
