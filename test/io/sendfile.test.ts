import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SENDFILE_CHUNK,
  SocketFile,
  TransferInterruptedError,
  UsageError,
  sendFileRange,
  type FileSource,
} from '../../src/index.js';
import { SendBuffers, sendBuffers, sendShare, type ReadableFile } from '../../src/io/sendfile.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { settle } from '../helpers/feed.js';
import { loopbackPair } from '../helpers/loopback.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** Everything the raw end receives until it ends or closes. */
function receiveAll(end: Duplex): Promise<Buffer> {
  const pieces: Buffer[] = [];
  end.on('data', (piece: Buffer) => pieces.push(piece));
  return new Promise((resolve) => {
    end.once('end', () => resolve(Buffer.concat(pieces)));
    end.once('close', () => resolve(Buffer.concat(pieces)));
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;
let path: string;
// Several chunks and a ragged tail: the pool of buffers is reused many times over.
const content = seededRandom(11).bytes(5 * DEFAULT_SENDFILE_CHUNK + 12_345);
const size = content.length;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tcpsend-sendfile-'));
  path = join(dir, 'source.bin');
  writeFileSync(path, content);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type SourceKind = 'path' | 'fd' | 'FileHandle';

/** Open the test file as the given kind of source; close it after `use`. */
async function withSource<T>(kind: SourceKind, use: (source: FileSource) => Promise<T>): Promise<T> {
  if (kind === 'path') return use(path);
  if (kind === 'fd') {
    const fd = openSync(path, 'r');
    try {
      return await use(fd);
    } finally {
      closeSync(fd);
    }
  }
  const handle = await open(path, 'r');
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

/** sendfile over an in-memory pair; what it returned and exactly what the peer got. */
async function sendOverPair(source: FileSource, offset?: number, count?: number) {
  const [local, peer] = duplexPair();
  const file = new SocketFile(local);
  const received = receiveAll(peer);
  const seen: Buffer[] = [];
  const sent = await file.sendfile(source, offset, count, {
    onChunk: (chunk) => seen.push(Buffer.from(chunk)),
  });
  await file.end();
  return { sent, got: await received, seen: Buffer.concat(seen) };
}

describe('sendfile ranges', () => {
  const cases: Array<[string, number | undefined, number | undefined, number, number]> = [
    // name, offset, count, expected start, expected end
    ['whole file (no offset, no count)', undefined, undefined, 0, size],
    ['offset only: from there to the end', 1000, undefined, 1000, size],
    ['offset and count in the middle', 700_001, 1_000_003, 700_001, 1_700_004],
    ['count exactly the file size', 0, size, 0, size],
    ['count past the end: the bytes that exist', 0, size + 5_000_000, 0, size],
    ['offset in the middle, count past the end', size - 100, 1000, size - 100, size],
    ['count 0 sends nothing', 1234, 0, 0, 0],
    ['offset exactly at the end sends nothing', size, 100, 0, 0],
    ['offset past the end sends nothing', size + 1, 100, 0, 0],
    ['offset far past the end sends nothing', size * 10, undefined, 0, 0],
  ];

  for (const kind of ['path', 'fd', 'FileHandle'] as const) {
    for (const [name, offset, count, start, end] of cases) {
      it(`${kind}: ${name}`, async () => {
        const { sent, got, seen } = await withSource(kind, (source) => sendOverPair(source, offset, count));
        const want = content.subarray(start, end);
        expect(sent).toBe(want.length);
        expect(got.length).toBe(sent);
        expect(got.equals(want)).toBe(true);
        expect(seen.equals(want)).toBe(true);
      });
    }
  }

  it('an fd source can be sent from twice: reads are positional, the fd offset is untouched', async () => {
    await withSource('fd', async (fd) => {
      const first = await sendOverPair(fd, 10, 100);
      const second = await sendOverPair(fd, 10, 100);
      expect(first.got.equals(content.subarray(10, 110))).toBe(true);
      expect(second.got.equals(first.got)).toBe(true);
    });
  });

  it('small chunks and a pool of one buffer still send exactly the range', async () => {
    const [local, peer] = duplexPair(100);
    const received = receiveAll(peer);
    const sent = await sendFileRange(local, path, 3, 10_007, { chunkSize: 333, buffers: 1 });
    local.end();
    expect(sent).toBe(10_007);
    expect((await received).equals(content.subarray(3, 10_010))).toBe(true);
  });

  it('into a Writable that keeps the Buffers it is given (a PassThrough), every chunk stays intact', async () => {
    // A PassThrough queues the very Buffer written to it and calls back at once: a buffer
    // reused for the next read would change bytes the reader has not seen yet.
    const through = new PassThrough({ highWaterMark: 64 * 1024 * 1024 });
    const sent = await sendFileRange(through, path, 0, size);
    through.end();
    const pieces: Buffer[] = [];
    for await (const piece of through) pieces.push(piece as Buffer);
    expect(sent).toBe(size);
    expect(Buffer.concat(pieces).equals(content)).toBe(true);
  });

  it('onChunk sees exactly what was sent (hash and count agree)', async () => {
    const hash = createHash('sha256');
    let seenBytes = 0;
    const [local, peer] = duplexPair();
    const received = receiveAll(peer);
    const file = new SocketFile(local);
    const sent = await file.sendfile(path, 5, size, {
      onChunk: (chunk) => {
        hash.update(chunk);
        seenBytes += chunk.length;
      },
    });
    await file.end();
    expect(seenBytes).toBe(sent);
    expect(sent).toBe(size - 5);
    expect(hash.digest('hex')).toBe(sha256(await received));
    expect(sha256(await received)).toBe(sha256(content.subarray(5)));
  });

  it('a negative or fractional offset or count is a UsageError, and nothing is sent', async () => {
    const [local, peer] = duplexPair();
    const received = receiveAll(peer);
    const file = new SocketFile(local);
    for (const [offset, count] of [
      [-1, 10],
      [1.5, 10],
      [0, -1],
      [0, 2.5],
      [Number.NaN, 1],
    ] as const) {
      const err = await file.sendfile(path, offset, count).catch((e: unknown) => e);
      expect(err, `${offset}, ${count}`).toBeInstanceOf(UsageError);
      expect((err as UsageError).code).toBe('TCPSEND_ERR_USAGE');
    }
    await file.end();
    expect((await received).length).toBe(0);
  });

  it('a missing file fails with TransferInterruptedError and 0 bytes sent', async () => {
    const [local] = duplexPair();
    const file = new SocketFile(local);
    const err = await file.sendfile(join(dir, 'nope'), 0, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferInterruptedError);
    expect((err as TransferInterruptedError).bytesSent).toBe(0);
    expect(((err as TransferInterruptedError).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('sendfile failing part way', () => {
  it('a Writable that fails after some bytes: bytesSent is exactly what it accepted', async () => {
    let accepted = 0;
    const limit = 2 * DEFAULT_SENDFILE_CHUNK + 17;
    const failing = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (accepted + chunk.length > limit) {
          done(new Error('peer went away'));
          return;
        }
        accepted += chunk.length;
        setImmediate(done);
      },
    });
    failing.on('error', () => {});
    const err = await sendFileRange(failing, path, 0, size).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferInterruptedError);
    expect((err as TransferInterruptedError).code).toBe('TCPSEND_ERR_TRANSFER_INTERRUPTED');
    expect(accepted).toBe(2 * DEFAULT_SENDFILE_CHUNK);
    expect((err as TransferInterruptedError).bytesSent).toBe(accepted);
  });

  it('the peer destroys the pair after some bytes: 0 < bytesSent <= what the peer received', async () => {
    const [local, peer] = duplexPair();
    const file = new SocketFile(local);
    const seen: Buffer[] = [];
    let received = 0;
    const got: Buffer[] = [];
    peer.on('data', (piece: Buffer) => {
      got.push(piece);
      received += piece.length;
      if (received >= DEFAULT_SENDFILE_CHUNK + 1) peer.destroy();
    });
    const result = await settle(file.sendfile(path, 0, size, { onChunk: (c) => seen.push(Buffer.from(c)) }));
    expect(result.ok).toBe(false);
    const err = !result.ok ? (result.error as TransferInterruptedError) : null;
    expect(err).toBeInstanceOf(TransferInterruptedError);
    expect(received).toBeGreaterThan(0);
    expect(err!.bytesSent).toBeGreaterThan(0);
    expect(err!.bytesSent).toBeLessThanOrEqual(received);
    expect(err!.bytesSent).toBeLessThan(size);
    // What arrived is the start of the file, and onChunk saw at least that much.
    expect(Buffer.concat(got).equals(content.subarray(0, received))).toBe(true);
    expect(Buffer.concat(seen).subarray(0, received).equals(Buffer.concat(got))).toBe(true);
  });

  it('over TCP, the peer resetting mid-way throws with bytesSent > 0 and never more than was read from the file', async () => {
    // Over TCP "sent" means taken by the local kernel: bytes still in socket buffers when the
    // peer resets count as sent but never arrive, so only the in-memory pair above can promise
    // bytesSent <= received. Here: the failure is reported, and the count is a prefix.
    const bigPath = join(dir, 'big.bin');
    const big = seededRandom(12).bytes(48 * 1024 * 1024);
    writeFileSync(bigPath, big);
    const pair = await loopbackPair();
    try {
      let received = 0;
      const got: Buffer[] = [];
      pair.server.on('data', (piece: Buffer) => {
        got.push(piece);
        received += piece.length;
        if (received >= 1024 * 1024) pair.server.destroy();
      });
      pair.server.on('error', () => {});
      const file = new SocketFile(pair.client);
      pair.client.on('error', () => {});
      let seen = 0;
      const result = await settle(file.sendfile(bigPath, 0, big.length, { onChunk: (c) => (seen += c.length) }));
      const err = !result.ok ? (result.error as TransferInterruptedError) : null;
      expect(err).toBeInstanceOf(TransferInterruptedError);
      expect(received).toBeGreaterThanOrEqual(1024 * 1024);
      expect(err!.bytesSent).toBeGreaterThan(0);
      expect(err!.bytesSent).toBeLessThanOrEqual(seen);
      expect(err!.bytesSent).toBeLessThan(big.length);
      expect(Buffer.concat(got).equals(big.subarray(0, received))).toBe(true);
    } finally {
      await pair.close();
    }
  });
});

describe('send buffers (the budget every socket send of a process reads into)', () => {
  const QUARTER = DEFAULT_SENDFILE_CHUNK / 4;
  const overlaps = (a: Buffer, b: Buffer) =>
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;

  it('lends a slab whole, or in quarters; nothing lent twice overlaps, and a slab whose quarters are all back is whole again', () => {
    const pool = new SendBuffers(2);
    const whole = pool.take(DEFAULT_SENDFILE_CHUNK)!;
    const quarters = [1, 2, 3, 4].map(() => pool.take(QUARTER)!);
    expect(whole.length).toBe(DEFAULT_SENDFILE_CHUNK);
    for (const q of quarters) expect(q.length).toBe(QUARTER);
    const all = [whole, ...quarters];
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(overlaps(all[i]!, all[j]!)).toBe(false);
    expect(pool.take(1)).toBeNull(); // both slabs are out
    expect(pool.lent).toBe(5);
    for (const q of quarters.slice(0, 3)) expect(pool.release(q)).toBe(true);
    expect(pool.take(DEFAULT_SENDFILE_CHUNK)).toBeNull(); // one quarter of that slab is still out
    const again = pool.take(QUARTER)!; // a free quarter of the cut slab
    expect(quarters.slice(0, 3)).toContain(again);
    pool.release(again);
    pool.release(quarters[3]!);
    const rejoined = pool.take(DEFAULT_SENDFILE_CHUNK)!;
    expect(rejoined.length).toBe(DEFAULT_SENDFILE_CHUNK);
    expect(overlaps(rejoined, quarters[0]!)).toBe(true);
    pool.release(rejoined);
    pool.release(whole);
    expect(pool.lent).toBe(0);
  });

  it('makes no more than its slabs, keeps each for good, and does not keep a buffer it did not lend', () => {
    const pool = new SendBuffers(1);
    const first = pool.take(DEFAULT_SENDFILE_CHUNK)!;
    expect(pool.take(DEFAULT_SENDFILE_CHUNK)).toBeNull();
    expect(pool.release(Buffer.alloc(DEFAULT_SENDFILE_CHUNK))).toBe(false);
    expect(pool.take(DEFAULT_SENDFILE_CHUNK)).toBeNull();
    expect(pool.release(first)).toBe(true);
    expect(pool.take(DEFAULT_SENDFILE_CHUNK)).toBe(first);
  });

  it('shares the budget: one send reads 4 slabs ahead, 16 get a slab each, up to 64 a quarter, more still one each', () => {
    const budget = 16 * DEFAULT_SENDFILE_CHUNK;
    expect(sendShare(1, budget)).toEqual({ chunkSize: DEFAULT_SENDFILE_CHUNK, buffers: 4 });
    expect(sendShare(1, budget, 8 * 1024 * 1024)).toEqual({ chunkSize: 1024 * 1024, buffers: 2 }); // a lone large send: buffers of its own
    expect(sendShare(2, budget, 8 * 1024 * 1024)).toEqual({ chunkSize: DEFAULT_SENDFILE_CHUNK, buffers: 4 });
    expect(sendShare(4, budget)).toEqual({ chunkSize: DEFAULT_SENDFILE_CHUNK, buffers: 4 });
    expect(sendShare(16, budget)).toEqual({ chunkSize: DEFAULT_SENDFILE_CHUNK, buffers: 1 });
    expect(sendShare(17, budget)).toEqual({ chunkSize: QUARTER, buffers: 3 });
    expect(sendShare(64, budget)).toEqual({ chunkSize: QUARTER, buffers: 1 });
    expect(sendShare(500, budget)).toEqual({ chunkSize: QUARTER, buffers: 1 });
  });

  it('over TCP, 40 sends at once each deliver exactly their range, and every send buffer comes back', async () => {
    const pairs = await Promise.all(Array.from({ length: 40 }, () => loopbackPair()));
    try {
      const results = await Promise.all(
        pairs.map(async (pair, i) => {
          const received = receiveAll(pair.server);
          const start = i * 1013;
          const sent = await sendFileRange(pair.client, path, start, size - start);
          pair.client.end();
          return { start, sent, got: await received };
        }),
      );
      for (const { start, sent, got } of results) {
        expect(sent).toBe(size - start);
        expect(got.equals(content.subarray(start))).toBe(true);
      }
      expect(sendBuffers.lent).toBe(0);
    } finally {
      await Promise.all(pairs.map((p) => p.close()));
    }
  });

  it('over TCP, a read that fails part way still gives its send buffer back', async () => {
    const pair = await loopbackPair();
    try {
      pair.server.resume();
      let reads = 0;
      const failing: ReadableFile = {
        read: async (buffer, offset, length) => {
          if (++reads === 3) throw new Error('disk gone');
          buffer.fill(7, offset, offset + length);
          return { bytesRead: length };
        },
      };
      const result = await settle(sendFileRange(pair.client, failing, 0, 10 * DEFAULT_SENDFILE_CHUNK));
      expect(result.ok).toBe(false);
      expect((result as { error: unknown }).error).toBeInstanceOf(TransferInterruptedError);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the writes already made call back
      expect(sendBuffers.lent).toBe(0);
    } finally {
      await pair.close();
    }
  });
});

describe('sendFileRange chunk sizes', () => {
  // Each chunk costs a trip to the thread pool, a write and its callback: a large range sent
  // alone goes in 1 MiB chunks, a small one or one of several at once in the usual size.
  let bigDir: string;
  let bigPath: string;
  const big = seededRandom(12).bytes(9 * 1024 * 1024);
  beforeAll(() => {
    bigDir = mkdtempSync(join(tmpdir(), 'tcpsend-sendfile-big-'));
    bigPath = join(bigDir, 'big.bin');
    writeFileSync(bigPath, big);
  });
  afterAll(() => rmSync(bigDir, { recursive: true, force: true }));

  /** Send `count` bytes of the big file, recording the size of every chunk read. */
  async function chunkSizes(count: number): Promise<number[]> {
    const sizes: number[] = [];
    const [local, peer] = duplexPair();
    const received = receiveAll(peer);
    const sent = await sendFileRange(local, bigPath, 0, count, { onChunk: (chunk) => void sizes.push(chunk.length) });
    local.end();
    expect(sent).toBe(count);
    expect((await received).equals(big.subarray(0, count))).toBe(true);
    return sizes;
  }

  it('a range of 8 MiB or more sent alone goes in 1 MiB chunks', async () => {
    const sizes = await chunkSizes(big.length);
    expect(Math.max(...sizes)).toBe(1024 * 1024);
    expect(sizes.length).toBe(9);
  });

  it('a smaller range goes in the default chunk size', async () => {
    const sizes = await chunkSizes(4 * 1024 * 1024);
    expect(Math.max(...sizes)).toBe(DEFAULT_SENDFILE_CHUNK);
  });

  it('a large send while another runs uses the default chunk size, and 1 MiB once the other ends (the share is taken again for every chunk)', async () => {
    // The other send is held on its first read until released, so the two overlap for sure
    // (two real sends at once raced: one could finish first, and the other rightly grew).
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held: ReadableFile = {
      read: async () => {
        await gate;
        return { bytesRead: 0 };
      },
    };
    const [otherLocal, otherPeer] = duplexPair();
    otherPeer.resume();
    const other = sendFileRange(otherLocal, held, 0, 1);
    try {
      const whileOther = await chunkSizes(big.length);
      expect(Math.max(...whileOther)).toBe(DEFAULT_SENDFILE_CHUNK);

      // Now end the other send after this one's first chunk: its later chunks grow to 1 MiB.
      const sizes: number[] = [];
      const [local, peer] = duplexPair();
      const received = receiveAll(peer);
      const sent = await sendFileRange(local, bigPath, 0, big.length, {
        onChunk: (chunk) => {
          sizes.push(chunk.length);
          release();
        },
      });
      local.end();
      expect(sent).toBe(big.length);
      expect((await received).equals(big)).toBe(true);
      expect(sizes[0]).toBe(DEFAULT_SENDFILE_CHUNK);
      expect(Math.max(...sizes)).toBe(1024 * 1024);
    } finally {
      release();
      expect(await other).toBe(0);
    }
  });
});
