/**
 * A small deterministic PRNG (mulberry32), so a test that explores random chunkings fails the
 * same way every run and names the seed that broke it.
 */
export interface SeededRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both ends included. */
  int(min: number, max: number): number;
  /** `length` pseudo-random bytes. */
  bytes(length: number): Buffer;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bytes: (length) => {
      const out = Buffer.allocUnsafe(length);
      for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}

/** Cut `data` at `cuts` random positions; the pieces concatenate back to `data`. */
export function randomChunks(data: Buffer, random: SeededRandom, cuts: number): Buffer[] {
  const points = new Set<number>();
  for (let i = 0; i < cuts; i++) points.add(random.int(1, Math.max(1, data.length - 1)));
  const sorted = [...points].filter((p) => p > 0 && p < data.length).sort((x, y) => x - y);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of sorted) {
    chunks.push(data.subarray(start, p));
    start = p;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

/** Pseudo-random bytes from a seed (xorshift32): reproducible, not compressible, and fast. */
export function randomBytesFrom(seed: number, size: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    data[i] = x & 0xff;
  }
  return data;
}
