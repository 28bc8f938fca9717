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
 * only a full collection frees it; so do the promises and write requests of many transfers at
 * once, promoted the same way. V8 runs one only after tens of MiB of them: a server taking a
 * folder of 10,000 small files piled up 15-27 MiB of dead buffers (in malloc's heap, which
 * keeps the pages afterwards), and one sending to 64 clients at once 12-15 MiB of dead objects
 * per round. So every few MiB read or sent, if the heap and its buffers have grown by
 * FULL_GC_GROWTH over their low mark since the last full collection, one runs: a few
 * milliseconds per 8 MiB of garbage. A large body read into a ring, or sent from the send
 * buffers, leaves little, and so costs next to none.
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

/** What the heap and its buffers may grow by between two full collections. */
const FULL_GC_GROWTH = 8 * 1024 * 1024;
/** Their size after the last full collection (its lowest since), over every reclaimer of the process. */
let low = Number.POSITIVE_INFINITY;

function collectIfGrown(collect: Gc): void {
  const { used_heap_size, external_memory } = v8.getHeapStatistics();
  const held = used_heap_size + external_memory;
  if (held - low > FULL_GC_GROWTH) {
    // No options: an options object from this context reads as none to the gc of another
    // context, whose default with options is a scavenge; without, a full collection.
    collect();
    // V8 counts freed buffers out only once it has swept them, later: the next check sets the
    // low mark.
    low = Number.POSITIVE_INFINITY;
  } else low = Math.min(low, held);
}

/**
 * A function to call with the size of each chunk read (or, with `scavenge: false`, sent): every
 * `everyBytes` it scavenges (reads only: a fresh buffer each) and collects in full when the heap
 * has grown by FULL_GC_GROWTH.
 */
export function reclaimer(everyBytes = 4 * 1024 * 1024, { scavenge = true } = {}): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    const collect = collector();
    if (collect === null) return;
    if (scavenge) collect({ type: 'minor' });
    collectIfGrown(collect);
  };
}

/**
 * Keep V8's young generation at the size it has now, for the rest of the process (the CLI
 * sets it for every command, src/cli/main.ts). V8 doubles the young generation (up
 * to 32 MiB on 64-bit) whenever enough objects outlive scavenges, and with 64 transfers at
 * once every scavenge finds some of each transfer's promises and write requests alive: it took
 * 14 MiB of the resident set, and stayed. Kept small, scavenges run more often (a 10,000-file
 * folder: 154 instead of 58), each short; a server's CPU time for a 1 GiB get did not change.
 * A client getting that folder peaked at 93 MB of RSS with its young generation grown to
 * 16 MiB, and at 76 MB kept small, in the same CPU time.
 * A flag set at run time: V8 reads `--semi-space-growth-factor` at each growth, and
 * `--max-semi-space-size` only when the heap is made.
 */
export function boundYoungGeneration(): void {
  try {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // a runtime without the flag keeps V8's own sizing
  }
}
