import { describe, expect, it } from 'vitest';
import { walkInTurns } from '../../src/client/tree-run.js';

describe('walkInTurns', () => {
  it('takes every entry in order, and lets the event loop turn during a long walk', async () => {
    let turns = 0;
    let counting = true;
    const count = (): void => {
      setImmediate(() => {
        turns += 1;
        if (counting) count();
      });
    };
    count();
    const taken: number[] = [];
    const entries = Array.from({ length: 2000 }, (_, i) => i);
    await walkInTurns(entries, (entry) => {
      taken.push(entry);
    });
    counting = false;
    expect(taken).toEqual(entries);
    // A socket's data is read in those turns: without them, none until the walk ends.
    expect(turns).toBeGreaterThanOrEqual(5);
  });

  it('waits for what taking an entry returns before it takes the next', async () => {
    const events: string[] = [];
    await walkInTurns([1, 2, 3], (entry) => {
      events.push(`take ${entry}`);
      if (entry !== 2) return undefined;
      return new Promise<void>((resolve) => setTimeout(() => {
        events.push('2 done');
        resolve();
      }, 20));
    });
    expect(events).toEqual(['take 1', 'take 2', '2 done', 'take 3']);
  });
});
