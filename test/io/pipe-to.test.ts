import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SocketFile,
  StreamClosedError,
  TransferInterruptedError,
  UnexpectedEofError,
} from '../../src/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { feed, settle } from '../helpers/feed.js';
import { randomChunks, seededRandom } from '../helpers/seeded-random.js';

function pipe(options: ConstructorParameters<typeof SocketFile>[1] = {}) {
  const [peer, local] = duplexPair();
  return { peer, file: new SocketFile(local, options) };
}

/** A PassThrough whose output is collected as it flows. */
function collector(): { sink: PassThrough; bytes: () => Buffer } {
  const sink = new PassThrough();
  const pieces: Buffer[] = [];
  sink.on('data', (piece: Buffer) => pieces.push(piece));
  return { sink, bytes: () => Buffer.concat(pieces) };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('pipeTo', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tcpsend-pipeto-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves exactly count bytes to a file; the bytes after count stay for the next readLine', async () => {
    const { peer, file } = pipe();
    const body = seededRandom(1).bytes(300_000);
    const dest = join(dir, 'body.bin');
    const out = createWriteStream(dest);
    const moving = file.pipeTo(out, body.length);
    const chunks = randomChunks(body, seededRandom(2), 20);
    // The last chunk carries the end of the body and the start of what follows it.
    const last = chunks.pop()!;
    await feed(peer, [...chunks, Buffer.concat([last, Buffer.from('NEXT line\r\nmore')])]);
    expect(await moving).toBe(body.length);
    out.end();
    await once(out, 'close');
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(await file.readLine()).toBe('NEXT line');
    peer.end();
    expect((await file.readToEnd()).toString()).toBe('more');
  });

  it('bytes already buffered by an earlier readLine go first, without loss or reordering', async () => {
    const { peer, file } = pipe();
    const body = seededRandom(3).bytes(5000);
    // Header, the first part of the body and nothing else in one chunk: readLine buffers the rest.
    peer.write(Buffer.concat([Buffer.from('PUT x 5000\r\n'), body.subarray(0, 1234)]));
    expect(await file.readLine()).toBe('PUT x 5000');
    expect(file.bufferedLength).toBe(1234);
    const { sink, bytes } = collector();
    const moving = file.pipeTo(sink, body.length);
    await feed(peer, [body.subarray(1234, 4000), Buffer.concat([body.subarray(4000), Buffer.from('OK\n')])]);
    expect(await moving).toBe(body.length);
    expect(bytes().equals(body)).toBe(true);
    expect(await file.readLine()).toBe('OK');
  });

  it('a body wholly buffered already, followed by the next line, is cut at count', async () => {
    const { peer, file } = pipe();
    peer.write('HEAD\r\n0123456789TAIL\r\n');
    expect(await file.readLine()).toBe('HEAD');
    const { sink, bytes } = collector();
    expect(await file.pipeTo(sink, 10)).toBe(10);
    expect(bytes().toString()).toBe('0123456789');
    expect(await file.readLine()).toBe('TAIL');
  });

  it('count 0 moves nothing and leaves the stream as it was', async () => {
    const { peer, file } = pipe();
    peer.write('line\n');
    const { sink, bytes } = collector();
    expect(await file.pipeTo(sink, 0)).toBe(0);
    expect(bytes().length).toBe(0);
    expect(await file.readLine()).toBe('line');
  });

  it('an early end throws UnexpectedEofError with the bytes moved, which the writable has', async () => {
    const { peer, file } = pipe();
    peer.write('HDR\n');
    expect(await file.readLine()).toBe('HDR');
    const { sink, bytes } = collector();
    const moving = settle(file.pipeTo(sink, 1000));
    await feed(peer, [Buffer.alloc(300, 1), Buffer.alloc(200, 2)]);
    peer.end();
    const result = await moving;
    const err = !result.ok ? (result.error as UnexpectedEofError) : null;
    expect(err).toBeInstanceOf(UnexpectedEofError);
    expect(err?.expected).toBe(1000);
    expect(err?.received).toBe(500);
    expect(bytes().length).toBe(500);
  });

  it('a connection closed mid-body throws StreamClosedError', async () => {
    const { peer, file } = pipe();
    const { sink } = collector();
    const moving = settle(file.pipeTo(sink, 1000));
    await feed(peer, [Buffer.alloc(300, 1)]);
    peer.destroy();
    const result = await moving;
    expect(!result.ok && result.error).toBeInstanceOf(StreamClosedError);
  });

  it('onChunk sees every byte moved, in order (the hashes agree)', async () => {
    const { peer, file } = pipe();
    const body = seededRandom(5).bytes(200_000);
    peer.write('HDR\n');
    peer.write(body.subarray(0, 777));
    expect(await file.readLine()).toBe('HDR');
    const hash = createHash('sha256');
    let seen = 0;
    const { sink, bytes } = collector();
    const moving = file.pipeTo(sink, body.length, {
      onChunk: (chunk) => {
        hash.update(chunk);
        seen += chunk.length;
      },
    });
    await feed(peer, [...randomChunks(body.subarray(777), seededRandom(6), 30), Buffer.from('after\n')]);
    expect(await moving).toBe(body.length);
    expect(seen).toBe(body.length);
    expect(hash.digest('hex')).toBe(sha256(body));
    expect(sha256(bytes())).toBe(sha256(body));
    expect(await file.readLine()).toBe('after');
  });

  it('a failing writable throws TransferInterruptedError with the bytes it took', async () => {
    const { peer, file } = pipe();
    let accepted = 0;
    const failing = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (accepted + chunk.length > 1000) {
          done(new Error('disk full'));
          return;
        }
        accepted += chunk.length;
        done();
      },
    });
    failing.on('error', () => {});
    const moving = settle(file.pipeTo(failing, 5000));
    await feed(peer, Array.from({ length: 10 }, () => Buffer.alloc(400)));
    const result = await moving;
    const err = !result.ok ? (result.error as TransferInterruptedError) : null;
    expect(err).toBeInstanceOf(TransferInterruptedError);
    expect(err?.code).toBe('TCPSEND_ERR_TRANSFER_INTERRUPTED');
    expect((err?.cause as Error).message).toBe('disk full');
    expect(accepted).toBe(800);
    // Exactly what the writable confirmed, not what was offered to it: resume starts there.
    expect(err?.bytesSent).toBe(800);
    expect(err?.message).toContain('after 800 of 5000 bytes');
  });

  for (const when of ['already buffered', 'arriving later']) {
    it(`a writable that fails with no 'error' listener of its own rejects, never throws uncaught (body ${when})`, async () => {
      const { peer, file } = pipe();
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => uncaught.push(err);
      process.prependListener('uncaughtException', onUncaught);
      try {
        // No 'error' listener: a crash here would take a whole server down.
        const failing = new Writable({
          write(_chunk, _enc, done) {
            done(new Error('EIO'));
          },
        });
        if (when === 'already buffered') {
          peer.write('H\n');
          peer.write(Buffer.alloc(100));
          expect(await file.readLine()).toBe('H');
        }
        const moving = settle(file.pipeTo(failing, 100));
        if (when === 'arriving later') peer.write(Buffer.alloc(100));
        const result = await moving;
        const err = !result.ok ? (result.error as TransferInterruptedError) : null;
        expect(err).toBeInstanceOf(TransferInterruptedError);
        expect(err?.bytesSent).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(uncaught).toEqual([]);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  }

  it("honours the writable's backpressure: its buffer never holds more than its mark plus one chunk", async () => {
    const [peer, local] = duplexPair(4096);
    const file = new SocketFile(local, { readHighWaterMark: 8192 });
    const writer = new SocketFile(peer);
    const chunkSize = 4096;
    let maxPending = 0;
    const received: Buffer[] = [];
    const slow: Writable = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        setImmediate(done);
      },
    });
    const realWrite = slow.write.bind(slow);
    slow.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
      const ok = realWrite(chunk, cb);
      maxPending = Math.max(maxPending, slow.writableLength);
      return ok;
    }) as typeof slow.write;

    const body = seededRandom(8).bytes(2 * 1024 * 1024);
    const sending = (async () => {
      for (let at = 0; at < body.length; at += chunkSize) await writer.write(body.subarray(at, at + chunkSize));
    })();
    expect(await file.pipeTo(slow, body.length)).toBe(body.length);
    await sending;
    expect(Buffer.concat(received).equals(body)).toBe(true);
    expect(maxPending).toBeLessThanOrEqual(1024 + chunkSize);
    expect(file.bufferedLength).toBe(0);
  });
});
