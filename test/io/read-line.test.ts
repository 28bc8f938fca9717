import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_LINE_LENGTH,
  LineTooLongError,
  SocketFile,
  StreamUnusableError,
  UnexpectedEofError,
} from '../../src/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { feed, hasSettled, nextTurn, settle } from '../helpers/feed.js';

/** A reader over one end of an in-memory pair, and the raw other end to feed it from. */
function pipe(options: ConstructorParameters<typeof SocketFile>[1] = {}) {
  const [peer, local] = duplexPair();
  return { peer, file: new SocketFile(local, options) };
}

async function expectUnusable(file: SocketFile): Promise<void> {
  await expect(file.readLine()).rejects.toBeInstanceOf(StreamUnusableError);
  await expect(file.readExactly(1)).rejects.toBeInstanceOf(StreamUnusableError);
  await expect(file.read(1)).rejects.toBeInstanceOf(StreamUnusableError);
  await expect(file.readToEnd()).rejects.toBeInstanceOf(StreamUnusableError);
  await expect(file.pipeTo(new PassThrough(), 1)).rejects.toBeInstanceOf(StreamUnusableError);
  const err = await file.readLine().catch((e: unknown) => e);
  expect((err as StreamUnusableError).code).toBe('TCPSEND_ERR_STREAM_UNUSABLE');
}

describe('readLine split across two chunks', () => {
  const cases: Array<[string, string, string[]]> = [
    ['CRLF', 'GET /a b\r\nnext\r\n', ['GET /a b', 'next']],
    ['LF', 'GET /a b\nnext\n', ['GET /a b', 'next']],
    ['multi-byte UTF-8 with CRLF', 'héllo 数据 🎉\r\nnext\r\n', ['héllo 数据 🎉', 'next']],
    ['multi-byte UTF-8 with LF', 'héllo 数据 🎉\nü\n', ['héllo 数据 🎉', 'ü']],
    ['empty lines and mixed terminators', '\r\n\nx\r\ny\n\r\n', ['', '', 'x', 'y', '']],
  ];

  for (const [name, text, lines] of cases) {
    it(`${name}: every split point gives the same lines`, async () => {
      const bytes = Buffer.from(text, 'utf8');
      const firstLineEnd = bytes.indexOf(0x0a);
      for (let split = 1; split < bytes.length; split++) {
        const { peer, file } = pipe();
        const first = file.readLine();
        peer.write(bytes.subarray(0, split));
        await nextTurn();
        // The first line is only whole once its LF arrived.
        expect(await hasSettled(first, 1), `split ${split}`).toBe(split > firstLineEnd);
        peer.write(bytes.subarray(split));
        peer.end();
        const got: Array<string | null> = [await first];
        for (;;) {
          const line = await file.readLine();
          if (line === null) break;
          got.push(line);
        }
        expect(got, `split at byte ${split}`).toEqual(lines);
        expect(await file.readLine()).toBeNull();
      }
    });
  }

  it('a split inside CRLF does not leave the CR on the line', async () => {
    const { peer, file } = pipe();
    const line = file.readLine();
    await feed(peer, ['abc\r', '\ndef\n']);
    expect(await line).toBe('abc');
    expect(await file.readLine()).toBe('def');
  });

  it('each byte of a UTF-8 line in its own chunk decodes the same', async () => {
    const text = 'héllo 数据 🎉';
    const bytes = Buffer.from(`${text}\r\n`);
    const { peer, file } = pipe();
    const line = file.readLine();
    await feed(peer, [...bytes].map((b) => Buffer.from([b])));
    expect(await line).toBe(text);
  });
});

describe('readLine terminators', () => {
  it('strips LF and CRLF, keeps a lone CR inside the line', async () => {
    const { peer, file } = pipe();
    peer.end('lf\ncrlf\r\na\rb\n\r\r\n');
    expect(await file.readLine()).toBe('lf');
    expect(await file.readLine()).toBe('crlf');
    expect(await file.readLine()).toBe('a\rb');
    expect(await file.readLine()).toBe('\r');
    expect(await file.readLine()).toBeNull();
  });

  it('readLineBuffer returns the raw bytes without the terminator', async () => {
    const { peer, file } = pipe();
    const raw = Buffer.from([0xff, 0x00, 0xc3, 0x0d, 0x0a]);
    peer.end(raw);
    const line = await file.readLineBuffer();
    expect(line).toEqual(Buffer.from([0xff, 0x00, 0xc3]));
    expect(await file.readLineBuffer()).toBeNull();
  });

  it('for await yields every line, then stops at the clean end', async () => {
    const { peer, file } = pipe();
    const feeding = feed(peer, ['one\r\ntw', 'o\n', '\r\nthr', 'ee\r', '\n']).then(() => peer.end());
    const lines: string[] = [];
    for await (const line of file) lines.push(line);
    await feeding;
    expect(lines).toEqual(['one', 'two', '', 'three']);
  });
});

describe('readLine length limit', () => {
  const max = 16;
  const fits = 'x'.repeat(max);
  const over = 'x'.repeat(max + 1);

  it('a line of exactly maxLength bytes + CRLF is accepted', async () => {
    const { peer, file } = pipe();
    peer.write(`${fits}\r\nafter\r\n`);
    expect(await file.readLine({ maxLength: max })).toBe(fits);
    expect(await file.readLine({ maxLength: max })).toBe('after');
  });

  it('a line of exactly maxLength bytes + LF is accepted', async () => {
    const { peer, file } = pipe();
    peer.write(`${fits}\nafter\n`);
    expect(await file.readLine({ maxLength: max })).toBe(fits);
    expect(await file.readLine({ maxLength: max })).toBe('after');
  });

  it('maxLength counts bytes, not characters', async () => {
    const { peer, file } = pipe();
    // 4 characters, 8 bytes: fits in 8, not in 7.
    peer.write('éééé\r\néééé\r\n');
    expect(await file.readLine({ maxLength: 8 })).toBe('éééé');
    const err = await file.readLine({ maxLength: 7 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineTooLongError);
  });

  for (const terminator of ['\r\n', '\n']) {
    it(`one byte over (${JSON.stringify(terminator)}) throws LineTooLongError, then every read is unusable`, async () => {
      const { peer, file } = pipe();
      peer.write(`${over}${terminator}fine\r\n`);
      const err = await file.readLine({ maxLength: max }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LineTooLongError);
      expect((err as LineTooLongError).code).toBe('TCPSEND_ERR_LINE_TOO_LONG');
      expect((err as LineTooLongError).maxLength).toBe(max);
      await expectUnusable(file);
    });

    it(`one byte over (${JSON.stringify(terminator)}) split at every point still throws`, async () => {
      const bytes = Buffer.from(`${over}${terminator}`);
      for (let split = 1; split < bytes.length; split++) {
        const { peer, file } = pipe();
        const line = settle(file.readLine({ maxLength: max }));
        await feed(peer, [bytes.subarray(0, split), bytes.subarray(split)]);
        const result = await line;
        expect(result.ok, `split ${split}`).toBe(false);
        expect(!result.ok && result.error, `split ${split}`).toBeInstanceOf(LineTooLongError);
      }
    });
  }

  it('after an over-long line the stream still writes: the server can answer ERR before it closes', async () => {
    const { peer, file } = pipe();
    peer.write(`${over}\r\n`);
    await expect(file.readLine({ maxLength: max })).rejects.toBeInstanceOf(LineTooLongError);
    await file.writeLine('ERR LINE_TOO_LONG line longer than 16 bytes');
    await file.end();
    const answer = new SocketFile(peer);
    expect(await answer.readLine()).toBe('ERR LINE_TOO_LONG line longer than 16 bytes');
    expect(await answer.readLine()).toBeNull();
  });

  it('over-long data with no newline at all throws LineTooLongError without waiting for more', async () => {
    const { peer, file } = pipe();
    const line = settle(file.readLine({ maxLength: max }));
    // max + 1 bytes, none a line terminator: no ending can make this a line that fits.
    peer.write(over);
    await nextTurn();
    expect(await hasSettled(line)).toBe(true);
    const result = await line;
    expect(!result.ok && result.error).toBeInstanceOf(LineTooLongError);
    await expectUnusable(file);
  });

  it('maxLength bytes then CR waits: a LF may still make the line fit', async () => {
    const { peer, file } = pipe();
    const line = file.readLine({ maxLength: max });
    peer.write(`${fits}\r`);
    expect(await hasSettled(line)).toBe(false);
    peer.write('\n');
    expect(await line).toBe(fits);
  });

  it('a long run with no newline (many chunks, past the read high-water mark) throws', async () => {
    const { peer, file } = pipe({ readHighWaterMark: 1024 });
    const line = settle(file.readLine({ maxLength: 100_000 }));
    const chunk = Buffer.alloc(8192, 0x61);
    for (let sent = 0; sent < 120_000; sent += chunk.length) {
      peer.write(chunk);
      await nextTurn();
    }
    const result = await line;
    expect(!result.ok && result.error).toBeInstanceOf(LineTooLongError);
    await expectUnusable(file);
  });

  it('the default limit is DEFAULT_MAX_LINE_LENGTH bytes', async () => {
    expect(DEFAULT_MAX_LINE_LENGTH).toBe(8192);
    const ok = 'y'.repeat(DEFAULT_MAX_LINE_LENGTH);
    const { peer, file } = pipe();
    peer.write(`${ok}\r\n${ok}y\r\n`);
    expect(await file.readLine()).toBe(ok);
    await expect(file.readLine()).rejects.toBeInstanceOf(LineTooLongError);
  });

  it('the default limit is set per stream with maxLineLength', async () => {
    const { peer, file } = pipe({ maxLineLength: 4 });
    peer.write('abcd\nabcde\n');
    expect(await file.readLine()).toBe('abcd');
    await expect(file.readLine()).rejects.toBeInstanceOf(LineTooLongError);
    await expect(file.readLine({ maxLength: 100 })).rejects.toBeInstanceOf(StreamUnusableError);
  });
});

describe('readLine at the end of the stream', () => {
  it('gives null at a clean end, and again after', async () => {
    const { peer, file } = pipe();
    peer.end('last\n');
    expect(await file.readLine()).toBe('last');
    expect(await file.readLine()).toBeNull();
    expect(await file.readLine()).toBeNull();
    expect(await file.read(10)).toBeNull();
  });

  it('gives null at once on an empty stream', async () => {
    const { peer, file } = pipe();
    peer.end();
    expect(await file.readLine()).toBeNull();
  });

  it('an end mid-line throws UnexpectedEofError with the bytes received', async () => {
    const { peer, file } = pipe();
    const line = settle(file.readLine());
    await feed(peer, ['héllo', ' wor']);
    peer.end('ld\r');
    const result = await line;
    expect(result.ok).toBe(false);
    const err = !result.ok ? (result.error as UnexpectedEofError) : null;
    expect(err).toBeInstanceOf(UnexpectedEofError);
    expect(err?.code).toBe('TCPSEND_ERR_UNEXPECTED_EOF');
    expect(err?.expected).toBeNull();
    expect(err?.received).toBe(Buffer.byteLength('héllo world\r'));
    expect(err?.message).toContain('13 bytes');
  });
});

describe('takeBufferedLine', () => {
  it('gives the lines already buffered, as readLine would, and undefined (no wait) when none is whole', async () => {
    const { peer, file } = pipe();
    expect(file.takeBufferedLine()).toBeUndefined();
    const text = Buffer.from('a type=dir\r\nb 数据\nc par', 'utf8');
    // Split inside the multi-byte name: the line is whole only once its LF is there.
    peer.write(text.subarray(0, 15));
    await nextTurn();
    expect(file.takeBufferedLine()).toBe('a type=dir');
    expect(file.takeBufferedLine()).toBeUndefined();
    peer.write(text.subarray(15));
    await nextTurn();
    expect(file.takeBufferedLine()).toBe('b 数据');
    expect(file.takeBufferedLine()).toBeUndefined();
    peer.write('tial\r\n');
    await nextTurn();
    expect(file.takeBufferedLine()).toBe('c partial');
    peer.end();
    expect(await file.readLine()).toBeNull();
  });

  it('refuses a buffered line past the limit, and the stream is unusable after', async () => {
    const { peer, file } = pipe({ maxLineLength: 8 });
    peer.write('123456789\n');
    await nextTurn();
    expect(() => file.takeBufferedLine()).toThrow(LineTooLongError);
    await expectUnusable(file);
  });
});

describe('takeBufferedLines', () => {
  it('gives the whole lines of the first chunk at once, as readLine would, up to and including `last`; the rest stays buffered', async () => {
    const { peer, file } = pipe();
    expect(file.takeBufferedLines('.')).toEqual([]);
    peer.write('a type=dir\r\nb 数据\nc\r\n.\r\nOK next\r\npart');
    await nextTurn();
    expect(file.takeBufferedLines('.')).toEqual(['a type=dir', 'b 数据', 'c', '.']);
    // What follows the last line asked for is the next reader's, to the byte.
    expect(await file.readLine()).toBe('OK next');
    expect(file.takeBufferedLines('.')).toEqual([]);
    peer.write('ial\n');
    await nextTurn();
    expect(file.takeBufferedLines('.')).toEqual(['partial']);
    peer.end();
    expect(await file.readLine()).toBeNull();
  });

  it('a line split across chunks comes alone, whole', async () => {
    const { peer, file } = pipe();
    const text = Buffer.from('x 数据\ny\n', 'utf8');
    peer.write(text.subarray(0, 4)); // inside the multi-byte name
    await nextTurn();
    expect(file.takeBufferedLines('.')).toEqual([]);
    peer.write(text.subarray(4));
    await nextTurn();
    const got: string[] = [];
    for (let lines = file.takeBufferedLines('.'); lines.length > 0; lines = file.takeBufferedLines('.')) got.push(...lines);
    expect(got).toEqual(['x 数据', 'y']);
  });

  it('refuses a line past the limit, counted in bytes, and the stream is unusable after', async () => {
    const { peer, file } = pipe({ maxLineLength: 8 });
    peer.write('ok\n数据数\n'); // 9 bytes in 3 characters
    await nextTurn();
    expect(() => file.takeBufferedLines('.')).toThrow(LineTooLongError);
    await expectUnusable(file);
  });
});
