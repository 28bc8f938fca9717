/**
 * Give back socket read buffers promptly.
 *
 * Node allocates a fresh 64 KiB buffer for every socket read. The JS objects holding them are
 * tiny, so the young generation hardly fills and V8 frees the buffers only when their
 * external memory reaches its own threshold: tens of MiB of dead buffers ride along in the
 * resident set. A minor GC (a scavenge: well under a millisecond for a heap this small)
 * every few MiB frees them as they go.
 *
 * A buffer that waited in a queue through two scavenges has moved to the old generation, and
 * only a full collection frees it. A server taking a folder of 10,000 small files piled up
 * 15-27 MiB of them (64 KiB each, in malloc's heap, which keeps the pages afterwards), so a
 * full collection also runs once external memory has grown by OLD_GARBAGE_BYTES since the
 * last one: a few milliseconds per 8 MiB of such reads. A large body read into a ring leaves no
 * garbage, and so costs none.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gc: Gc | null | undefined;

function collector(): Gc | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** External memory (buffers) that may grow between two full collections the reclaimer runs. */
const OLD_GARBAGE_BYTES = 8 * 1024 * 1024;

/**
 * A function to call with each chunk's size; it scavenges every `everyBytes`, and collects in
 * full when external memory has grown by OLD_GARBAGE_BYTES over its low mark.
 */
export function reclaimer(everyBytes = 4 * 1024 * 1024): (bytes: number) => void {
  let since = 0;
  let low = Number.POSITIVE_INFINITY;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    const collect = collector();
    if (collect === null) return;
    collect({ type: 'minor' });
    const external = v8.getHeapStatistics().external_memory;
    if (external - low > OLD_GARBAGE_BYTES) {
      // No options: an options object from this context reads as none to the gc of another
      // context, whose default with options is a scavenge; without, a full collection.
      collect();
      // V8 counts the freed buffers out only once it has swept them, later: the next check
      // sets the low mark.
      low = Number.POSITIVE_INFINITY;
    } else low = Math.min(low, external);
  };
}

/**
 * Keep V8's young generation at the size it has now, for the rest of the process: for a
 * server, which many connections share for a long time. V8 doubles the young generation
 * (up to 32 MiB on 64-bit) whenever enough objects outlive scavenges, and with 64 transfers at
 * once every scavenge finds some of each transfer's promises and write requests alive: it grew
 * from 4 to 14 MiB and stayed, a third of what the server's resident set grew by. The server's
 * CPU time for a 1 GiB get stayed the same without that growth. A flag set at run time, as
 * `--max-semi-space-size` is only read when the heap is made; V8 reads this one at each growth.
 */
export function boundYoungGeneration(): void {
  try {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // a runtime without the flag keeps V8's own sizing
  }
}
