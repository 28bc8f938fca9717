import { describe, expect, it } from 'vitest';
import { SocketFile, StreamClosedError } from '../../src/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { hasSettled, nextTurn } from '../helpers/feed.js';

/** Read everything the raw end holds right now, in paused mode (as a slow peer would). */
function drainRaw(end: NodeJS.ReadableStream): Buffer {
  const pieces: Buffer[] = [];
  for (let piece = end.read() as Buffer | null; piece !== null; piece = end.read() as Buffer | null) {
    pieces.push(piece);
  }
  return Buffer.concat(pieces);
}

describe('write and writeLine', () => {
  it('writeLine ends the text with CRLF, UTF-8 encoded', async () => {
    const [local, peer] = duplexPair();
    const reader = new SocketFile(peer);
    const file = new SocketFile(local);
    await file.writeLine('héllo 数据 🎉');
    await file.write(Buffer.from([0, 1, 2]));
    await file.write(new Uint8Array([3]));
    await file.end();
    const all = await reader.readToEnd();
    expect(all).toEqual(Buffer.concat([Buffer.from('héllo 数据 🎉\r\n'), Buffer.from([0, 1, 2, 3])]));
  });

  it('write does not resolve while a peer that does not read is full, then resolves when it reads', async () => {
    const [local, peer] = duplexPair(1024);
    const file = new SocketFile(local);
    const payload = Buffer.alloc(8192, 0x5a);
    const writing = file.write(payload);
    // The peer's buffer (1 KiB) and ours (1 KiB) are far smaller than 8 KiB.
    expect(await hasSettled(writing, 20)).toBe(false);

    const received: Buffer[] = [];
    while (!(await hasSettled(writing, 1))) {
      received.push(drainRaw(peer));
    }
    await writing;
    received.push(drainRaw(peer));
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  });

  it('writeLine honours backpressure the same way', async () => {
    const [local, peer] = duplexPair(64);
    const file = new SocketFile(local);
    const line = 'x'.repeat(500);
    const writing = file.writeLine(line);
    expect(await hasSettled(writing, 20)).toBe(false);
    const got: Buffer[] = [];
    while (!(await hasSettled(writing, 1))) got.push(drainRaw(peer));
    got.push(drainRaw(peer));
    expect(Buffer.concat(got).toString()).toBe(`${line}\r\n`);
  });

  it('a run of small writes stalls once the pair is full and never holds more than it should', async () => {
    const [local, peer] = duplexPair(1024);
    const file = new SocketFile(local);
    const chunk = Buffer.alloc(100, 1);
    let written = 0;
    let stalled = false;
    for (let i = 0; i < 100; i++) {
      const w = file.write(chunk);
      if (!(await hasSettled(w, 3))) {
        stalled = true;
        // Resolves once the peer reads.
        drainRaw(peer);
        await w;
        written += chunk.length;
        break;
      }
      written += chunk.length;
    }
    expect(stalled).toBe(true);
    // Stalled long before 100 writes: about two high-water marks (ours and the peer's).
    expect(written).toBeLessThan(4000);
  });

  it('a write on a closed stream throws StreamClosedError', async () => {
    const [local] = duplexPair();
    const file = new SocketFile(local);
    file.close();
    expect(file.closed).toBe(true);
    await expect(file.write('x')).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('a write after end() throws StreamClosedError, reads still work (half-close)', async () => {
    const [local, peer] = duplexPair();
    const file = new SocketFile(local);
    const other = new SocketFile(peer);
    await file.end();
    await expect(file.writeLine('late')).rejects.toBeInstanceOf(StreamClosedError);
    expect(await other.readLine()).toBeNull();
    await other.writeLine('still here');
    expect(await file.readLine()).toBe('still here');
  });

  it('a write waiting for drain fails when the stream is destroyed under it', async () => {
    const [local, peer] = duplexPair(64);
    const file = new SocketFile(local);
    const writing = file.write(Buffer.alloc(4096));
    await nextTurn();
    peer.destroy();
    await expect(writing).rejects.toBeInstanceOf(StreamClosedError);
  });
});
