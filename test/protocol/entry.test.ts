import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { END_OF_LIST, formatEntry, parseEntry, type ListEntry } from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

describe('LIST entries', () => {
  it('format as in protocol.md', () => {
    expect(
      formatEntry({
        path: 'notes.txt',
        type: 'file',
        size: 6,
        mtimeMs: 1763750000000,
        mode: 0o644,
      }),
    ).toBe('notes.txt type=file size=6 mtime=1763750000000 mode=644');
    expect(
      formatEntry({ path: 'sub', type: 'dir', size: null, mtimeMs: 1763750000000, mode: 0o755 }),
    ).toBe('sub type=dir mtime=1763750000000 mode=755');
  });

  it.each<ListEntry>([
    { path: 'notes.txt', type: 'file', size: 6, mtimeMs: 1763750000000, mode: 0o644 },
    { path: 'sub', type: 'dir', size: null, mtimeMs: 0, mode: 0o755 },
    { path: 'sub/数据 1.txt', type: 'file', size: 0, mtimeMs: 1, mode: 0o600 },
    { path: 'a=b %c\r\n😀', type: 'file', size: 2 ** 53 - 1, mtimeMs: 2, mode: 0o4755 },
    { path: '.', type: 'dir', size: null, mtimeMs: 3, mode: 0 },
  ])('round-trip: $path', (entry) => {
    const line = formatEntry(entry);
    expect(line).not.toBe(END_OF_LIST);
    expect(parseEntry(line)).toEqual(entry);
  });

  it.each<ListEntry>([
    { path: 'to-a', type: 'link', size: null, target: 'a.txt', mtimeMs: 4, mode: 0o777 },
    { path: 'sub/up', type: 'link', size: null, target: '../x y/%25=z 数据', mtimeMs: 5, mode: 0o777 },
  ])('a link (links=1) round-trips with its target: $path', (entry) => {
    const line = formatEntry(entry);
    expect(line).toMatch(/ type=link target=\S+ /);
    expect(parseEntry(line)).toEqual(entry);
  });

  it('a link without target= is a ProtocolError', () => {
    expect(() => parseEntry('to-a type=link mtime=4 mode=777')).toThrow(ProtocolError);
  });

  it('accept fields in any order and ignore unknown ones', () => {
    expect(parseEntry('x mode=644 future=1 mtime=5 size=1 type=file')).toEqual({
      path: 'x',
      type: 'file',
      size: 1,
      mtimeMs: 5,
      mode: 0o644,
    });
  });

  it('read a line of any other spacing as the same entry', () => {
    const entry = { path: 'x', type: 'file', size: 1, mtimeMs: 5, mode: 0o644 };
    for (const line of ['x type=file size=1 mtime=5 mode=644', '  x  type=file size=1  mtime=5 mode=644 ', 'x type=file size=1 mtime=5 mode=644 ']) {
      expect(parseEntry(line), JSON.stringify(line)).toEqual(entry);
    }
  });

  it('end with a line holding a single dot', () => {
    expect(END_OF_LIST).toBe('.');
  });

  it.each([
    '',
    'type=file size=1 mtime=1 mode=644',
    'x type=link mtime=1 mode=644',
    'x type=file mtime=1 mode=644',
    'x type=dir mode=644',
    'x type=dir mtime=1',
    'x type=dir mtime=-1 mode=644',
    'x type=dir mtime=1 mode=9',
    'x type=dir mtime=1 mode=644 mode=644',
    'x y type=dir mtime=1 mode=644',
    '%C0%AE type=dir mtime=1 mode=644',
    '100% type=dir mtime=1 mode=644',
    'x type=file size=9007199254740992 mtime=1 mode=644',
    'x type=file size=1 mtime=9007199254740992 mode=644',
    'x type=file size=01 mtime=1 mode=644',
    'x type=link target=%zz mtime=1 mode=777',
  ])('refuse %j with PROTOCOL', (line) => {
    expectError(() => parseEntry(line), ProtocolError);
  });
});
