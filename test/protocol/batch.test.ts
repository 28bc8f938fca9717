/** The item lines of MGET and MPUT (src/protocol/batch.ts): pure parse and format. */
import type { ChecksumName } from '../../src/hash/index.js';
import { describe, expect, it } from 'vitest';
import { BadPathError, BadRequestError } from '../../src/errors.js';
import {
  MAX_BATCH_ITEMS,
  MAX_MPUT_ITEM_BYTES,
  formatMgetItem,
  formatMputItem,
  joinItemPath,
  parseMgetItem,
  parseMputItem,
  type MputItem,
} from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

const SHA = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

/** Relative paths that must survive the wire unchanged: each holds something to escape. */
const PATHS = [
  'a.txt',
  'my file.txt',
  'a=b.txt',
  'size=3',
  '100%.txt',
  '%41',
  '%2F',
  '数据 1.txt',
  '😀/🎉 x=y.bin',
  'dir/sub dir/x',
  ' lead and trail ',
  "!$&'()*+,;:@~",
  'line\r\nbreak',
  'tab\there',
];

describe('MGET item lines', () => {
  it.each(PATHS)('round-trips %j', (path) => {
    const line = formatMgetItem(path);
    // One token: no space, no CR or LF, nothing a reader could take for a field.
    expect(line).toMatch(/^[^ \r\n=]+$/);
    expect(parseMgetItem(line)).toBe(path);
  });

  it('escapes exactly as the protocol says', () => {
    expect(formatMgetItem('数据 1.txt')).toBe('%E6%95%B0%E6%8D%AE%201.txt');
    expect(formatMgetItem('a=b%.txt')).toBe('a%3Db%25.txt');
    expect(formatMgetItem('sub/plain-name_1.txt')).toBe('sub/plain-name_1.txt');
  });

  it('accepts lower-case hex and raw UTF-8, and ignores fields after the path', () => {
    expect(parseMgetItem('%e6%95%b0')).toBe('数');
    expect(parseMgetItem('数据.txt')).toBe('数据.txt');
    expect(parseMgetItem('  a.txt  ')).toBe('a.txt');
    expect(parseMgetItem('a.txt future=1 other=x')).toBe('a.txt');
  });

  it.each([
    ['/abs.txt', BadPathError],
    ['/', BadPathError],
    ['%2Fabs.txt', BadPathError], // an escaped leading '/' is still absolute
    ['%ZZ', BadPathError],
    ['%E6%95', BadPathError], // escapes that are not whole UTF-8
    ['%C0%AF', BadPathError], // an overlong '/'
    ['', BadRequestError],
    ['   ', BadRequestError],
    ['size=3', BadRequestError], // a field where the path should be
  ] as const)('refuses %j', (line, cls) => {
    expectError(() => parseMgetItem(line), cls);
  });
});

/** The item an MPUT line names (its own error thrown, for the round trips). */
function itemOf(line: string, checksum: ChecksumName = 'sha256'): MputItem {
  const parsed = parseMputItem(line, checksum);
  if (parsed.error) throw parsed.error;
  return parsed.item;
}

describe('MPUT item lines', () => {
  const item = (path: string, extra: Partial<MputItem> = {}): MputItem => ({
    path,
    size: 12,
    digest: SHA,
    mtime: null,
    mode: null,
    ...extra,
  });

  it.each(PATHS)('round-trips %j', (path) => {
    const full = item(path, { size: 1_048_576, mtime: 1_763_750_000_123, mode: 0o640 });
    expect(itemOf(formatMputItem(full, 'sha256'))).toEqual(full);
    const bare = item(path, { size: 0 });
    expect(itemOf(formatMputItem(bare, 'sha256'))).toEqual(bare);
    expect(itemOf(formatMputItem(full, 'blake3'), 'blake3')).toEqual(full);
  });

  it('formats fields in order, mode in octal, and leaves out what is not known', () => {
    expect(formatMputItem(item('a b=c.txt', { mtime: 1_700_000_000_000, mode: 0o644 }), 'sha256')).toBe(
      `a%20b%3Dc.txt size=12 sha256=${SHA} mtime=1700000000000 mode=644`,
    );
    expect(formatMputItem(item('x'), 'sha256')).toBe(`x size=12 sha256=${SHA}`);
    expect(formatMputItem(item('x', { mode: 0o7 }), 'sha256')).toBe(`x size=12 sha256=${SHA} mode=7`);
  });

  it('parses what a person would type: raw UTF-8, upper-case hex, any field order, extra spaces', () => {
    expect(itemOf(`数据.txt  mode=600 sha256=${SHA.toUpperCase()}   size=5 mtime=0`)).toEqual({
      path: '数据.txt',
      size: 5,
      digest: SHA,
      mtime: 0,
      mode: 0o600,
    });
  });

  it('reads a line as formatMputItem writes it as it reads the same fields in any order', () => {
    for (const extra of [{}, { mtime: 0 }, { mode: 0o7 }, { mtime: 1_763_750_000_123, mode: 0o640 }]) {
      const full = item('d/数据 1.txt', { size: 9_007_199_254_740_991, ...extra });
      const line = formatMputItem(full, 'blake3');
      const [path, ...fields] = line.split(' ');
      expect(parseMputItem(line, 'blake3')).toEqual({ size: full.size, item: full, error: null });
      expect(parseMputItem(`${path}  ${fields.reverse().join('  ')}`, 'blake3')).toEqual({ size: full.size, item: full, error: null });
    }
  });

  it('ignores fields it does not know', () => {
    expect(itemOf(`a.txt size=1 sha256=${SHA} future=yes x_2=%41`)).toEqual(item('a.txt', { size: 1 }));
  });

  // `size` says how many bytes follow, so an item whose path, mtime or mode is wrong can still
  // be read past: its error is the item's (answered in turn), not the whole request's.
  it.each([
    [`/abs.txt size=1 sha256=${SHA}`, BadPathError],
    [`%2Fabs.txt size=1 sha256=${SHA}`, BadPathError],
    [`%ZZ size=1 sha256=${SHA}`, BadPathError],
    [`a.txt size=1 sha256=${SHA} mtime=-5`, BadRequestError],
    [`a.txt size=1 sha256=${SHA} mode=800`, BadRequestError],
    [`a.txt size=1 sha256=${SHA} mode=12345`, BadRequestError],
  ] as const)('keeps the size of %j and gives the item its own error', (line, cls) => {
    const parsed = parseMputItem(line, 'sha256');
    expect(parsed.size).toBe(1);
    expect(parsed.item).toBeNull();
    expect(parsed.error).toBeInstanceOf(cls);
  });

  it.each([
    ['', BadRequestError],
    ['  ', BadRequestError],
    [`size=1 sha256=${SHA}`, BadRequestError], // no path
    [`a.txt sha256=${SHA}`, BadRequestError], // no size
    ['a.txt size=1', BadRequestError], // no sha256
    ['a.txt', BadRequestError],
    [`a.txt size=1 sha256=${SHA.slice(1)}`, BadRequestError], // 63 digits
    [`a.txt size=1 sha256=${SHA}0`, BadRequestError], // 65 digits
    [`a.txt size=1 sha256=${'g'.repeat(64)}`, BadRequestError],
    [`a.txt size=1 sha256=`, BadRequestError],
    [`a.txt size=-1 sha256=${SHA}`, BadRequestError],
    [`a.txt size=01 sha256=${SHA}`, BadRequestError],
    [`a.txt size=1.5 sha256=${SHA}`, BadRequestError],
    [`a.txt size=9007199254740992 sha256=${SHA}`, BadRequestError],
    [`a.txt size=1 size=1 sha256=${SHA}`, BadRequestError], // a key may appear once
    [`a.txt b.txt size=1 sha256=${SHA}`, BadRequestError], // a second path
    [`a.txt size=1 sha256=${SHA} Bad=1`, BadRequestError], // a key that breaks the grammar
  ] as const)('refuses %j', (line, cls) => {
    expectError(() => parseMputItem(line, 'sha256'), cls);
  });

  it('keys the digest by the MPUT\'s checksum, and refuses another algorithm\'s', () => {
    expect(formatMputItem(item('x'), 'blake3')).toBe(`x size=12 blake3=${SHA}`);
    expectError(() => parseMputItem(`x size=1 sha256=${SHA}`, 'blake3'), BadRequestError);
    expectError(() => parseMputItem(`x size=1 blake3=${SHA}`, 'sha256'), BadRequestError);
  });
});

describe('joinItemPath', () => {
  it.each([
    ['/', 'a.txt', '/a.txt'],
    ['', 'a.txt', '/a.txt'],
    ['dir', 'a.txt', 'dir/a.txt'],
    ['/dir', 'sub/a.txt', '/dir/sub/a.txt'],
    ['dir/', 'a.txt', 'dir/a.txt'],
    ['dir///', 'a b.txt', 'dir/a b.txt'],
    ['数据', '😀.bin', '数据/😀.bin'],
  ])('%j + %j → %j', (folder, item, joined) => {
    expect(joinItemPath(folder, item)).toBe(joined);
  });

  it('does not judge the item: a ".." stays for the storage layer to refuse', () => {
    expect(joinItemPath('dir', '../x')).toBe('dir/../x');
  });
});

describe('batch limits', () => {
  it('are the documented ones', () => {
    expect(MAX_BATCH_ITEMS).toBe(10_000);
    expect(MAX_MPUT_ITEM_BYTES).toBe(1024 * 1024);
  });
});
