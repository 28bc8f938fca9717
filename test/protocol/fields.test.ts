import { describe, expect, it } from 'vitest';
import { BadRequestError, UsageError } from '../../src/errors.js';
import {
  formatMode,
  formatDigest,
  formatUint,
  optionalFlag,
  optionalMode,
  optionalDigest,
  optionalString,
  optionalUint,
  parseFlag,
  parseMode,
  parseDigest,
  parseUint,
  requireMode,
  requireDigest,
  requireString,
  requireUint,
} from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

const SHA = 'ab'.repeat(32);

describe('parseUint', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['1000', 1000],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('accepts %s', (text, value) => {
    expect(parseUint('offset', text)).toBe(value);
  });

  it.each([
    '-1',
    '1.5',
    '0x10',
    '+1',
    '01',
    '00',
    '',
    ' 1',
    '1 ',
    '1e3',
    'Infinity',
    'NaN',
    '١',
    '9007199254740992',
    '9007199254740993',
    '99999999999999999999',
  ])('refuses %j with BAD_REQUEST', (text) => {
    expectError(() => parseUint('offset', text), BadRequestError);
  });

  it('names the field and the value', () => {
    const err = expectError(() => parseUint('offset', '-1'), BadRequestError);
    expect(err.message).toBe("offset must be a decimal integer >= 0, got '-1'");
    const big = expectError(() => parseUint('size', '9007199254740992'), BadRequestError);
    expect(big.message).toContain('size');
    expect(big.message).toContain('2^53');
  });

  it('quotes a hostile value safely in the message', () => {
    const err = expectError(() => parseUint('offset', `1\r\n${'9'.repeat(500)}`), BadRequestError);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(err.message.length).toBeLessThan(200);
  });
});

describe('parseDigest', () => {
  it('accepts 64 hex digits and folds upper case', () => {
    expect(parseDigest('sha256', SHA)).toBe(SHA);
    expect(parseDigest('sha256', SHA.toUpperCase())).toBe(SHA);
  });

  it.each(['', 'ab'.repeat(31), `${SHA}0`, `${'ab'.repeat(31)}zz`, ` ${SHA.slice(1)}`])(
    'refuses %j with BAD_REQUEST',
    (text) => {
      const err = expectError(() => parseDigest('sha256', text), BadRequestError);
      expect(err.message).toContain('sha256');
    },
  );
});

describe('parseMode', () => {
  it.each([
    ['644', 0o644],
    ['0', 0],
    ['7', 7],
    ['0755', 0o755],
    ['4755', 0o4755],
    ['7777', 0o7777],
  ])('accepts %s', (text, mode) => {
    expect(parseMode('mode', text)).toBe(mode);
  });

  it.each(['', '8', '649', '17777', '-644', '0o644', 'rw-'])(
    'refuses %j with BAD_REQUEST',
    (text) => {
      expectError(() => parseMode('mode', text), BadRequestError);
    },
  );
});

describe('parseFlag', () => {
  it('reads 1 and 0', () => {
    expect(parseFlag('hash', '1')).toBe(true);
    expect(parseFlag('hash', '0')).toBe(false);
  });

  it.each(['', 'true', 'yes', '2', '01'])('refuses %j with BAD_REQUEST', (text) => {
    expectError(() => parseFlag('hash', text), BadRequestError);
  });
});

describe('formatters', () => {
  it('formats uints and refuses what the peer would refuse', () => {
    expect(formatUint(0)).toBe('0');
    expect(formatUint(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      expectError(() => formatUint(bad), UsageError);
    }
  });

  it('formats modes in octal', () => {
    expect(formatMode(0o644)).toBe('644');
    expect(formatMode(0)).toBe('0');
    expect(formatMode(0o4755)).toBe('4755');
    expectError(() => formatMode(0o100644), UsageError);
    expectError(() => formatMode(-1), UsageError);
  });

  it('formats only lower-case digests', () => {
    expect(formatDigest(SHA)).toBe(SHA);
    expectError(() => formatDigest(SHA.toUpperCase()), UsageError);
    expectError(() => formatDigest('abc'), UsageError);
  });
});

describe('accessors', () => {
  const fields = new Map([
    ['size', '10'],
    ['sha256', SHA],
    ['mode', '644'],
    ['hash', '1'],
    ['client', ''],
  ]);

  it('read present fields', () => {
    expect(requireUint(fields, 'size')).toBe(10);
    expect(optionalUint(fields, 'size')).toBe(10);
    expect(requireDigest(fields, 'sha256', 'PUT')).toBe(SHA);
    expect(optionalDigest(fields, 'sha256')).toBe(SHA);
    expect(requireMode(fields, 'mode')).toBe(0o644);
    expect(optionalMode(fields, 'mode')).toBe(0o644);
    expect(optionalFlag(fields, 'hash')).toBe(true);
    expect(requireString(fields, 'client')).toBe('');
    expect(optionalString(fields, 'client')).toBe('');
  });

  it('give null (or false) for absent optional fields', () => {
    const empty = new Map<string, string>();
    expect(optionalUint(empty, 'x')).toBeNull();
    expect(optionalDigest(empty, 'blake3')).toBeNull();
    expect(optionalMode(empty, 'x')).toBeNull();
    expect(optionalString(empty, 'x')).toBeNull();
    expect(optionalFlag(empty, 'x')).toBe(false);
  });

  it('throw BAD_REQUEST naming an absent required field', () => {
    const empty = new Map<string, string>();
    expect(expectError(() => requireUint(empty, 'size', 'PUT'), BadRequestError).message).toBe(
      'PUT needs size=',
    );
    expect(expectError(() => requireDigest(empty, 'sha256', 'END'), BadRequestError).message).toContain(
      'sha256',
    );
    expectError(() => requireMode(empty, 'mode'), BadRequestError);
    expectError(() => requireString(empty, 'type'), BadRequestError);
  });
});
