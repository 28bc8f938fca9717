import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  SocketFile,
  StreamClosedError,
  StreamUnusableError,
  UnexpectedEofError,
} from '../../src/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { feed, hasSettled, nextTurn, settle } from '../helpers/feed.js';
import { randomChunks, seededRandom, type SeededRandom } from '../helpers/seeded-random.js';

function pipe(options: ConstructorParameters<typeof SocketFile>[1] = {}) {
  const [peer, local] = duplexPair();
  return { peer, file: new SocketFile(local, options) };
}

describe('readExactly', () => {
  it('waits until all n bytes are there, across chunks', async () => {
    const { peer, file } = pipe();
    const body = file.readExactly(10);
    await feed(peer, ['abc', 'defg']);
    expect(await hasSettled(body)).toBe(false);
    await feed(peer, ['hij', 'klm']);
    expect((await body).toString()).toBe('abcdefghij');
    expect((await file.readExactly(3)).toString()).toBe('klm');
  });

  it('takeBuffered gives the n bytes once they are buffered, undefined (no wait, nothing taken) before', async () => {
    const { peer, file } = pipe();
    await feed(peer, ['abc']);
    expect(file.takeBuffered(4)).toBeUndefined();
    await feed(peer, ['defOK\r\n']);
    expect(file.takeBuffered(4)?.toString()).toBe('abcd');
    expect(file.takeBuffered(0)?.length).toBe(0);
    expect((await file.readExactly(2)).toString()).toBe('ef');
    expect(file.takeBufferedLine()).toBe('OK');
  });

  it('readExactly(0) returns no bytes and consumes nothing', async () => {
    const { peer, file } = pipe();
    peer.write('x');
    expect((await file.readExactly(0)).length).toBe(0);
    expect((await file.readExactly(1)).toString()).toBe('x');
  });

  it('an end mid-body throws UnexpectedEofError saying how many bytes arrived', async () => {
    const { peer, file } = pipe();
    const body = settle(file.readExactly(100));
    await feed(peer, [Buffer.alloc(30), Buffer.alloc(12)]);
    peer.end();
    const result = await body;
    const err = !result.ok ? (result.error as UnexpectedEofError) : null;
    expect(err).toBeInstanceOf(UnexpectedEofError);
    expect(err?.code).toBe('TCPSEND_ERR_UNEXPECTED_EOF');
    expect(err?.expected).toBe(100);
    expect(err?.received).toBe(42);
    expect(err?.message).toContain('42 of 100');
    // The partial bytes were consumed by the failed read: what follows is the clean end.
    expect(await file.read(1)).toBeNull();
  });

  it('a body larger than the read high-water mark still arrives whole', async () => {
    const { peer, file } = pipe({ readHighWaterMark: 1000 });
    const data = seededRandom(3).bytes(50_000);
    const body = file.readExactly(data.length);
    await feed(peer, randomChunks(data, seededRandom(4), 40));
    expect((await body).equals(data)).toBe(true);
  });

  it('a connection closed without an end is not a clean end', async () => {
    const { peer, file } = pipe();
    const body = settle(file.readExactly(10));
    await feed(peer, ['abc']);
    peer.destroy();
    const result = await body;
    expect(!result.ok && result.error).toBeInstanceOf(StreamClosedError);
    await expect(file.readLine()).rejects.toBeInstanceOf(StreamClosedError);
  });
});

describe('read', () => {
  it('returns what is there, at most n bytes, as soon as any arrive', async () => {
    const { peer, file } = pipe();
    const first = file.read(100);
    expect(await hasSettled(first)).toBe(false);
    await feed(peer, ['hello']);
    expect((await first)?.toString()).toBe('hello');
    peer.write('abcdef');
    expect((await file.read(4))?.toString()).toBe('abcd');
    expect((await file.read(4))?.toString()).toBe('ef');
  });

  it('returns null at the clean end, after the last bytes', async () => {
    const { peer, file } = pipe();
    peer.end('xy');
    expect((await file.read(10))?.toString()).toBe('xy');
    expect(await file.read(10)).toBeNull();
    expect(await file.read(10)).toBeNull();
  });
});

describe('readToEnd', () => {
  it('returns everything up to the end', async () => {
    const { peer, file } = pipe();
    const all = file.readToEnd();
    await feed(peer, ['line\r\n', 'rest', ' of it']);
    expect(await hasSettled(all)).toBe(false);
    peer.end();
    expect((await all).toString()).toBe('line\r\nrest of it');
  });

  it('accepts exactly maxBytes', async () => {
    const { peer, file } = pipe();
    const all = file.readToEnd({ maxBytes: 1000 });
    await feed(peer, [Buffer.alloc(600, 1), Buffer.alloc(400, 2)]);
    peer.end();
    const out = await all;
    expect(out.length).toBe(1000);
    expect(out[599]).toBe(1);
    expect(out[600]).toBe(2);
  });

  it('throws BodyTooLargeError one byte past maxBytes, and the stream is unusable after', async () => {
    const { peer, file } = pipe();
    const all = settle(file.readToEnd({ maxBytes: 1000 }));
    await feed(peer, [Buffer.alloc(600), Buffer.alloc(401)]);
    // No end needed: the limit is known to be passed as soon as byte 1001 arrives.
    const result = await all;
    const err = !result.ok ? (result.error as BodyTooLargeError) : null;
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect(err?.code).toBe('TCPSEND_ERR_BODY_TOO_LARGE');
    expect(err?.maxBytes).toBe(1000);
    await expect(file.read(1)).rejects.toBeInstanceOf(StreamUnusableError);
  });

  it('keeps reading past the read high-water mark up to maxBytes', async () => {
    const { peer, file } = pipe({ readHighWaterMark: 100 });
    const data = seededRandom(9).bytes(20_000);
    const all = file.readToEnd({ maxBytes: 20_000 });
    await feed(peer, randomChunks(data, seededRandom(10), 30));
    peer.end();
    expect((await all).equals(data)).toBe(true);
  });
});

/** A request line and its body, as the protocol frames them. */
interface Record {
  line: string;
  body: Buffer;
}

function makeRecords(random: SeededRandom): Record[] {
  const words = ['PUT', 'GET', 'héllo', '数据', '🎉', 'a b', 'x\ry', ''];
  const records: Record[] = [];
  const n = random.int(1, 8);
  for (let i = 0; i < n; i++) {
    const size = random.next() < 0.2 ? 0 : random.int(1, 3000);
    const text = Array.from({ length: random.int(0, 4) }, () => words[random.int(0, words.length - 1)]);
    // The body is random bytes: CR, LF and partial UTF-8 inside it must not confuse the reader.
    records.push({ line: `REC ${size} ${text.join(' ')}`.trimEnd(), body: random.bytes(size) });
  }
  return records;
}

function encode(records: Record[], random: SeededRandom): Buffer {
  const parts: Buffer[] = [];
  for (const { line, body } of records) {
    parts.push(Buffer.from(`${line}${random.next() < 0.5 ? '\r\n' : '\n'}`), body);
  }
  parts.push(Buffer.from('END\r\n'));
  return Buffer.concat(parts);
}

describe('mixed line and byte reads on one stream', () => {
  it('request line, body of N bytes, next line: exact bytes under 300 random chunkings', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seededRandom(seed);
      const records = makeRecords(random);
      const wire = encode(records, random);
      const chunks = randomChunks(wire, random, random.int(1, 60));
      const { peer, file } = pipe({ readHighWaterMark: random.int(1, 4096) });

      const feeding = (async () => {
        for (const chunk of chunks) {
          peer.write(chunk);
          // Sometimes several chunks arrive in one turn, sometimes one at a time.
          if (random.next() < 0.7) await nextTurn();
        }
        peer.end();
      })();

      for (const [i, record] of records.entries()) {
        const where = `seed ${seed}, record ${i}`;
        const line = await file.readLine();
        expect(line, where).toBe(record.line);
        const size = Number(line?.split(' ')[1]);
        // Read the body in one of the three ways a handler might.
        const how = (seed + i) % 3;
        let body: Buffer;
        if (how === 0) {
          body = await file.readExactly(size);
        } else if (how === 1) {
          const pieces: Buffer[] = [];
          let got = 0;
          while (got < size) {
            const piece = await file.read(Math.min(size - got, 1 + (seed % 700)));
            if (piece === null) throw new Error(`${where}: end of stream in the body`);
            pieces.push(piece);
            got += piece.length;
          }
          body = Buffer.concat(pieces);
        } else {
          const sink = new PassThrough();
          const pieces: Buffer[] = [];
          sink.on('data', (piece: Buffer) => pieces.push(piece));
          expect(await file.pipeTo(sink, size), where).toBe(size);
          body = Buffer.concat(pieces);
        }
        expect(body.equals(record.body), where).toBe(true);
      }
      expect(await file.readLine()).toBe('END');
      expect(await file.readLine()).toBeNull();
      await feeding;
    }
  });
});
