import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ChunkQueue } from '../../src/io/index.js';
import { seededRandom, randomChunks } from '../helpers/seeded-random.js';

function queueOf(...parts: string[]): ChunkQueue {
  const queue = new ChunkQueue();
  for (const part of parts) queue.push(Buffer.from(part));
  return queue;
}

describe('ChunkQueue', () => {
  it('counts queued bytes and ignores empty chunks', () => {
    const queue = queueOf('abc', '', 'de');
    expect(queue.length).toBe(5);
    queue.unshift(Buffer.alloc(0));
    expect(queue.length).toBe(5);
  });

  it('take within the first chunk returns a view of it, without copying', () => {
    const chunk = Buffer.from('hello world');
    const queue = new ChunkQueue();
    queue.push(chunk);
    const head = queue.take(5);
    expect(head.toString()).toBe('hello');
    expect(head.buffer).toBe(chunk.buffer);
    expect(head.byteOffset).toBe(chunk.byteOffset);
    expect(queue.length).toBe(6);
    expect(queue.take(6).toString()).toBe(' world');
    expect(queue.length).toBe(0);
  });

  it('take across several chunks joins them in order', () => {
    const queue = queueOf('ab', 'cde', 'f', 'ghij');
    expect(queue.take(4).toString()).toBe('abcd');
    expect(queue.take(5).toString()).toBe('efghi');
    expect(queue.length).toBe(1);
    expect(queue.take(1).toString()).toBe('j');
  });

  it('take(0) returns an empty buffer and take past the end throws RangeError', () => {
    const queue = queueOf('abc');
    expect(queue.take(0).length).toBe(0);
    expect(() => queue.take(4)).toThrow(RangeError);
    expect(queue.length).toBe(3);
    expect(queue.take(3).toString()).toBe('abc');
  });

  it('takeChunk returns the first chunk whole, or at most max bytes of it', () => {
    const first = Buffer.from('abcdef');
    const queue = new ChunkQueue();
    queue.push(first);
    queue.push(Buffer.from('gh'));
    const part = queue.takeChunk(4);
    expect(part.toString()).toBe('abcd');
    expect(part.buffer).toBe(first.buffer);
    expect(queue.takeChunk(100).toString()).toBe('ef');
    expect(queue.takeChunk(100).toString()).toBe('gh');
    expect(queue.length).toBe(0);
    expect(queue.takeChunk(100).length).toBe(0);
  });

  it('indexOf finds a byte in any chunk, counted from the front', () => {
    const queue = queueOf('abc', 'def', 'g\nh');
    expect(queue.indexOf(0x0a)).toBe(7);
    expect(queue.indexOf('a'.charCodeAt(0))).toBe(0);
    expect(queue.indexOf('d'.charCodeAt(0))).toBe(3);
    expect(queue.indexOf('z'.charCodeAt(0))).toBe(-1);
  });

  it('indexOf ignores matches at or past the limit', () => {
    const queue = queueOf('abc', 'def', 'g\nh');
    expect(queue.indexOf(0x0a, 8)).toBe(7);
    expect(queue.indexOf(0x0a, 7)).toBe(-1);
    expect(queue.indexOf(0x0a, 3)).toBe(-1);
    expect(queue.indexOf('b'.charCodeAt(0), 1)).toBe(-1);
    expect(queue.indexOf('b'.charCodeAt(0), 2)).toBe(1);
    // The limit cuts the first chunk in the middle: a match later in that chunk is past it.
    const one = queueOf('ab\ncd\n');
    expect(one.indexOf(0x0a, 2)).toBe(-1);
    expect(one.indexOf(0x0a, 3)).toBe(2);
  });

  it('indexOf counts from the live front after takes', () => {
    const queue = queueOf('a\nb', 'c\nd');
    queue.take(2);
    expect(queue.indexOf(0x0a)).toBe(2);
    queue.take(3);
    expect(queue.indexOf(0x0a)).toBe(-1);
  });

  it('byteAt reads across chunk boundaries and throws past the end', () => {
    const queue = queueOf('ab', 'c', 'de');
    expect(String.fromCharCode(queue.byteAt(0))).toBe('a');
    expect(String.fromCharCode(queue.byteAt(2))).toBe('c');
    expect(String.fromCharCode(queue.byteAt(4))).toBe('e');
    expect(() => queue.byteAt(5)).toThrow(RangeError);
    queue.take(3);
    expect(String.fromCharCode(queue.byteAt(0))).toBe('d');
  });

  it('unshift puts bytes back in front of everything queued', () => {
    const queue = queueOf('cd', 'ef');
    queue.unshift(Buffer.from('b'));
    queue.unshift(Buffer.from('a'));
    expect(queue.length).toBe(6);
    expect(queue.take(6).toString()).toBe('abcdef');

    // After a take the head index has moved: unshift reuses the freed slot.
    const moved = queueOf('12', '34', '56');
    moved.take(2);
    moved.unshift(Buffer.from('x'));
    expect(moved.take(5).toString()).toBe('x3456');
  });

  it('keeps bytes in order through thousands of pushes, takes and unshifts (compaction)', () => {
    const random = seededRandom(7);
    const data = random.bytes(200_000);
    const queue = new ChunkQueue();
    for (const chunk of randomChunks(data, random, 5000)) queue.push(chunk);
    expect(queue.length).toBe(data.length);
    const out: Buffer[] = [];
    let taken = 0;
    while (queue.length > 0) {
      const n = random.int(0, 90);
      const piece = random.next() < 0.5 ? queue.take(Math.min(n, queue.length)) : queue.takeChunk(n + 1);
      if (random.next() < 0.1 && piece.length > 1) {
        // Give back the tail, as a reader that took too much does.
        queue.unshift(piece.subarray(1));
        out.push(piece.subarray(0, 1));
        taken += 1;
      } else {
        out.push(piece);
        taken += piece.length;
      }
      expect(queue.length).toBe(data.length - taken);
    }
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('drops its reference to a consumed chunk at once, even while later chunks stay queued', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const queue = new ChunkQueue();
    // A reader slower than the peer: the queue never empties, so it is never reset.
    const refs: WeakRef<Buffer>[] = [];
    const fill = () => {
      for (let i = 0; i < 50; i++) {
        const chunk = Buffer.alloc(1024, i);
        refs.push(new WeakRef(chunk));
        queue.push(chunk);
      }
    };
    fill();
    for (let i = 0; i < 40; i++) queue.take(1024);
    queue.takeChunk(1024);
    queue.take(1024 + 512);
    expect(queue.length).toBe(7 * 1024 + 512);
    // WeakRefs hold their target until the current job ends.
    await nextTurn();
    gc();
    const alive = refs.map((ref) => ref.deref() !== undefined);
    // Chunks 0-41 were consumed whole; 42 half (a view of it is queued); 43-49 are untouched.
    expect(alive.slice(0, 42)).toEqual(new Array(42).fill(false));
    expect(alive.slice(43)).toEqual(new Array(7).fill(true));
  });
});

