import { describe, expect, it } from 'vitest';
import { TimeSlice } from '../../../src/server/root/time-slice.js';

describe('TimeSlice: a batch lets other connections run once its slice is used up', () => {
  it('does not yield while the slice lasts', async () => {
    const slice = new TimeSlice(60_000);
    let otherRan = false;
    setImmediate(() => (otherRan = true));
    await slice.yieldIfDue();
    expect(otherRan).toBe(false);
  });

  it('says it is due once the slice is used up, and not while it lasts', () => {
    const slice = new TimeSlice(100);
    expect(slice.due()).toBe(false);
    const until = performance.now() + 110;
    while (performance.now() < until);
    expect(slice.due()).toBe(true);
  });

  it('yields to the event loop once the slice is used up, then starts a new one', async () => {
    // Slices long enough that a loaded machine's pauses do not end the second one early.
    const slice = new TimeSlice(100);
    const until = performance.now() + 110;
    while (performance.now() < until); // a batch busy with synchronous calls
    let otherRan = false;
    setImmediate(() => (otherRan = true));
    await slice.yieldIfDue();
    expect(otherRan).toBe(true);
    let again = false;
    setImmediate(() => (again = true));
    await slice.yieldIfDue(); // the new slice has just begun
    expect(again).toBe(false);
  });
});

describe('TimeSlice shared: many walkers hold the event loop one slice per turn together', () => {
  it('lets one walker at a time go on once the slice is used up, in order, each in a later turn', async () => {
    const slice = new TimeSlice(5);
    const order: string[] = [];
    let turns = 0;
    let counting = true;
    const count = () => setImmediate(() => {
      turns += 1;
      if (counting) count();
    });
    count();
    const walker = async (name: string) => {
      for (let step = 0; step < 3; step++) {
        const until = performance.now() + 6;
        while (performance.now() < until); // more than a slice of synchronous work
        order.push(`${name}${step}`);
        await slice.yieldIfDue();
      }
    };
    const started = turns;
    await Promise.all([walker('a'), walker('b'), walker('c')]);
    counting = false;
    // Round robin: no walker runs two steps while another waits.
    expect(order).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
    // Each of the 9 waits ended in a turn of its own: the loop turned between every two slices.
    expect(turns - started).toBeGreaterThanOrEqual(8);
  });
});
