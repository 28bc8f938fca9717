/**
 * The one-match readers of the lines a tcpsend peer writes (a LIST entry, an MPUT item) are
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
