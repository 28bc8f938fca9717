import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpsendError } from '../../src/errors.js';
import {
  decodePath,
  decodeValue,
  encodePath,
  encodeValue,
  formatErr,
  formatRequest,
  parseEntry,
  parseGreeting,
  parseRequest,
  parseResponse,
  selectorPath,
  type Request,
} from '../../src/protocol/index.js';

/** Runs `fn`; a TcpsendError is an acceptable outcome, any other exception is not. */
function onlyTcpsendErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof TcpsendError)) throw err;
  }
}

// Whole Unicode, astral planes included, always well-formed (no lone surrogates).
const unicode = fc.string({ unit: 'grapheme', maxLength: 40 });
const binaryish = fc.string({ unit: 'binary', maxLength: 40 });
// Lines made of the characters that matter to the grammar, so the parser's branches get hit.
const lineish = fc.string({
  unit: fc.constantFrom(
    ' ',
    '=',
    '%',
    '/',
    'G',
    'E',
    'T',
    'PUT',
    'HELLO',
    'offset',
    'size',
    'sha256',
    'mode',
    '0',
    '1',
    '7',
    '9',
    'a',
    'F',
    'C0',
    'é',
    '😀',
    '\t',
    '\0',
    '\ud800',
  ),
  maxLength: 30,
});

describe('properties', () => {
  it('decodePath(encodePath(s)) is s, and the encoded form is plain printable ASCII', () => {
    fc.assert(
      fc.property(fc.oneof(unicode, binaryish), (text) => {
        fc.pre(text !== '');
        const encoded = encodePath(text);
        expect(decodePath(encoded)).toBe(text);
        expect(encoded).toMatch(/^[\x21-\x7e]*$/);
        expect(encoded).not.toMatch(/[ =\r\n]/);
        expect(encoded.startsWith('/')).toBe(text.startsWith('/'));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeValue(encodeValue(s)) is s, empty included', () => {
    fc.assert(
      fc.property(unicode, (text) => {
        expect(decodeValue(encodeValue(text))).toBe(text);
      }),
    );
  });

  it('format → parse is the identity for requests with arbitrary paths', () => {
    fc.assert(
      fc.property(
        fc.oneof(unicode, binaryish).filter((path) => path !== ''),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER })),
        fc.option(fc.integer({ min: 0, max: 0o7777 })),
        fc.boolean(),
        (path, n, m, mode, flag) => {
          const sha = n.toString(16).padStart(64, '0');
          const requests: Request[] = [
            { verb: 'GET', path, offset: n, length: m, checksum: flag ? 'blake3' : 'sha256', prefixDigest: flag ? sha : null },
            {
              verb: 'PUT',
              path,
              size: n,
              checksum: flag ? 'sha256' : 'blake3',
              digest: sha,
              mtime: m,
              mode,
              overwrite: flag,
              eager: !flag,
            },
            { verb: 'MKDIR', path, mtime: m, mode },
            { verb: 'HELLO', version: m, client: flag ? path : null, checksums: null },
          ];
          for (const req of requests) expect(parseRequest(formatRequest(req))).toEqual(req);
        },
      ),
    );
  });

  it('parsers given any string return or throw a TcpsendError, never anything else', () => {
    const parsers = [
      parseRequest,
      parseResponse,
      parseGreeting,
      parseEntry,
      selectorPath,
      decodePath,
    ];
    fc.assert(
      fc.property(fc.oneof(unicode, binaryish, lineish, fc.string()), (line) => {
        for (const parse of parsers) onlyTcpsendErrors(() => parse(line));
      }),
      { numRuns: 3000 },
    );
  });

  it('formatErr never yields a line that breaks the framing or parses differently', () => {
    fc.assert(
      fc.property(fc.oneof(unicode, binaryish, fc.string()), (message) => {
        const line = formatErr('INTERNAL', message);
        expect(line).not.toMatch(/[\r\n\x00-\x1f\x7f-\x9f]/);
        expect(line).not.toMatch(/\p{Cs}/u);
        expect(parseResponse(line)).toMatchObject({ ok: false, code: 'INTERNAL' });
      }),
    );
  });
});
