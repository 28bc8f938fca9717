/**
 * SocketFile.receiveInto: a body moved into a ReceiveTarget's memory, copied in from any
 * stream, or read straight into it by the kernel on a socket created with DirectReads.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UnexpectedEofError } from '../../src/errors.js';
import { DirectReads, SocketFile, type ReceiveTarget } from '../../src/io/index.js';
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
    // The target fills three times over: each time, the test frees it.
    const draining = (async () => {
      for (let i = 0; i < 10; i++) {
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
