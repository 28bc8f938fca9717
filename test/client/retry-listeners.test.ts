/**
 * Issue 14.19: a MaxListenersExceededWarning during folder transfers with retries. Each
 * backoff wait listened for the abort signal and never stopped listening, so a long run with
 * many retries piled listeners onto the one signal.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ReconnectingClient } from '../../src/client/retry.js';
import { ConnectionLostError } from '../../src/errors.js';
import type { TcpsendClient } from '../../src/client/client.js';

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

describe('retries and the abort signal', () => {
  it('12 retries in a row leave no listener behind on the signal, and no warning', async () => {
    process.on('warning', onWarning);
    const controller = new AbortController();
    const client = new ReconnectingClient('127.0.0.1:1', { retries: 12, backoffMs: 1, signal: controller.signal });
    // Stand in for a live connection that keeps being reset.
    const fake = { isBroken: false, connection: { close() {} }, close: async () => {} } as unknown as TcpsendClient;
    (client as unknown as { current: () => Promise<TcpsendClient> }).current = async () => fake;
    (client as unknown as { connections: number }).connections = 1;
    let calls = 0;
    const err = await client
      .run(async () => {
        calls += 1;
        throw new ConnectionLostError('reset');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect(calls).toBe(13);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    // Node counts an AbortSignal's listeners where events.getEventListeners can see them.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
