/**
 * The one-match readers of the lines a tcpsend peer writes (a LIST entry, an MPUT item, a GET
 * answer's header and trailer) are
 * fast paths of the general parsers: on any line they accept they must give exactly what the
 * general parser gives, and on any line they decline the general parser decides alone. Held
 * here on the lines the formatters write and on those lines bent every way the grammar allows
 * or forbids (fields moved, spaces doubled, numbers past 2^53, leading zeros, odd modes, bad
 * escapes, fields missing or unknown).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_NAMES } from '../../src/hash/index.js';
import { parseAnyMputItem, parseCanonicalMputItem, formatMputItem, type MputItem } from '../../src/protocol/batch.js';
import { formatEntry, parseAnyEntry, parseEntry, parseFormattedEntry, type ListEntry } from '../../src/protocol/entry.js';
import { formatOk } from '../../src/protocol/response.js';
import { okFields } from '../../src/client/connection.js';
import { parseFormattedGetHeader, parseFormattedGetTrailer, readGetHeader, readGetTrailer } from '../../src/protocol/replies.js';
import { getHeaderOf, getTrailerOf } from '../../src/client/download.js';

/** What a parser made of a line: its value, or the class and message of what it threw. */
function outcome<T>(parse: () => T): { value: T } | { error: string } {
  try {
    return { value: parse() };
  } catch (err) {
    return { error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

const segment = fc
  .string({ unit: fc.constantFrom('a', 'Z', '0', '.', '-', '_', ' ', '%', '=', 'é', '数', '😀', '#'), minLength: 1, maxLength: 8 })
  .filter((s) => s !== '.' && s !== '..');
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const uint = fc.oneof(fc.nat({ max: 5000 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }));
const mode = fc.integer({ min: 0, max: 0o7777 });

const listEntry: fc.Arbitrary<ListEntry> = fc.oneof(
  fc.record({ path: relPath, type: fc.constant('file' as const), size: uint, mtimeMs: uint, mode }),
  fc.record({ path: relPath, type: fc.constant('dir' as const), size: fc.constant(null), mtimeMs: uint, mode }),
  fc.record({ path: relPath, type: fc.constant('link' as const), size: fc.constant(null), target: fc.oneof(relPath, fc.constant('')), mtimeMs: uint, mode }),
);

const mputItem: fc.Arbitrary<MputItem> = fc.record({
  path: relPath,
  size: uint,
  digest: fc.stringMatching(/^[0-9a-f]{64}$/),
  mtime: fc.option(uint),
  mode: fc.option(mode),
});

/** A formatted line bent one way or another: what a peer that is not tcpsend, or a broken one, may send. */
const bent = (line: string) =>
  fc.oneof(
    fc.constant(line),
    // Fields moved: the last one first.
    fc.constant(line.replace(/^(\S+)(.*) (\S+)$/, '$1 $3$2')),
    // Spaces doubled, or a tab where a space was.
    fc.nat({ max: 6 }).map((n) => line.split(' ').map((t, i) => (i === n ? `${t} ` : t)).join(' ')),
    fc.constant(line.replace(' ', '\t')),
    // A number made too big, zero-padded, or negative.
    fc.constantFrom('9007199254740992', '9007199254740991', '99999999999999999', '007', '0', '-1', '1e3').chain((n) =>
      fc.constantFrom('size', 'mtime').map((key) => line.replace(new RegExp(`${key}=\\d+`), `${key}=${n}`)),
    ),
    // A mode out of range or not octal.
    fc.constantFrom('8', '17777', '', '0644', '7777').map((m) => line.replace(/mode=\d+/, `mode=${m}`)),
    // A field dropped, doubled, or added.
    fc.constantFrom('size', 'mtime', 'mode', 'target', 'type').map((key) => line.replace(new RegExp(` ${key}=\\S*`), '')),
    fc.constantFrom('size=1', 'mtime=2', 'mode=644', 'x=1', 'type=file', 'target=a').map((field) => `${line} ${field}`),
    // A type nobody knows; a bad escape in the path or the target.
    fc.constant(line.replace(/type=\w+/, 'type=fifo')),
    fc.constant(line.replace(/^(\S+)/, '$1%G1')),
    fc.constant(line.replace(/target=(\S*)/, 'target=$1%ZZ')),
    fc.constant(line.replace(/^(\S+)/, '$1%C0%80')),
  );

describe('the LIST entry fast path', () => {
  it('gives what the general parser gives, on formatted lines and bent ones', () => {
    fc.assert(
      fc.property(listEntry.chain((entry) => bent(formatEntry(entry)).map((line) => ({ entry, line }))), ({ line }) => {
        const fast = outcome(() => parseFormattedEntry(line));
        const general = outcome(() => parseAnyEntry(line));
        if ('value' in fast && fast.value === null) {
          expect(outcome(() => parseEntry(line))).toEqual(general);
          return;
        }
        expect(fast).toEqual(general);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads every line formatEntry writes, as the entry it was', () => {
    fc.assert(
      fc.property(listEntry, (entry) => {
        const line = formatEntry(entry);
        expect(parseFormattedEntry(line)).toEqual(entry);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the MPUT item fast path', () => {
  const cases = fc
    .tuple(fc.constantFrom(...CHECKSUM_NAMES), fc.constantFrom(...CHECKSUM_NAMES), mputItem)
    .chain(([written, read, item]) => bent(formatMputItem(item, written)).map((line) => ({ line, read, item, same: written === read })));

  it('gives what the general parser gives, on formatted lines and bent ones, whichever checksum each side names', () => {
    fc.assert(
      fc.property(cases, ({ line, read }) => {
        const fast = parseCanonicalMputItem(line, read);
        if (fast === null) return;
        expect(fast).toEqual(parseAnyMputItem(line, read));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads every line formatMputItem writes, as the item it was', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CHECKSUM_NAMES), mputItem, (checksum, item) => {
        expect(parseCanonicalMputItem(formatMputItem(item, checksum), checksum)).toEqual({ size: item.size, item, error: null });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the GET header and trailer fast paths', () => {
  const header = fc
    .record({ size: uint, mtime: uint, mode, digest: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/)) })
    .chain(({ size, ...rest }) => fc.nat({ max: size }).chain((offset) => fc.nat({ max: size - offset }).map((length) => ({ size, offset, length, ...rest }))));
  /** A header line as the server writes it (src/server/reply.ts), bent as `bent` bends lines, and a few more ways. */
  const headerLines = fc.tuple(fc.constantFrom(...CHECKSUM_NAMES), fc.constantFrom(...CHECKSUM_NAMES), header).chain(([written, read, h]) => {
    const line = formatOk({ size: h.size, offset: h.offset, length: h.length, mtime: h.mtime, mode: h.mode, [written]: h.digest });
    return fc
      .oneof(
        bent(line),
        fc.constantFrom(line.replace(/offset=\d+/, 'offset=99999999'), line.replace(/length=\d+/, 'length=99999999'), line.toUpperCase(), `${line} `, 'ERR NOT_FOUND no such file', line.replace(/[0-9a-f]{64}/, (d) => d.toUpperCase()), line.replace(/ (sha256|blake3)=/, ' foo='), `${line} foo=${'ab'.repeat(32)}`),
      )
      .map((bentLine) => ({ line: bentLine, read }));
  });

  it('a header: gives what the general reader gives, on formatted lines and bent ones, whichever checksum each side names', () => {
    fc.assert(
      fc.property(headerLines, ({ line, read }) => {
        const slow = outcome(() => readGetHeader(okFields(line), read));
        expect(outcome(() => getHeaderOf(read)(line))).toEqual(slow);
        const fast = parseFormattedGetHeader(line, read);
        if (fast !== null) expect({ value: fast }).toEqual(slow);
      }),
      { numRuns: 3000 },
    );
  });

  it('a trailer: the same, on formatted lines and bent ones', () => {
    const lines = fc
      .tuple(fc.constantFrom(...CHECKSUM_NAMES), fc.constantFrom(...CHECKSUM_NAMES), fc.stringMatching(/^[0-9a-f]{64}$/))
      .chain(([written, read, digest]) => {
        const line = formatOk({ [written]: digest });
        return fc.constantFrom(line, `${line} x=1`, line.toUpperCase(), line.replace('OK ', 'OK  '), line.slice(0, -1), `OK x=1 ${written}=${digest}`).map((l) => ({ line: l, read }));
      });
    fc.assert(
      fc.property(lines, ({ line, read }) => {
        const slow = outcome(() => readGetTrailer(okFields(line), read).digest);
        expect(outcome(() => getTrailerOf(read)(line))).toEqual(slow);
        const fast = parseFormattedGetTrailer(line, read);
        if (fast !== null) expect({ value: fast.digest }).toEqual(slow);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every header and trailer a server writes, and the client reads each as the general reader does', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CHECKSUM_NAMES), header, (checksum, h) => {
        const line = formatOk({ size: h.size, offset: h.offset, length: h.length, mtime: h.mtime, mode: h.mode, [checksum]: h.digest });
        const read = { size: h.size, offset: h.offset, length: h.length, mtimeMs: h.mtime, mode: h.mode, digest: h.digest };
        expect(parseFormattedGetHeader(line, checksum)).toEqual(read);
        expect(getHeaderOf(checksum)(line)).toEqual(read);
        const trailer = formatOk({ [checksum]: h.digest ?? '0'.repeat(64) });
        expect(parseFormattedGetTrailer(trailer, checksum)).toEqual({ digest: h.digest ?? '0'.repeat(64) });
        expect(getTrailerOf(checksum)(trailer)).toBe(h.digest ?? '0'.repeat(64));
      }),
      { numRuns: 1000 },
    );
  });
});
