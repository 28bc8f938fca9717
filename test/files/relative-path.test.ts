import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadPathError, TcpsendError } from '../../src/errors.js';
import { MAX_NAME_BYTES, toSegments } from '../../src/files/index.js';

const SHA = 'ab'.repeat(32);

describe('toSegments: accepted paths', () => {
  const accepted: Array<[string, string[]]> = [
    ['', []],
    ['/', []],
    ['.', []],
    ['/./', []],
    ['a.txt', ['a.txt']],
    ['/a.txt', ['a.txt']],
    ['a/b/c', ['a', 'b', 'c']],
    ['a//b///c/', ['a', 'b', 'c']],
    ['./a/./b/.', ['a', 'b']],
    ['.hidden', ['.hidden']],
    ['...hidden', ['...hidden']],
    ['a..b', ['a..b']],
    [' leading space', [' leading space']],
    ['数据 1.txt', ['数据 1.txt']],
    ['café', ['café']], // NFC: U+00E9
    ['file:name', ['file:name']],
    ['ab:', ['ab:']], // two letters: not a drive
    ['CONSOLE', ['CONSOLE']],
    ['COM10', ['COM10']],
    ['lpt', ['lpt']],
    ['nul-ish.txt', ['nul-ish.txt']],
    ['Wait….txt', ['Wait….txt']], // U+2026 is not folded by Windows into dots
    ['a'.repeat(MAX_NAME_BYTES), ['a'.repeat(MAX_NAME_BYTES)]],
    ['é'.repeat(127), ['é'.repeat(127)]], // 254 bytes
    ['a/'.repeat(2047) + 'b', [...Array<string>(2047).fill('a'), 'b']], // 4095 bytes
  ];
  it.each(accepted)('%j → %j', (path, segments) => {
    expect(toSegments(path)).toEqual(segments);
  });
});

describe('toSegments: refused paths', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['..', 'parent segment', /'\.\.'/],
    ['../etc/passwd', 'leading parent', /'\.\.'/],
    ['a/../../b', 'inner parent', /'\.\.'/],
    ['/..', 'rooted parent', /'\.\.'/],
    ['a/..', 'trailing parent', /'\.\.'/],
    ['a\\b', 'backslash', /backslash/],
    ['..\\x', 'backslash traversal', /backslash/],
    ['\\\\server\\share', 'UNC with backslashes', /backslash/],
    ['//server/share', 'UNC with slashes', /'\/\/'/],
    ['a\0b', 'NUL', /NUL/],
    ['a\nb', 'LF', /control character U\+000A/],
    ['a\rb', 'CR', /control character U\+000D/],
    ['a\tb', 'tab', /control character/],
    ['\x1b[31m', 'escape', /control character U\+001B/],
    ['a\x7fb', 'DEL', /control character U\+007F/],
    ['a\x85b', 'C1 NEL', /control character U\+0085/],
    ['a\x9fb', 'C1 end', /control character U\+009F/],
    ['C:', 'bare drive', /drive letter/],
    ['C:/Windows', 'drive path', /drive letter/],
    ['/c:x', 'rooted drive-relative', /drive letter/],
    ['d/Z:stream', 'drive letter in a later segment', /drive letter/],
    ['CON', 'CON', /reserved device name/],
    ['con', 'con lower case', /reserved device name/],
    ['PRN.txt', 'PRN with extension', /reserved device name/],
    ['aux.tar.gz', 'AUX with two extensions', /reserved device name/],
    ['dir/NUL', 'NUL in a folder', /reserved device name/],
    ['Nul .txt', 'NUL with a space before the extension', /reserved device name/],
    ['COM1', 'COM1', /reserved device name/],
    ['com9.log', 'COM9', /reserved device name/],
    ['LPT5', 'LPT5', /reserved device name/],
    ['lpt1.x', 'LPT1', /reserved device name/],
    ['COM¹', 'COM superscript one', /reserved device name/],
    ['CONIN$', 'CONIN$', /reserved device name/],
    ['a.', 'trailing dot', /ends in a dot or a space/],
    ['a...', 'trailing dots', /ends in a dot or a space/],
    ['...', 'three dots', /ends in a dot or a space/],
    ['a ', 'trailing space', /ends in a dot or a space/],
    ['dir. /x', 'folder with a trailing dot and space', /ends in a dot or a space/],
    ['cafe\u0301', 'NFD', /normalization form C/],
    ['A\u030a', 'decomposed Å', /normalization form C/],
    ['\uff0e\uff0e/x', 'fullwidth dots', /U\+FF0E/],
    ['a\uff0fb', 'fullwidth solidus', /U\+FF0F/],
    ['a\uff3cb', 'fullwidth reverse solidus', /U\+FF3C/],
    ['\u2024\u2024', 'one dot leaders', /U\+2024/],
    ['\u2025', 'two dot leader', /U\+2025/],
    ['\ufe52\ufe52', 'small full stops', /U\+FE52/],
    ['a\u2215b', 'division slash', /U\+2215/],
    ['a\ud800b', 'lone surrogate', /lone surrogate/],
    ['a'.repeat(MAX_NAME_BYTES + 1), 'name of 256 bytes', /longer than 255 bytes/],
    ['é'.repeat(128), 'name of 256 UTF-8 bytes', /longer than 255 bytes/],
    ['a/'.repeat(2048) + 'b', 'path over 4096 bytes', /longer than 4096 bytes/],
  ];
  it.each(refused)('%j (%s)', (path, _why, message) => {
    let caught: unknown;
    try {
      toSegments(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BadPathError);
    expect((caught as BadPathError).code).toBe('TCPSEND_ERR_BAD_PATH');
    expect((caught as BadPathError).message).toMatch(message);
  });

  it('never echoes a control character in its message', () => {
    try {
      toSegments('evil\r\nERR FAKE');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toMatch(/[\r\n]/);
      expect((err as Error).message).toContain('\\x0d');
    }
  });
});

describe('toSegments: property', () => {
  function checkResult(path: string): void {
    let segments: string[];
    try {
      segments = toSegments(path);
    } catch (err) {
      expect(err).toBeInstanceOf(TcpsendError);
      expect((err as TcpsendError).code).toBe('TCPSEND_ERR_BAD_PATH');
      return;
    }
    for (const segment of segments) {
      expect(segment).not.toBe('');
      expect(segment).not.toBe('.');
      expect(segment).not.toBe('..');
      expect(segment).not.toMatch(/[/\\\0]/);
    }
  }

  it('any string: throws BadPathError or yields only plain names', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), checkResult), {
      numRuns: 2000,
    });
  });

  it('path-like strings built from dangerous pieces', () => {
    const piece = fc.constantFrom(
      'a', 'b.txt', '.', '..', '...', '/', '//', '\\', '\0', 'C:', 'con', 'x.', 'y ', '\uff0e',
      '\u2024', 'e\u0301', '\n', '%2e', '数据', ' ',
    );
    fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => checkResult(pieces.join(''))), {
      numRuns: 3000,
    });
  });

  it('no accepted path rebuilds into one with a traversal', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (path) => {
        try {
          const joined = toSegments(path).join('/');
          expect(joined.split('/')).not.toContain('..');
          expect(toSegments(joined).join('/')).toBe(joined); // idempotent
        } catch (err) {
          expect(err).toBeInstanceOf(BadPathError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

