import { describe, expect, it } from 'vitest';
import { BadPathError, BadRequestError, UsageError } from '../../src/errors.js';
import { decodePath, decodeValue, encodePath, encodeValue } from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

describe('encodePath', () => {
  it('leaves the allowed set as it is', () => {
    const allowed = "AZaz09-._~/!$&'()*+,;:@";
    expect(encodePath(allowed)).toBe(allowed);
  });

  it('escapes space, =, %, CR, LF and other ASCII outside the set, in upper-case hex', () => {
    expect(encodePath('a b=c%d\r\n')).toBe('a%20b%3Dc%25d%0D%0A');
    expect(encodePath('"#?<>[]\\^`{|}\t\0\x7f')).toBe(
      '%22%23%3F%3C%3E%5B%5D%5C%5E%60%7B%7C%7D%09%00%7F',
    );
  });

  it('escapes every byte of non-ASCII UTF-8 (the example in protocol.md)', () => {
    expect(encodePath('数据 1.txt')).toBe('%E6%95%B0%E6%8D%AE%201.txt');
    expect(encodePath('😀')).toBe('%F0%9F%98%80');
    expect(encodePath('é')).toBe('%C3%A9');
  });

  it('keeps a leading / and adds or removes nothing', () => {
    expect(encodePath('/a.txt')).toBe('/a.txt');
    expect(encodePath('a.txt')).toBe('a.txt');
    expect(encodePath('//a//b/')).toBe('//a//b/');
  });

  it('refuses a lone surrogate, which has no UTF-8 form', () => {
    expectError(() => encodePath('a\ud800b'), BadPathError);
    expectError(() => encodePath('\udc00'), BadPathError);
  });
});

describe('decodePath', () => {
  it('decodes %XX, in upper or lower case', () => {
    expect(decodePath('%E6%95%B0%E6%8D%AE%201.txt')).toBe('数据 1.txt');
    expect(decodePath('a%3db%2fc')).toBe('a=b/c');
  });

  it('accepts raw non-ASCII UTF-8, mixed with escapes', () => {
    expect(decodePath('数据%201.txt')).toBe('数据 1.txt');
    expect(decodePath('😀%F0%9F%98%80')).toBe('😀😀');
  });

  it('accepts raw ASCII outside the encoded set (the storage layer judges the path)', () => {
    expect(decodePath('a"b#c?')).toBe('a"b#c?');
    expect(decodePath('%2E%2E/x')).toBe('../x');
  });

  it('keeps a leading byte-order mark', () => {
    expect(decodePath('%EF%BB%BFa')).toBe('\ufeffa');
  });

  it.each([
    ['%', 'a lone %'],
    ['a%', 'a % at the end'],
    ['%4', 'one hex digit'],
    ['%G0', 'a non-hex digit'],
    ['%0G', 'a non-hex second digit'],
    ['% 20', 'a space after %'],
    ['%%41', 'a %% pair'],
  ])('refuses the bad escape %s (%s) with BAD_PATH', (token) => {
    expectError(() => decodePath(token), BadPathError);
  });

  it.each([
    ['%C0%AE', 'overlong "."'],
    ['%C0%AF', 'overlong "/"'],
    ['%E0%80%AE', 'three-byte overlong "."'],
    ['%F0%80%80%AE', 'four-byte overlong "."'],
    ['%C0%80', 'overlong NUL'],
    ['%80', 'a lone continuation byte'],
    ['%E6%95', 'a truncated sequence'],
    ['%ED%A0%80', 'an encoded surrogate'],
    ['%F4%90%80%80', 'a code point past U+10FFFF'],
    ['%FF', 'a byte never in UTF-8'],
  ])('refuses %s (%s) with BAD_PATH', (token) => {
    expectError(() => decodePath(token), BadPathError);
  });

  it('refuses a raw lone surrogate and an empty path', () => {
    expectError(() => decodePath('a\ud800'), BadPathError);
    expectError(() => decodePath('%41\udfff'), BadPathError);
    expectError(() => decodePath(''), BadPathError);
  });
});

describe('encodeValue / decodeValue', () => {
  it('round-trips values, including the empty one', () => {
    for (const value of ['', 'tcpsend/0.1.0', 'range,sha256', 'a b=c%d', '名字 😀', '\r\n']) {
      expect(decodeValue(encodeValue(value))).toBe(value);
    }
    expect(encodeValue('')).toBe('');
    expect(encodeValue('tcpsend/0.1.0')).toBe('tcpsend/0.1.0');
  });

  it('refuses bad escapes and bad UTF-8 with BAD_REQUEST', () => {
    expectError(() => decodeValue('%2'), BadRequestError);
    expectError(() => decodeValue('%C0%AE'), BadRequestError);
  });

  it('refuses to encode a lone surrogate', () => {
    expectError(() => encodeValue('\ud800'), UsageError);
  });
});
