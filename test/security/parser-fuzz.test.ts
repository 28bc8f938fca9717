/**
 * Fuzzing the request parser, then a live server.
 *
 * test/protocol/properties.test.ts already checks that the parsers throw nothing but
 * TcpsendErrors on any string, and the format → parse round trip for GET, PUT, MKDIR and HELLO.
 * Here: the round trip for every verb; exact error classes and canonical results for lines built
 * from the grammar's own pieces; exact oracles for numbers and checksums; and the wire path
 * through percent-decoding and the storage check never leaving a root. Then ~2000 hostile
 * inputs against a real server with uploads on: each is answered or cut within the timeouts,
 * nothing from outside the root comes back, memory stays bounded, and the server keeps serving.
 */
import { CHECKSUM_NAMES } from '../../src/hash/index.js';
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadPathError, BadRequestError, UnknownVerbError } from '../../src/errors.js';
import { formatRequest, parseRequest, type Request } from '../../src/protocol/index.js';
import { toSegments } from '../../src/files/relative-path.js';
import { connectRaw } from '../helpers/raw-peer.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { GOOD_TEXT, leakedSecret, makeJail, snapshot, type Jail } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const MAX = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------------
// Generators

const pathArb = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 })).filter((p) => p !== '');
const uint = fc.oneof(fc.nat({ max: 1000 }), fc.constantFrom(0, 1, 2 ** 32, MAX - 1, MAX), fc.nat({ max: MAX }));
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const mode = fc.integer({ min: 0, max: 0o7777 });
const checksum = fc.constantFrom(...CHECKSUM_NAMES);

/** Any request of any verb, as a client would build it. */
const requestArb: fc.Arbitrary<Request> = fc.oneof(
  fc.record({ verb: fc.constant('HELLO' as const), version: fc.option(uint), client: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 })), checksums: fc.option(fc.constantFrom('blake3,sha256', 'sha256', 'md5,blake3')) }),
  fc.record({ verb: fc.constant('STAT' as const), path: pathArb, hash: fc.boolean(), checksum }),
  fc.record({ verb: fc.constant('LIST' as const), path: pathArb, recursive: fc.boolean() }),
  fc.record({ verb: fc.constant('GET' as const), path: pathArb, offset: uint, length: fc.option(uint), checksum, prefixDigest: fc.option(hex64) }),
  fc.record({ verb: fc.constant('HASH' as const), path: pathArb, offset: uint, length: fc.option(uint), checksum }),
  fc.record({
    verb: fc.constant('PUT' as const),
    path: pathArb,
    size: uint,
    checksum,
    digest: fc.option(hex64),
    mtime: fc.option(uint),
    mode: fc.option(mode),
    overwrite: fc.boolean(),
    eager: fc.boolean(),
  }),
  fc.record({ verb: fc.constant('DATA' as const), offset: uint }),
  fc.record({ verb: fc.constant('END' as const), checksum, digest: hex64 }),
  fc.record({ verb: fc.constant('ABORT' as const), reason: fc.option(fc.string({ unit: 'binary', maxLength: 20 })) }),
  fc.record({ verb: fc.constant('MKDIR' as const), path: pathArb, mtime: fc.option(uint), mode: fc.option(mode) }),
  fc.record({ verb: fc.constant('QUIT' as const) }),
);

const VERB_TOKENS = ['HELLO', 'STAT', 'LIST', 'GET', 'HASH', 'PUT', 'DATA', 'END', 'ABORT', 'MKDIR', 'QUIT', 'get', 'Put', 'FROB', 'DELETE', 'G3T', 'GET\t', ''];
const PATH_PIECES = [
  'good.txt', 'f.bin', 'sub', 'sub/inner.txt', 'out', 'rel-out', 'chain1', 'up', 'up/outside.txt', 'up-rel/outside.txt',
  'evil', 'evil/secret.txt', 'evil-rel/secret.txt', 'to-part', '.x.tcpsend-part', 'inside-link', 'new.bin', '.bashrc',
  '..', '.', '/', '//', '\\', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%25', '%252e', '%00', '%0A', '%0d', '%7F', '%C0%AE',
  '%E0%80%AE', '%EF%BC%8E', '．', '‥', 'C:', 'c:', 'CON', 'nul.txt', 'COM1', 'LPT9', 'e%CC%81', 'a.', 'a%20', '%', '%2', '%zz',
  '/etc/passwd', 'outside.txt', 'data-evil', '~', '$HOME', '*', '?', 'é', '😀', '\u0000', '\t', '\r',
];
const NUMBER_PIECES = ['0', '1', '5', '10', '999999', '-1', '+1', '01', '1.5', '0x10', '1e3', '9007199254740991', '9007199254740992', '18446744073709551616', '', ' ', '%31', 'NaN'];
const KEYS = ['offset', 'length', 'size', 'sha256', 'prefix_sha256', 'mode', 'mtime', 'recursive', 'hash', 'overwrite', 'version', 'client', 'reason', 'OFFSET', 'x-y', '', 'unknown_key'];

const pieceString = (pieces: string[], max: number) => fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: max }).map((parts) => parts.join(''));
const valueArb = fc.oneof(pieceString(NUMBER_PIECES, 2), hex64, fc.stringMatching(/^[0-9a-fA-Fg]{62,66}$/), fc.constantFrom('644', '4755', '8', '17777', '0', '1', '2'), fc.string({ maxLength: 8 }));
const fieldArb = fc.tuple(fc.constantFrom(...KEYS), valueArb).map(([key, value]) => `${key}=${value}`);

/** Request-ish lines made of the grammar's own pieces (and its near misses). */
const lineArb = fc
  .tuple(fc.constantFrom(...VERB_TOKENS), fc.option(pieceString(PATH_PIECES, 5)), fc.array(fieldArb, { maxLength: 5 }), fc.constantFrom(' ', '  '))
  .map(([verb, p, fields, sep]) => [verb, ...(p === null ? [] : [p]), ...fields].join(sep));

/** Parse without throwing: the request, or the error. */
function tryParse(line: string): Request | Error {
  try {
    return parseRequest(line);
  } catch (err) {
    return err as Error;
  }
}

// ---------------------------------------------------------------------------------------------
// Properties of the parser (pure)

describe('request parser properties', () => {
  it('format → parse is the identity for every verb', () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const line = formatRequest(req);
        expect(line).not.toMatch(/[\r\n]/);
        expect(parseRequest(line)).toEqual(req);
      }),
      { numRuns: 3000 },
    );
  });

  it('grammar-built lines: a canonical request, or exactly BAD_REQUEST, UNKNOWN_VERB or BAD_PATH', () => {
    fc.assert(
      fc.property(lineArb, (line) => {
        const result = tryParse(line);
        if (result instanceof Error) {
          // Not merely "some TcpsendError": a UsageError or a bare TcpsendError here would be
          // the parser blaming the wrong party.
          expect([BadRequestError, UnknownVerbError, BadPathError]).toContain(result.constructor);
          return;
        }
        // What was accepted is canonical: formatting it and parsing again changes nothing.
        expect(parseRequest(formatRequest(result))).toEqual(result);
        for (const [key, value] of Object.entries(result)) {
          if (typeof value === 'number') {
            expect(Number.isSafeInteger(value) && value >= 0, `${key}=${value}`).toBe(true);
            if (key === 'mode') expect(value).toBeLessThanOrEqual(0o7777);
          }
          if (/sha256/i.test(key) && value !== null) expect(value).toMatch(/^[0-9a-f]{64}$/);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('numbers: accepted exactly when plain decimal below 2^53, and then exact', () => {
    const numberish = fc.oneof(pieceString(NUMBER_PIECES.filter((n) => !n.includes('%') && n !== ' '), 3), fc.stringMatching(/^[-+0-9a-fx.e]{0,25}$/));
    fc.assert(
      fc.property(numberish, fc.constantFrom('offset', 'length'), (text, key) => {
        const result = tryParse(`GET f ${key}=${text}`);
        const valid = /^(?:0|[1-9][0-9]*)$/.test(text) && BigInt(text) <= BigInt(MAX);
        if (!valid) {
          expect(result).toBeInstanceOf(BadRequestError);
          return;
        }
        expect(result).not.toBeInstanceOf(Error);
        expect((result as unknown as Record<string, unknown>)[key]).toBe(Number(BigInt(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it('checksums: accepted exactly when 64 hex digits, and then lower case', () => {
    const shaish = fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{60,68}$/), fc.stringMatching(/^[0-9a-gA-G]{64}$/), fc.string({ maxLength: 70 }).filter((s) => !/[ =%]/.test(s)));
    fc.assert(
      fc.property(shaish, (text) => {
        const result = tryParse(`END sha256=${text}`);
        if (!/^[0-9a-fA-F]{64}$/.test(text)) {
          expect(result).toBeInstanceOf(BadRequestError);
          return;
        }
        expect(result).toEqual({ verb: 'END', checksum: 'sha256', digest: text.toLowerCase() });
      }),
      { numRuns: 2000 },
    );
  });

  it('a wire path, decoded once and checked, never names anything outside the root', () => {
    const root = '/srv/root';
    fc.assert(
      fc.property(pieceString(PATH_PIECES, 8), (token) => {
        const parsed = tryParse(`GET ${token}`);
        if (parsed instanceof Error || parsed.verb !== 'GET') return;
        let segments: string[];
        try {
          segments = toSegments(parsed.path);
        } catch (err) {
          expect(err).toBeInstanceOf(BadPathError);
          return;
        }
        const joined = path.posix.join(root, ...segments);
        expect(joined === root || joined.startsWith(`${root}/`)).toBe(true);
        for (const segment of segments) expect(['', '.', '..']).not.toContain(segment);
        // Decoded once: '%252e' stays the literal '%2e', never '.'.
        if (token.includes('%252e')) expect(parsed.path).toContain('%2e');
      }),
      { numRuns: 5000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A live server

interface Input {
  bytes: Buffer;
  /** Start a connection without HELLO: the first line may be a selector or look like TLS. */
  bare: boolean;
  /** Send nothing after it and wait: the server must cut the connection by its timeouts. */
  hold?: boolean;
}

const enc = (s: string) => Buffer.from(s, 'utf8');
const ending = fc.constantFrom('\r\n', '\n', '\r\n', '');

const someInput: fc.Arbitrary<Input> = fc.oneof(
  // Random bytes.
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), bare: false })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => ({ bytes: Buffer.from(b), bare: true })) },
  // Lines from the grammar's pieces, one or several.
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.array(fc.tuple(lineArb, ending), { minLength: 1, maxLength: 3 }), fc.nat({ max: 9 }))
      .map(([lines, n]) => ({ bytes: enc(lines.map(([l, e]) => l + e).join('')), bare: n < 2 })),
  },
  // Bare selectors with hostile paths.
  { weight: 2, arbitrary: fc.tuple(pieceString(PATH_PIECES, 4), ending).map(([p, e]) => ({ bytes: enc(`/${p}${e}`), bare: true })) },
  // A good line cut short.
  {
    weight: 1,
    arbitrary: fc.tuple(lineArb, fc.nat()).map(([l, n]) => ({ bytes: enc(l).subarray(0, n % (Buffer.byteLength(l) + 1)), bare: false })),
  },
  // Over-long lines, with or without their newline.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 8190, max: 40_000 }), ending).map(([n, e]) => ({ bytes: enc(`GET ${'a'.repeat(n)}${e}`), bare: false })),
  },
  // One-step PUTs whose body runs short or long, with a hostile destination.
  {
    weight: 1,
    arbitrary: fc
      .tuple(pieceString(PATH_PIECES, 3), fc.nat({ max: 64 }), fc.nat({ max: 64 }))
      .map(([p, size, sent]) => ({ bytes: Buffer.concat([enc(`PUT ${p} size=${size} offset=0\r\n`), Buffer.alloc(sent, 0x42), enc(`END sha256=${sha('x')}\r\n`)]), bare: false })),
  },
);

/** One input in ten is held: nothing follows it, not even a newline. */
const inputArb = fc.tuple(someInput, fc.nat({ max: 9 })).map(([input, n]) => ({ ...input, hold: n === 0 }));

const IDLE_MS = 300;
/** An input must be answered, or its connection cut, within this (timeouts plus slack). */
const ANSWER_MS = 3000;
/** After each input, a request whose answer names the input's index: it proves that input is done. */
const sentinel = (index: number) => `STAT sentinel-${index}\r\n`;
const sentinelReply = (index: number) => `'sentinel-${index}'\r\n`;

let jail: Jail;
let server: TestServer;

beforeAll(async () => {
  jail = await makeJail();
  server = await startServer({ root: jail.root, allowUpload: true, idleTimeoutMs: IDLE_MS, lineDeadlineMs: IDLE_MS });
});

afterAll(async () => {
  await server?.close();
  await jail?.remove();
});

/** One connection carrying some inputs, each followed by a sentinel STAT to see it answered. */
class FuzzConnection {
  readonly socket: net.Socket;
  readonly chunks: Buffer[] = [];
  length = 0;
  closed = false;
  private wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.wake?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number): Promise<FuzzConnection> {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const conn = new FuzzConnection(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return conn;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Until `marker` appears after byte `from`, or the connection closes; 'hang' after `ms`. */
  async until(marker: string, from: number, ms: number): Promise<'answered' | 'closed' | 'hang'> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.bytes().subarray(from).includes(marker)) return 'answered';
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'hang';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  write(data: Buffer | string): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(data);
  }
}

describe('fuzzing a live server', () => {
  it('~2000 hostile inputs: each answered or cut in time, nothing from outside, memory bounded, still serving', async () => {
    const inputs = fc.sample(inputArb, { numRuns: 2000, seed: 0x7c95e4d });
    const before = await snapshot(jail.dir, jail.root);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const hangs: string[] = [];
    const leaks: string[] = [];
    let answered = 0;
    let closed = 0;
    let held = 0;
    let timedOut = 0;

    let next = 0;
    const worker = async () => {
      let conn: FuzzConnection | null = null;
      let onThis = 0;
      const finish = (c: FuzzConnection) => {
        c.socket.destroy();
        const leak = leakedSecret(c.bytes(), [...jail.secrets, 'root:x:0:0', jail.dir]);
        if (leak !== null) leaks.push(leak);
      };
      while (next < inputs.length) {
        const index = next++;
        const input = inputs[index]!;
        // A bare input needs a connection of its own; others share one for up to 5 inputs.
        if (conn === null || conn.closed || input.bare || onThis >= 5) {
          if (conn) finish(conn);
          conn = await FuzzConnection.open(server.port);
          onThis = 0;
          if (!input.bare) conn.write('HELLO\r\n');
        }
        onThis += 1;
        const from = conn.length;
        conn.write(input.bytes);
        let outcome: 'answered' | 'closed' | 'hang';
        if (input.hold) {
          outcome = await conn.until('\u0000 never sent', from, ANSWER_MS);
          held += 1;
          if (conn.bytes().subarray(from).includes('ERR TIMEOUT ')) timedOut += 1;
        } else {
          conn.write(`\r\n${sentinel(index)}`);
          outcome = await conn.until(sentinelReply(index), from, ANSWER_MS);
        }
        if (outcome === 'hang') hangs.push(`#${index} ${JSON.stringify(input.bytes.subarray(0, 80).toString('latin1'))}`);
        else if (outcome === 'answered') answered += 1;
        else closed += 1;
        if (outcome === 'hang' || input.hold) {
          finish(conn);
          conn = null;
        }
      }
      if (conn) finish(conn);
    };
    try {
      await Promise.all(Array.from({ length: 32 }, worker));
    } finally {
      clearInterval(sampler);
    }
    const elapsed = Date.now() - started;

    expect(hangs).toEqual([]);
    expect(leaks).toEqual([]);
    expect(answered + closed).toBe(inputs.length);
    // Both outcomes happen: the fuzz reaches the refusals that keep a connection and those that cut it.
    expect(answered).toBeGreaterThan(100);
    expect(closed).toBeGreaterThan(100);
    // Held inputs were cut by the server's timeouts, most of them with a last ERR TIMEOUT.
    expect(held).toBeGreaterThan(100);
    expect(timedOut).toBeGreaterThan(held / 2);
    expect(elapsed).toBeLessThan(20_000);
    expect(rssPeak - rssBefore).toBeLessThan(150 * 1024 * 1024);

    // Still serving, and nothing outside the root was written.
    const peer = await connectRaw(server.port);
    try {
      await peer.hello();
      await peer.sendLine('GET good.txt');
      expect(await peer.line()).toMatch(/^OK size=13 offset=0 length=13 /);
      expect((await peer.bytes(13)).toString()).toBe(GOOD_TEXT);
      expect(await peer.line()).toBe(`OK sha256=${sha(GOOD_TEXT)}`);
    } finally {
      peer.destroy();
    }
    expect(await snapshot(jail.dir, jail.root)).toEqual(before);
  });
});
