/**
 * SocketFile.receiveInto: a body moved into a ReceiveTarget's memory, copied in from any
 * stream, or read straight into it by the kernel on a socket created with DirectReads.
 */
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError, UnexpectedEofError } from '../../src/errors.js';
import { DirectReads, SocketFile, type ReceiveTarget } from '../../src/io/index.js';
import { Gathering } from '../../src/io/receive-into.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { feed } from '../helpers/feed.js';
import { randomChunks, seededRandom } from '../helpers/seeded-random.js';

/** A ring-like target of `size` bytes that a test drains by hand (`release`), recording what it got. */
function target(size: number) {
  const memory = Buffer.alloc(size);
  let used = 0;
  const got: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const t: ReceiveTarget & { got: () => Buffer; release: () => void; rooms: number; memory: Buffer } = {
    rooms: 0,
    memory,
    room(max) {
      if (used >= size) return null;
      t.rooms += 1;
      return memory.subarray(used, used + Math.min(max, size - used));
    },
    commit(length) {
      // Every room starts where the last commit ended.
      got.push(Buffer.from(memory.subarray(used, used + length)));
      used += length;
    },
    whenRoom: () => new Promise<void>((resolve) => waiters.push(resolve)),
    got: () => Buffer.concat(got),
    release() {
      used = 0;
      for (const wake of waiters.splice(0)) wake();
    },
  };
  return t;
}

const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

describe('receiveInto, copying from any stream', () => {
  it('moves exactly count bytes across the target, waiting for room; what follows stays for readLine', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local);
    const body = seededRandom(3).bytes(100_000);
    const into = target(30_000);
    const moving = file.receiveInto(into, body.length);
    const chunks = randomChunks(body, seededRandom(4), 12);
    const last = chunks.pop()!;
    const fed = feed(peer, [...chunks, Buffer.concat([last, Buffer.from('NEXT\r\n')])]);
    // The target fills three times over: each time, the test frees it (until the body is in:
    // a slow sender may be waited for, see Gathering).
    let received = false;
    void moving.finally(() => (received = true)).catch(() => {});
    const draining = (async () => {
      while (!received) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        into.release();
      }
    })();
    expect(await moving).toBe(body.length);
    await Promise.all([fed, draining]);
    expect(into.got().equals(body)).toBe(true);
    expect(await file.readLine()).toBe('NEXT');
  });

  it('an early end is UnexpectedEofError, and every byte that came is in the target', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local);
    const into = target(1_000_000);
    const moving = file.receiveInto(into, 5_000);
    await feed(peer, [Buffer.alloc(1_234, 7)]);
    peer.end();
    await expect(moving).rejects.toBeInstanceOf(UnexpectedEofError);
    expect(into.got().length).toBe(1_234);
  });
});

describe('receiveInto, into a target that adopts whole chunks', () => {
  it("hands the stream's own chunks over uncopied, a refused one copied into the room instead, in order; what follows stays", async () => {
    // A PassThrough hands on the very Buffers written to it, as a socket hands on each read.
    const local = new PassThrough();
    const file = new SocketFile(local);
    const body = seededRandom(5).bytes(300_000);
    const sent = randomChunks(body, seededRandom(6), 9).map((c) => Buffer.from(c));
    const pieces: { adopted: boolean; bytes: Buffer }[] = [];
    const memory = Buffer.alloc(body.length);
    let used = 0;
    let offers = 0;
    const into: ReceiveTarget = {
      room: (max) => memory.subarray(used, used + max),
      commit(length) {
        pieces.push({ adopted: false, bytes: Buffer.from(memory.subarray(used, used + length)) });
        used += length;
      },
      whenRoom: async () => {},
      adopt(chunk) {
        if (++offers % 3 === 0) return false; // every third refused: copied instead
        pieces.push({ adopted: true, bytes: chunk });
        return true;
      },
    };
    const moving = file.receiveInto(into, body.length);
    const written = [...sent.slice(0, -1), Buffer.concat([sent.at(-1)!, Buffer.from('NEXT\r\n')])];
    await feed(local, written);
    expect(await moving).toBe(body.length);
    expect(Buffer.concat(pieces.map((p) => p.bytes)).equals(body)).toBe(true);
    const adopted = pieces.filter((p) => p.adopted);
    const copied = pieces.filter((p) => !p.adopted);
    expect(adopted.length).toBeGreaterThan(0);
    expect(copied.length).toBeGreaterThan(0);
    // Uncopied: each adopted piece lies in the memory of a chunk that was written.
    for (const { bytes } of adopted) expect(written.some((c) => c.buffer === bytes.buffer)).toBe(true);
    expect(await file.readLine()).toBe('NEXT');
  });
});

describe('receiveInto on a socket with direct reads', () => {
  it('the kernel reads the body straight into the target; lines before and after go through the scratch', async () => {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const reads = new DirectReads();
    const into = target(4_000_000);
    // What the kernel read straight into the target's memory.
    let direct = 0;
    const onread = {
      buffer: () => reads.onread.buffer(),
      callback: (length: number, buffer: Buffer) => {
        if (buffer.buffer === into.memory.buffer) direct += length;
        return reads.onread.callback(length, buffer);
      },
    };
    const client = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, onread });
    sockets.push(client);
    await new Promise((resolve) => client.once('connect', resolve));
    const server = await accepted;
    sockets.push(server);
    listener.close();
    const file = new SocketFile(client, { directReads: reads });

    const body = seededRandom(5).bytes(3_000_000);
    server.write('HEADER\r\n');
    expect(await file.readLine()).toBe('HEADER');
    let seen = 0;
    const moving = file.receiveInto(into, body.length, { onChunk: (chunk) => (seen += chunk.length) });
    server.write(Buffer.concat([body, Buffer.from('TRAILER\r\n')]));
    expect(await moving).toBe(body.length);
    expect(into.got().equals(body)).toBe(true);
    expect(seen).toBe(body.length);
    // Most of the body was read by the kernel into the target, not copied from the scratch.
    expect(direct).toBeGreaterThan(body.length / 2);
    expect(await file.readLine()).toBe('TRAILER');
  });

  it('bytes that come before the SocketFile takes the socket are kept', async () => {
    const reads = new DirectReads();
    reads.onread.callback(5, Buffer.from('EARLY'));
    const [, local] = duplexPair();
    const file = new SocketFile(local, { directReads: reads });
    reads.onread.callback(3, Buffer.from('\r\nX'));
    expect(await file.readLine()).toBe('EARLY');
    expect((await file.read(10))!.toString()).toBe('X');
  });
});

/** A client socket with direct reads, connected to a server socket, and the SocketFile over it. */
async function directPair(timeoutMs: number | null = null) {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const reads = new DirectReads();
  const client = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, onread: reads.onread });
  sockets.push(client);
  await new Promise((resolve) => client.once('connect', resolve));
  const server = await accepted;
  sockets.push(server);
  listener.close();
  return { server, file: new SocketFile(client, { directReads: reads, timeoutMs }) };
}

describe('receiveInto with direct reads and an idle timeout', () => {
  it('a body that keeps coming, in pieces further apart than nothing but closer than the timeout, is never idle', async () => {
    // Reads into the target wake no one: the timeout must count from the body's last move,
    // not from the start of the wait (which would cut this body at 150 ms).
    const { server, file } = await directPair(150);
    const body = seededRandom(8).bytes(40 * 1000);
    const into = target(1_000_000);
    const moving = file.receiveInto(into, body.length);
    for (let at = 0; at < body.length; at += 1000) {
      server.write(body.subarray(at, at + 1000));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await moving).toBe(body.length);
    expect(into.got().equals(body)).toBe(true);
  });

  it('a body that stops for longer than the timeout times out, with what came in the target', async () => {
    const { server, file } = await directPair(100);
    const into = target(1_000_000);
    const moving = file.receiveInto(into, 10_000);
    server.write(Buffer.alloc(4_000, 1));
    await expect(moving).rejects.toBeInstanceOf(TimeoutError);
    expect(into.got().length).toBe(4_000);
  });
});

describe('Gathering: how long a slow body leaves the socket paused after a read', () => {
  const MiB = 1024 * 1024;
  const far = 100 * MiB;
  /** Reads of `bytes` every `everyMs` (each draining the kernel) up to `untilMs`: the wait after the last. */
  function steady(g: Gathering, bytes: number, everyMs: number, untilMs: number): number {
    let wait = 0;
    for (let t = everyMs; t <= untilMs; t += everyMs) wait = g.afterRead(bytes, true, far, t);
    return wait;
  }

  it('none in the first 50 ms, while the rate is measured', () => {
    expect(steady(new Gathering(0), 50_000, 2, 48)).toBe(0);
  });

  it('on a slow link, long enough for about 1 MiB at the rate seen, and at most 40 ms', () => {
    expect(steady(new Gathering(0), 50_000, 2, 50)).toBe(40); // 25 MB/s: 1 MiB would take 42 ms
    expect(steady(new Gathering(0), 100_000, 2, 50)).toBeCloseTo(MiB / 50_000, 5); // 50 MB/s
  });

  it('none on a fast link (a wait under 8 ms), nor after a read that left more in the kernel', () => {
    expect(steady(new Gathering(0), 1_000_000, 1, 50)).toBe(0); // 1 GB/s
    const g = new Gathering(0);
    steady(g, 50_000, 2, 48);
    expect(g.afterRead(50_000, false, far, 50)).toBe(0);
  });

  it('no longer than the rest of the body takes, and none after its last byte', () => {
    const g = new Gathering(0);
    steady(g, 50_000, 2, 48);
    expect(g.afterRead(50_000, true, 250_000, 50)).toBeCloseTo(250_000 / 25_000, 5);
    expect(new Gathering(0).afterRead(50_000, true, 0, 60)).toBe(0);
  });

  it('halves its waits while the reads after one bring under half of what it was sized for (a small kernel buffer), and grows them back', () => {
    const g = new Gathering(0);
    expect(steady(g, 50_000, 2, 50)).toBe(40); // sized for 1 MB
    // The kernel held only 200 KB of it: the next wait is at most 20 ms, then 10.
    expect(g.afterRead(200_000, true, far, 90)).toBe(20);
    expect(g.afterRead(100_000, true, far, 110)).toBe(10);
    // A wait that gathers what it was sized for lets the next one grow.
    const rate = (1_250_000 + 300_000) / 110;
    expect(g.afterRead(rate * 10, true, far, 120)).toBe(12.5);
  });
});
