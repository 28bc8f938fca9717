/** The checksum algorithms, the choice between two peers' lists, and their names in HTTP. */
import { describe, expect, it } from 'vitest';
import {
  availableChecksums,
  checksumAlgorithm,
  chooseChecksum,
  createHasher,
  httpDigestName,
  parseChecksumList,
  reprDigest,
} from '../../src/hash/index.js';

describe('the algorithms', () => {
  // Known answers: `printf hello | b3sum` and `printf hello | sha256sum`.
  it.each([
    ['blake3', 'hello', 'ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f'],
    ['blake3', '', 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'],
    ['sha256', 'hello', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
  ] as const)('%s of %j', (name, text, hex) => {
    expect(checksumAlgorithm(name).digestOf(Buffer.from(text))).toBe(hex);
    const hasher = createHasher(name);
    for (const byte of Buffer.from(text)) hasher.update(Buffer.from([byte]));
    expect(hasher.digest()).toBe(hex);
  });

  it.each(['blake3', 'sha256'] as const)('%s: peek gives the digest so far and the hash goes on', (name) => {
    const hasher = createHasher(name).update(Buffer.from('hel'));
    expect(hasher.peek()).toBe(checksumAlgorithm(name).digestOf(Buffer.from('hel')));
    hasher.update(Buffer.from('lo'));
    expect(hasher.digest()).toBe(checksumAlgorithm(name).digestOf(Buffer.from('hello')));
  });

  it('has BLAKE3 here (the native module ships a binary for this platform), best first', () => {
    expect(availableChecksums()).toEqual(['blake3', 'sha256']);
  });
});

describe('choosing', () => {
  it('takes the best algorithm both lists have', () => {
    expect(chooseChecksum(['blake3', 'sha256'], ['sha256', 'blake3'])).toBe('blake3');
    expect(chooseChecksum(['blake3', 'sha256'], ['sha256'])).toBe('sha256');
    expect(chooseChecksum(['sha256'], ['blake3', 'sha256'])).toBe('sha256');
    expect(chooseChecksum(['blake3'], ['sha256'])).toBeNull();
  });

  it('reads a peer\'s list: unknown names ignored, none given means an older peer (SHA-256)', () => {
    expect(parseChecksumList('xxh128,blake3,sha256')).toEqual(['blake3', 'sha256']);
    expect(parseChecksumList(undefined)).toEqual(['sha256']);
    expect(parseChecksumList('')).toEqual([]);
  });
});

describe('HTTP digest fields (RFC 9530)', () => {
  it('names SHA-256 as registered and BLAKE3 by its own name, with the digest in base64', () => {
    expect(httpDigestName('sha256')).toBe('sha-256');
    expect(httpDigestName('blake3')).toBe('blake3');
    // RFC 9530's own example: the SHA-256 of an empty body.
    expect(reprDigest('sha256', checksumAlgorithm('sha256').digestOf(Buffer.alloc(0)))).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
    expect(reprDigest('blake3', 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')).toBe(
      `blake3=:${Buffer.from('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262', 'hex').toString('base64')}:`,
    );
  });
});
