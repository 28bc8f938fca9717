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

  it('yields to the event loop once the slice is used up, then starts a new one', async () => {
    const slice = new TimeSlice(5);
    const until = performance.now() + 10;
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
