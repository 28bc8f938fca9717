/**
 * Give back socket read buffers promptly.
 *
 * Node allocates a fresh 64 KiB buffer for every socket read. The JS objects holding them are
 * tiny, so the young generation hardly fills and V8 frees the buffers only when their
 * external memory reaches its own threshold: tens of MiB of dead buffers ride along in the
 * resident set. A minor GC (a scavenge: well under a millisecond for a heap this small)
 * every few MiB frees them as they go.
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

/** A function to call with each chunk's size; it scavenges every `everyBytes`. */
export function reclaimer(everyBytes = 4 * 1024 * 1024): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    collector()?.({ type: 'minor' });
  };
}
