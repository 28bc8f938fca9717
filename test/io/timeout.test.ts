import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  SocketFile,
  StreamUnusableError,
  TimeoutError,
  TransferInterruptedError,
} from '../../src/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { settle } from '../helpers/feed.js';

async function timed<T>(promise: Promise<T>) {
  const start = performance.now();
  const result = await settle(promise);
  return { result, elapsed: performance.now() - start };
}

function expectTimeout(result: Awaited<ReturnType<typeof settle>>, timeoutMs: number): TimeoutError {
  expect(result.ok).toBe(false);
  const err = !result.ok ? (result.error as TimeoutError) : null;
  expect(err).toBeInstanceOf(TimeoutError);
  expect(err?.code).toBe('TCPSEND_ERR_TIMEOUT');
  expect(err?.timeoutMs).toBe(timeoutMs);
  return err!;
}

describe('idle timeout', () => {
  it('readLine from a silent peer throws TimeoutError after about timeoutMs, then the stream is unusable', async () => {
    const [, local] = duplexPair();
    const file = new SocketFile(local, { timeoutMs: 50 });
    const { result, elapsed } = await timed(file.readLine());
    const err = expectTimeout(result, 50);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    const after = await file.readLine().catch((e: unknown) => e);
    expect(after).toBeInstanceOf(StreamUnusableError);
    expect((after as StreamUnusableError).cause).toBe(err);
    await expect(file.readExactly(1)).rejects.toBeInstanceOf(StreamUnusableError);
    await expect(file.read(1)).rejects.toBeInstanceOf(StreamUnusableError);
  });

  it('after a read timeout the stream still writes, so the peer can be told why it is closed', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local, { timeoutMs: 50 });
    await expect(file.readLine()).rejects.toBeInstanceOf(TimeoutError);
    await file.writeLine('ERR TIMEOUT no data for 50 ms');
    await file.end();
    expect(await new SocketFile(peer).readLine()).toBe('ERR TIMEOUT no data for 50 ms');
  });

  it('a partial line then silence times out too, even if data arrives later', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local, { timeoutMs: 50 });
    peer.write('GET /some');
    const { result } = await timed(file.readLine());
    expectTimeout(result, 50);
    peer.write('thing\r\n');
    await expect(file.readLine()).rejects.toBeInstanceOf(StreamUnusableError);
  });

  it('readExactly from a silent peer times out', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local, { timeoutMs: 50 });
    peer.write('abc');
    const { result, elapsed } = await timed(file.readExactly(10));
    expectTimeout(result, 50);
    expect(elapsed).toBeLessThan(1000);
  });

  it('setTimeout turns the timeout on after construction, and null turns it off', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local);
    file.setTimeout(40);
    file.setTimeout(null);
    const line = file.readLine();
    await sleep(120);
    peer.write('late but fine\n');
    expect(await line).toBe('late but fine');
    file.setTimeout(40);
    const { result } = await timed(file.readLine());
    expectTimeout(result, 40);
  });

  it('data that keeps trickling in, each byte within the timeout, does not time out (idle, not total)', async () => {
    const [peer, local] = duplexPair();
    const timeoutMs = 150;
    const file = new SocketFile(local, { timeoutMs });
    const text = 'slow-but-steady';
    const start = performance.now();
    const line = file.readLine();
    for (const ch of `${text}\r\n`) {
      await sleep(30);
      peer.write(ch);
    }
    expect(await line).toBe(text);
    // Far longer than the timeout in total, so only an idle timer lets this pass.
    expect(performance.now() - start).toBeGreaterThan(timeoutMs * 2);

    const body = file.readExactly(12);
    for (let i = 0; i < 12; i++) {
      await sleep(30);
      peer.write('b');
    }
    expect((await body).toString()).toBe('b'.repeat(12));
  });

  it('a write to a peer that never reads times out, then writes are unusable', async () => {
    const [local] = duplexPair(1024);
    const file = new SocketFile(local, { timeoutMs: 50 });
    const { result, elapsed } = await timed(file.write(Buffer.alloc(64 * 1024)));
    expectTimeout(result, 50);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    await expect(file.writeLine('more')).rejects.toBeInstanceOf(StreamUnusableError);
    await expect(file.sendfile(fileURLToPath(import.meta.url), 0, 1)).rejects.toBeInstanceOf(StreamUnusableError);
  });

  it('after a write timeout the stream still reads: only the write side lost its place', async () => {
    const [local, peer] = duplexPair(1024);
    const file = new SocketFile(local, { timeoutMs: 50 });
    await expect(file.write(Buffer.alloc(64 * 1024))).rejects.toBeInstanceOf(TimeoutError);
    peer.write('still listening\n');
    expect(await file.readLine()).toBe('still listening');
  });

  it('sendfile to a peer that never reads times out with the bytes sent so far', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpsend-timeout-'));
    try {
      const path = join(dir, 'big');
      writeFileSync(path, Buffer.alloc(4 * 1024 * 1024, 7));
      const [local] = duplexPair(1024);
      const file = new SocketFile(local, { timeoutMs: 50 });
      const { result, elapsed } = await timed(file.sendfile(path, 0, 4 * 1024 * 1024));
      expect(result.ok).toBe(false);
      const err = !result.ok ? (result.error as TransferInterruptedError) : null;
      expect(err).toBeInstanceOf(TransferInterruptedError);
      expect(err?.cause).toBeInstanceOf(TimeoutError);
      expect(err?.bytesSent).toBe(0);
      expect(elapsed).toBeLessThan(1000);
      await expect(file.write('x')).rejects.toBeInstanceOf(StreamUnusableError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pipeTo into a slow writable does not time out while the writable holds the data back', async () => {
    const [peer, local] = duplexPair(1024);
    const timeoutMs = 40;
    const file = new SocketFile(local, { timeoutMs });
    const received: Buffer[] = [];
    // Each chunk is held longer than the timeout by a writable with a tiny buffer.
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        setTimeout(done, timeoutMs + 30);
      },
    });
    const data = Buffer.alloc(6 * 512, 3);
    // The peer sends everything at once: it is never the one being idle.
    for (let at = 0; at < data.length; at += 512) peer.write(data.subarray(at, at + 512));
    const start = performance.now();
    expect(await file.pipeTo(slow, data.length)).toBe(data.length);
    expect(performance.now() - start).toBeGreaterThan(timeoutMs * 3);
    expect(Buffer.concat(received).equals(data)).toBe(true);
  });

  it('pipeTo from a silent peer times out', async () => {
    const [peer, local] = duplexPair();
    const file = new SocketFile(local, { timeoutMs: 50 });
    peer.write('abc');
    const { result } = await timed(file.pipeTo(new PassThrough(), 10));
    expectTimeout(result, 50);
    await expect(file.readLine()).rejects.toBeInstanceOf(StreamUnusableError);
  });
});
