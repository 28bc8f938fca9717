/** The hashing worker: digests, file writes, ring wrap-around, file ranges, the per-process cap. */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HashWorker, takeHashWorker, takeReceiver } from '../../src/hash/index.js';
import { blake3Hex } from '../helpers/digests.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const open: HashWorker[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

describe('HashWorker', () => {
  it('hashes chunks pushed through a ring smaller than the data (wrap-around), in order', async () => {
    const worker = new HashWorker('sha256', 64 * 1024);
    open.push(worker);
    const data = randomBytes(1_000_003);
    for (let at = 0; at < data.length; at += 50_000 - 7) await worker.push(data.subarray(at, at + 50_000 - 7));
    expect(await worker.digest()).toBe(sha(data));
    // Ready for a new hash afterwards.
    await worker.push(Buffer.from('abc'));
    expect(await worker.digest()).toBe(sha(Buffer.from('abc')));
  });

  it('hashes with BLAKE3 when asked, through the same ring', async () => {
    const worker = new HashWorker('blake3', 64 * 1024);
    open.push(worker);
    const data = randomBytes(500_001);
    for (let at = 0; at < data.length; at += 40_000) await worker.push(data.subarray(at, at + 40_000));
    expect(await worker.digest()).toBe(blake3Hex(data));
    // The prefix of a file too (a resume), and a fresh hash after the digest.
    await worker.push(Buffer.from('abc'));
    expect(await worker.digest()).toBe(blake3Hex('abc'));
  });

  it('writes what it hashes to a file from a position, and hashes a prefix read from the file', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-hw-'));
    const file = path.join(dir, 'part');
    const data = randomBytes(300_000);
    fs.writeFileSync(file, data.subarray(0, 100_000));
    const fd = fs.openSync(file, 'r+');
    try {
      const worker = new HashWorker('sha256', 32 * 1024);
      open.push(worker);
      expect(await worker.hashFileRange(fd, 0, 100_000)).toBe(sha(data.subarray(0, 100_000)));
      await worker.writeTo(fd, 100_000);
      await worker.push(data.subarray(100_000));
      const { digest, position } = await worker.finish();
      expect(digest).toBe(sha(data));
      expect(position).toBe(300_000);
      expect(fs.readFileSync(file).equals(data)).toBe(true);
    } finally {
      fs.closeSync(fd);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed file write rejects the next call, with where the writes got to', async () => {
    const worker = new HashWorker('sha256');
    open.push(worker);
    await worker.writeTo(987_654, 0); // not an open descriptor
    await worker.push(Buffer.alloc(10)).catch(() => {});
    await expect(worker.digest()).rejects.toMatchObject({ name: 'HashWorkerError', code: 'EBADF', position: 0 });
  });

  it('takeHashWorker hands out at most a few at once, then null (hash inline)', async () => {
    const taken: HashWorker[] = [];
    for (let i = 0; i < 16; i++) {
      const w = takeHashWorker('sha256');
      if (w === null) break;
      taken.push(w);
    }
    expect(taken.length).toBeGreaterThanOrEqual(1);
    expect(taken.length).toBeLessThanOrEqual(4);
    expect(takeHashWorker('sha256')).toBeNull();
    await taken.pop()!.close();
    const again = takeHashWorker('sha256');
    expect(again).not.toBeNull();
    taken.push(again!);
    await Promise.all(taken.map((w) => w.close()));
  });
});

/** Put `bytes` in a receiver's ring as SocketFile.receiveInto fills it: room, bytes put there, commit. */
async function intoRing(receiver: HashWorker, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const room = receiver.room(Math.min(70_001, bytes.length - at));
    if (room === null) {
      await receiver.whenRoom();
      continue;
    }
    bytes.copy(room, 0, at, at + room.length);
    receiver.commit(room.length);
    at += room.length;
  }
}

/** Finish a BLAKE3 receiver: its digest is that of `data`, and `file` holds `data`, all written. */
async function expectWritten(receiver: HashWorker, file: string, data: Buffer): Promise<void> {
  const { digest, position } = await receiver.finish();
  expect(digest).toBe(blake3Hex(data));
  expect(position).toBe(data.length);
  expect(fs.readFileSync(file).equals(data)).toBe(true);
}

describe('takeReceiver', () => {
  it('receives BLAKE3 on the calling thread: the same ring, file writes and prefix hashing, no thread', async () => {
    expect(takeHashWorker('blake3')).toBeNull(); // not worth a thread
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-hw-'));
    const file = path.join(dir, 'part');
    const data = randomBytes(5_000_000);
    fs.writeFileSync(file, data.subarray(0, 1_000_000));
    const fd = fs.openSync(file, 'r+');
    const receiver = takeReceiver('blake3');
    try {
      expect(receiver.threadId).toBe(-1);
      // Not awaited before the body, as a resumed download does: the body is hashed after it.
      const prefix = receiver.hashFileRange(fd, 0, 1_000_000);
      await receiver.writeTo(fd, 1_000_000);
      await intoRing(receiver, data.subarray(1_000_000));
      expect(await prefix).toBe(blake3Hex(data.subarray(0, 1_000_000)));
      await expectWritten(receiver, file, data);
    } finally {
      await receiver.close();
      fs.closeSync(fd);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('receives SHA-256 on a worker thread, which adopts nothing (it reads only the ring)', async () => {
    const receiver = takeReceiver('sha256');
    try {
      expect(receiver.threadId).toBeGreaterThan(0);
      expect(receiver.adopt(Buffer.from('xyz'))).toBe(false);
      await receiver.push(Buffer.from('abc'));
      expect(await receiver.digest()).toBe(createHash('sha256').update('abc').digest('hex'));
    } finally {
      await receiver.close();
    }
  });
});

describe('adopt: whole chunks taken instead of copied (a server socket without direct reads)', () => {
  it('hashes and writes adopted chunks in order with bytes put in the ring, after a prefix', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-hw-'));
    const file = path.join(dir, 'part');
    const data = randomBytes(3_000_000);
    fs.writeFileSync(file, data.subarray(0, 200_000));
    const fd = fs.openSync(file, 'r+');
    const receiver = takeReceiver('blake3');
    try {
      const prefix = receiver.hashFileRange(fd, 0, 200_000);
      await receiver.writeTo(fd, 200_000);
      // Alternating: a chunk adopted, then one copied into the ring, as Reception does when
      // the target will not take a chunk whole.
      let adopted = 0;
      for (let at = 200_000, i = 0; at < data.length; i++) {
        const size = Math.min(65_536 + (i % 5) * 1_001, data.length - at);
        if (i % 3 !== 2) {
          const chunk = Buffer.from(data.subarray(at, at + size)); // a buffer of its own, as a socket's read is
          if (receiver.adopt(chunk)) {
            adopted += 1;
            at += size;
            continue;
          }
        }
        await intoRing(receiver, data.subarray(at, at + size));
        at += size;
      }
      expect(adopted).toBeGreaterThan(10);
      expect(await prefix).toBe(blake3Hex(data.subarray(0, 200_000)));
      await expectWritten(receiver, file, data);
    } finally {
      await receiver.close();
      fs.closeSync(fd);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('holds at most about a ring of adopted bytes not yet written: then refuses, and whenRoom waits for the writes', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-hw-'));
    const file = path.join(dir, 'part');
    const fd = fs.openSync(file, 'w+');
    const receiver = takeReceiver('blake3');
    const chunks: Buffer[] = [];
    try {
      await receiver.writeTo(fd, 0);
      // Synchronously, so no write can have finished: the inline ring is 2 MiB.
      let held = 0;
      for (;;) {
        const chunk = randomBytes(64 * 1024);
        if (!receiver.adopt(chunk)) break;
        chunks.push(chunk);
        held += chunk.length;
        expect(held).toBeLessThanOrEqual(2 * 1024 * 1024 + 64 * 1024);
      }
      expect(held).toBeGreaterThanOrEqual(2 * 1024 * 1024);
      await receiver.whenRoom();
      const more = randomBytes(1000);
      expect(receiver.adopt(more)).toBe(true);
      chunks.push(more);
      await expectWritten(receiver, file, Buffer.concat(chunks));
    } finally {
      await receiver.close();
      fs.closeSync(fd);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed write of adopted chunks rejects the next call, with where the writes got to', async () => {
    const receiver = takeReceiver('blake3');
    try {
      await receiver.writeTo(987_654, 0); // not an open descriptor
      expect(receiver.adopt(Buffer.alloc(10))).toBe(true);
      await expect(receiver.finish()).rejects.toMatchObject({ name: 'HashWorkerError', code: 'EBADF', position: 0 });
    } finally {
      await receiver.close();
    }
  });
});

describe('a worker is kept between transfers', () => {
  it('a closed worker with nothing in flight is handed out again, its hash started afresh', async () => {
    const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    const first = takeHashWorker('sha256')!;
    const thread = first.threadId;
    // A transfer that failed: some bytes hashed, no digest. Its state must not leak on.
    await first.push(Buffer.from('half of something'));
    await first.hashFileRange(-1, 0, 0); // a round trip: the chunk has been taken
    await first.close();
    const second = takeHashWorker('sha256')!;
    try {
      expect(second.threadId).toBe(thread);
      await second.push(Buffer.from('hello'));
      expect(await second.digest()).toBe(sha(Buffer.from('hello')));
    } finally {
      await second.close();
    }
  });

  it('a worker closed with bytes still in flight is not kept', async () => {
    const first = takeHashWorker('sha256')!;
    const thread = first.threadId;
    void first.push(Buffer.alloc(1024 * 1024)); // not waited for: still in flight at close
    await first.close();
    const second = takeHashWorker('sha256')!;
    try {
      expect(second.threadId).not.toBe(thread);
    } finally {
      await second.close();
    }
  });
});

describe('after finish()', () => {
  it('refuses bytes pushed while it finishes; the digest is of what came before', async () => {
    const worker = takeHashWorker('sha256')!;
    try {
      await worker.push(Buffer.from('abc'));
      const finishing = worker.finish();
      await expect(worker.push(Buffer.from('late'))).rejects.toThrow(/after finish/);
      expect((await finishing).digest).toBe(createHash('sha256').update('abc').digest('hex'));
    } finally {
      await worker.close();
    }
  });
});
