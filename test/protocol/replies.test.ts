import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import {
  parseResponse,
  readGetHeader,
  readGetTrailer,
  readHashResult,
  readHelloReply,
  readPutOffer,
  readPutResult,
  readStat,
} from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

const SHA = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

/** The fields of an OK line. */
function ok(line: string): Map<string, string> {
  const res = parseResponse(line);
  if (!res.ok) throw new Error(`not OK: ${line}`);
  return res.fields;
}

describe('readGetHeader', () => {
  it('reads the header, with and without sha256', () => {
    const header = readGetHeader(ok('OK size=6 offset=0 length=6 mtime=1763750000000 mode=644'), 'sha256');
    expect(header).toEqual({
      size: 6,
      offset: 0,
      length: 6,
      mtimeMs: 1763750000000,
      mode: 0o644,
      digest: null,
    });
    expect(
      readGetHeader(
        ok(`OK size=10 offset=4 length=6 mtime=1 mode=600 sha256=${SHA.toUpperCase()}`),
        'sha256',
      ),
    ).toMatchObject({ offset: 4, length: 6, digest: SHA });
    expect(readGetHeader(ok('OK size=0 offset=0 length=0 mtime=1 mode=600'), 'sha256')).toMatchObject({
      size: 0,
    });
  });

  it.each([
    'OK offset=0 length=6 mtime=1 mode=644',
    'OK size=6 length=6 mtime=1 mode=644',
    'OK size=6 offset=0 mtime=1 mode=644',
    'OK size=6 offset=0 length=6 mode=644',
    'OK size=6 offset=0 length=6 mtime=1',
    'OK size=6 offset=0 length=6 mtime=1 mode=644 sha256=abc',
    'OK size=6 offset=01 length=6 mtime=1 mode=644',
    // A server that lies about the range:
    'OK size=6 offset=7 length=0 mtime=1 mode=644',
    'OK size=6 offset=2 length=5 mtime=1 mode=644',
  ])('refuses %j with PROTOCOL', (line) => {
    expectError(() => readGetHeader(ok(line), 'sha256'), ProtocolError);
  });
});

describe('readGetTrailer and readPutResult', () => {
  it('read the SHA-256 (and size)', () => {
    expect(readGetTrailer(ok(`OK sha256=${SHA}`), 'sha256')).toEqual({ digest: SHA });
    expect(readPutResult(ok(`OK size=1000 sha256=${SHA}`), 'sha256')).toEqual({ size: 1000, digest: SHA });
  });

  it('refuse missing or bad fields with PROTOCOL', () => {
    expectError(() => readGetTrailer(ok('OK'), 'sha256'), ProtocolError);
    expectError(() => readGetTrailer(ok('OK sha256=xyz'), 'sha256'), ProtocolError);
    expectError(() => readPutResult(ok(`OK sha256=${SHA}`), 'sha256'), ProtocolError);
    expectError(() => readPutResult(ok('OK size=1'), 'sha256'), ProtocolError);
  });
});

describe('readHashResult', () => {
  it('reads the answer', () => {
    expect(readHashResult(ok(`OK sha256=${SHA} offset=2 length=3 size=5`), 'sha256')).toEqual({
      digest: SHA,
      offset: 2,
      length: 3,
      size: 5,
    });
  });

  it('refuses a range outside the size, and missing fields', () => {
    expectError(
      () => readHashResult(ok(`OK sha256=${SHA} offset=2 length=4 size=5`), 'sha256'),
      ProtocolError,
    );
    expectError(() => readHashResult(ok(`OK offset=2 length=3 size=5`), 'sha256'), ProtocolError);
  });
});

describe('readPutOffer', () => {
  it('reads a fresh start, a resume offer and an identical file', () => {
    expect(readPutOffer(ok('OK offset=0'), 'sha256')).toEqual({
      offset: 0,
      partDigest: null,
      identical: false,
    });
    expect(readPutOffer(ok(`OK offset=400 part_sha256=${SHA}`), 'sha256')).toEqual({
      offset: 400,
      partDigest: SHA,
      identical: false,
    });
    expect(readPutOffer(ok('OK offset=1000 identical=1'), 'sha256')).toEqual({
      offset: 1000,
      partDigest: null,
      identical: true,
    });
  });

  it.each([
    'OK',
    'OK offset=-1',
    'OK offset=400',
    'OK offset=400 part_sha256=abc',
    'OK offset=1000 identical=yes',
  ])('refuses %j with PROTOCOL', (line) => {
    expectError(() => readPutOffer(ok(line), 'sha256'), ProtocolError);
  });
});

describe('readStat', () => {
  it('reads a file and a folder', () => {
    expect(readStat(ok(`OK type=file size=6 mtime=5 mode=644 sha256=${SHA}`), 'sha256')).toEqual({
      type: 'file',
      size: 6,
      mtimeMs: 5,
      mode: 0o644,
      digest: SHA,
    });
    expect(readStat(ok('OK type=dir mtime=5 mode=755'), 'sha256')).toEqual({
      type: 'dir',
      size: null,
      mtimeMs: 5,
      mode: 0o755,
      digest: null,
    });
  });

  it.each([
    'OK',
    'OK type=link mtime=5 mode=644',
    'OK type=file mtime=5 mode=644',
    'OK type=dir mode=755',
    'OK type=dir mtime=5',
    'OK type=dir mtime=5 mode=8',
    'OK type=file size=1 mtime=5 mode=644 sha256=00',
  ])('refuses %j with PROTOCOL', (line) => {
    expectError(() => readStat(ok(line), 'sha256'), ProtocolError);
  });
});

describe('digests keyed by the checksum asked for', () => {
  it('reads blake3= when the request named blake3, and refuses a sha256= answer to it', () => {
    expect(readGetTrailer(ok(`OK blake3=${SHA}`), 'blake3')).toEqual({ digest: SHA });
    expect(readPutOffer(ok(`OK offset=4 part_blake3=${SHA}`), 'blake3')).toMatchObject({ partDigest: SHA });
    expect(readStat(ok(`OK type=file size=6 mtime=5 mode=644 blake3=${SHA}`), 'blake3')).toMatchObject({ digest: SHA });
    expectError(() => readGetTrailer(ok(`OK sha256=${SHA}`), 'blake3'), ProtocolError);
    expectError(() => readPutOffer(ok(`OK offset=4 part_sha256=${SHA}`), 'blake3'), ProtocolError);
  });
});

describe('readHelloReply', () => {
  it('reads the version', () => {
    expect(readHelloReply(ok('OK version=1'))).toEqual({ version: 1 });
    expectError(() => readHelloReply(ok('OK')), ProtocolError);
    expectError(() => readHelloReply(ok('OK version=v1')), ProtocolError);
  });
});
