import { describe, expect, it } from 'vitest';
import {
  BadPathError,
  BadRequestError,
  UnknownVerbError,
  UsageError,
} from '../../src/errors.js';
import {
  VERBS,
  formatRequest,
  firstLineKind,
  parseRequest,
  selectorPath,
  type Request,
} from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

const SHA = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

const PATHS = [
  'a.txt',
  '/a.txt',
  '/',
  'my file.txt',
  'a=b.txt',
  '100%.txt',
  '%41',
  'line\r\nbreak',
  '数据 1.txt',
  '😀/🎉.bin',
  'dir/sub dir/x',
  ' lead and trail ',
  '.',
  "!$&'()*+,;:@~",
  'tab\there',
  '\ufeffbom',
];

function requestsFor(path: string): Request[] {
  return [
    { verb: 'STAT', path, hash: false, checksum: 'sha256' },
    { verb: 'STAT', path, hash: true, checksum: 'sha256' },
    { verb: 'LIST', path, recursive: false },
    { verb: 'LIST', path, recursive: true },
    { verb: 'GET', path, offset: 0, length: null, checksum: 'sha256', prefixDigest: null },
    { verb: 'GET', path, offset: 400, length: 0, checksum: 'sha256', prefixDigest: SHA },
    { verb: 'HASH', path, offset: 0, length: null, checksum: 'sha256' },
    { verb: 'HASH', path, offset: 10, length: 20, checksum: 'sha256' },
    {
      verb: 'PUT',
      path,
      size: 1000,
      checksum: 'sha256',
      digest: SHA,
      mtime: null,
      mode: null,
      overwrite: false,
      eager: false,
    },
    {
      verb: 'PUT',
      path,
      size: 0,
      checksum: 'sha256',
      digest: SHA,
      mtime: 1763750000000,
      mode: 0o644,
      overwrite: true,
      eager: true,
    },
    { verb: 'MKDIR', path, mtime: null, mode: null },
    { verb: 'MKDIR', path, mtime: 0, mode: 0o4755 },
    { verb: 'MGET', path, count: 0, checksum: 'sha256' },
    { verb: 'MGET', path, count: 500, checksum: 'sha256' },
    { verb: 'MPUT', path, count: 1, overwrite: false, checksum: 'sha256' },
    { verb: 'MPUT', path, count: 10_000, overwrite: true, checksum: 'sha256' },
    // The same with BLAKE3: checksum= is sent, and every digest is keyed blake3.
    { verb: 'STAT', path, hash: true, checksum: 'blake3' },
    { verb: 'GET', path, offset: 400, length: 0, checksum: 'blake3', prefixDigest: SHA },
    { verb: 'HASH', path, offset: 10, length: 20, checksum: 'blake3' },
    { verb: 'PUT', path, size: 1, checksum: 'blake3', digest: SHA, mtime: null, mode: null, overwrite: false, eager: true },
    { verb: 'PUT', path, size: 1, checksum: 'blake3', digest: null, mtime: null, mode: null, overwrite: false, eager: false },
    { verb: 'MGET', path, count: 3, checksum: 'blake3' },
    { verb: 'MPUT', path, count: 3, overwrite: false, checksum: 'blake3' },
    { verb: 'LIST', path, recursive: true, links: true },
    { verb: 'DELETE', path },
    { verb: 'SYMLINK', path, target: '../a b/ü.txt', overwrite: false },
    { verb: 'SYMLINK', path, target: 'x', overwrite: true },
  ];
}

const PATHLESS: Request[] = [
  { verb: 'HELLO', version: null, client: null, checksums: null },
  { verb: 'HELLO', version: 1, client: 'tcpsend/0.1.0', checksums: null },
  { verb: 'HELLO', version: 1, client: '', checksums: null },
  { verb: 'HELLO', version: 0, client: 'my client = 名字 100%', checksums: null },
  { verb: 'DATA', offset: 0 },
  { verb: 'DATA', offset: Number.MAX_SAFE_INTEGER },
  { verb: 'END', checksum: 'sha256', digest: SHA },
  { verb: 'END', checksum: 'blake3', digest: SHA },
  { verb: 'HELLO', version: 1, client: 'tcpsend/0.2.0', checksums: 'blake3,sha256' },
  { verb: 'ABORT', reason: null },
  { verb: 'ABORT', reason: 'changed on disk' },
  { verb: 'QUIT' },
];

describe('format → parse round-trips', () => {
  it.each(PATHS)('every verb with the path %j', (path) => {
    for (const req of requestsFor(path)) {
      const line = formatRequest(req);
      expect(line).not.toMatch(/[\r\n]/);
      expect(parseRequest(line)).toEqual(req);
    }
  });

  it.each(PATHLESS.map((req) => [formatRequest(req), req]))('%s', (line, req) => {
    expect(parseRequest(line)).toEqual(req);
  });

  it('covers every verb', () => {
    const covered = new Set([...requestsFor('x'), ...PATHLESS].map((req) => req.verb));
    expect([...covered].sort()).toEqual([...VERBS].sort());
  });
});

describe('formatRequest', () => {
  it('writes the lines of protocol.md', () => {
    expect(formatRequest({ verb: 'HELLO', version: 1, client: null, checksums: null })).toBe('HELLO version=1');
    expect(formatRequest({ verb: 'QUIT' })).toBe('QUIT');
    expect(formatRequest({ verb: 'LIST', path: '/', recursive: false })).toBe('LIST /');
    expect(formatRequest({ verb: 'DATA', offset: 400 })).toBe('DATA offset=400');
    expect(
      formatRequest({
        verb: 'GET',
        path: '数据 1.txt',
        offset: 0,
        length: null,
        checksum: 'sha256', prefixDigest: null,
      }),
    ).toBe('GET %E6%95%B0%E6%8D%AE%201.txt');
    expect(
      formatRequest({
        verb: 'PUT',
        path: 'big.iso',
        size: 1000,
        checksum: 'sha256',
        digest: SHA,
        mtime: 5,
        mode: 0o600,
        overwrite: true,
        eager: true,
      }),
    ).toBe(`PUT big.iso size=1000 sha256=${SHA} offset=0 mtime=5 mode=600 overwrite=1`);
  });

  it('leaves checksum= out for SHA-256 and keys every digest by its algorithm', () => {
    const get = { verb: 'GET', path: 'a', offset: 4, length: null, prefixDigest: SHA } as const;
    expect(formatRequest({ ...get, checksum: 'sha256' })).toBe(`GET a offset=4 prefix_sha256=${SHA}`);
    expect(formatRequest({ ...get, checksum: 'blake3' })).toBe(`GET a offset=4 checksum=blake3 prefix_blake3=${SHA}`);
    expect(formatRequest({ verb: 'END', checksum: 'blake3', digest: SHA })).toBe(`END blake3=${SHA}`);
    expect(formatRequest({ verb: 'HELLO', version: 1, client: null, checksums: 'blake3,sha256' })).toBe('HELLO version=1 checksums=blake3,sha256');
  });

  it('refuses what could not be parsed back', () => {
    expectError(
      () => formatRequest({ verb: 'STAT', path: '', hash: false, checksum: 'sha256' }),
      UsageError,
    );
    expectError(
      () => formatRequest({ verb: 'GET', path: 'a', offset: -1, length: null, checksum: 'sha256', prefixDigest: null }),
      UsageError,
    );
    expectError(
      () => formatRequest({ verb: 'HASH', path: 'a', offset: 0, length: 1.5, checksum: 'sha256' }),
      UsageError,
    );
    const put = {
      verb: 'PUT',
      path: 'a',
      size: 1,
      checksum: 'sha256',
      digest: SHA.toUpperCase(),
      mtime: null,
      mode: null,
      overwrite: false,
      eager: false,
    } as const;
    expectError(() => formatRequest(put), UsageError);
    expectError(() => formatRequest({ ...put, digest: SHA, mode: 0o10000 }), UsageError);
    expectError(() => formatRequest({ verb: 'STAT', path: '\ud800', hash: false, checksum: 'sha256' }), BadPathError);
  });
});

describe('parseRequest', () => {
  it('reads the hand-typed lines of protocol.md', () => {
    expect(parseRequest('HELLO')).toEqual({ verb: 'HELLO', version: null, client: null, checksums: null });
    expect(parseRequest('LIST /')).toEqual({ verb: 'LIST', path: '/', recursive: false });
    expect(parseRequest('GET notes.txt')).toEqual({
      verb: 'GET',
      path: 'notes.txt',
      offset: 0,
      length: null,
      checksum: 'sha256', prefixDigest: null,
    });
    expect(parseRequest('QUIT')).toEqual({ verb: 'QUIT' });
  });

  it('splits on runs of spaces and ignores spaces at the ends', () => {
    expect(parseRequest('  GET   a.txt   offset=5  length=2 ')).toEqual({
      verb: 'GET',
      path: 'a.txt',
      offset: 5,
      length: 2,
      checksum: 'sha256', prefixDigest: null,
    });
  });

  it('accepts raw UTF-8 paths as typed with nc', () => {
    expect(parseRequest('STAT 数据.txt hash=1')).toEqual({
      verb: 'STAT',
      path: '数据.txt',
      hash: true,
      checksum: 'sha256',
    });
  });

  it('accepts upper-case hex in a SHA-256 and returns it in lower case', () => {
    const req = parseRequest(`PUT a size=1 sha256=${SHA.toUpperCase()}`);
    expect(req).toMatchObject({ verb: 'PUT', checksum: 'sha256', digest: SHA, eager: false });
  });

  it('reads offset=0 on PUT as the one-step form', () => {
    expect(parseRequest(`PUT a size=1 sha256=${SHA} offset=0`)).toMatchObject({ eager: true });
  });

  it('ignores unknown fields, even with odd values', () => {
    expect(parseRequest('STAT a future_field=x%20y zz=')).toEqual({
      verb: 'STAT',
      path: 'a',
      hash: false,
      checksum: 'sha256',
    });
  });

  it('does no traversal checks (the storage layer does)', () => {
    expect(parseRequest('GET ../etc/passwd')).toMatchObject({ path: '../etc/passwd' });
    expect(parseRequest('GET %2E%2E%2Fx')).toMatchObject({ path: '../x' });
  });

  describe('rejections', () => {
    const bad = (line: string, cls: Parameters<typeof expectError>[1]) =>
      expectError(() => parseRequest(line), cls);

    it('an empty or blank line is BAD_REQUEST', () => {
      bad('', BadRequestError);
      bad('   ', BadRequestError);
    });

    it('an unknown verb is UNKNOWN_VERB, naming it', () => {
      const err = bad('FETCH a.txt', UnknownVerbError);
      expect(err.message).toContain("'FETCH'");
    });

    it('a long unknown verb is truncated in the message', () => {
      const err = bad(`${'X'.repeat(5000)} a`, UnknownVerbError);
      expect(err.message.length).toBeLessThan(100);
    });

    it('a lower-case or mixed verb is BAD_REQUEST, with a hint', () => {
      expect(bad('get a.txt', BadRequestError).message).toContain('try GET');
      bad('Get a.txt', BadRequestError);
      bad('GET1 a.txt', BadRequestError);
    });

    it('a verb with control bytes is BAD_REQUEST and sanitised in the message', () => {
      const err = bad('GE\x00T\x1b[31m a', BadRequestError);
      expect(err.message).not.toMatch(/[\x00-\x1f]/);
      expect(err.message).toContain('\\x00');
    });

    it('a line starting with / is not a request', () => {
      bad('/notes.txt', BadRequestError);
    });

    it('a duplicate key is BAD_REQUEST', () => {
      expect(bad('GET a offset=1 offset=1', BadRequestError).message).toContain('offset');
      bad('STAT a x=1 x=2', BadRequestError);
    });

    it('a bad key is BAD_REQUEST', () => {
      bad('GET a Offset=1', BadRequestError);
      bad('GET a =1', BadRequestError);
      bad('GET a 1x=1', BadRequestError);
      bad('GET a off-set=1', BadRequestError);
    });

    it('a missing path is BAD_REQUEST naming the verb', () => {
      for (const verb of ['STAT', 'LIST', 'GET', 'HASH', 'MKDIR']) {
        expect(bad(verb, BadRequestError).message).toContain(`${verb} needs a path`);
      }
      expect(bad(`PUT size=1 sha256=${SHA}`, BadRequestError).message).toContain('path');
      bad('GET offset=1', BadRequestError);
    });

    it('a path on a verb without one is BAD_REQUEST', () => {
      bad('HELLO there', BadRequestError);
      bad('QUIT now', BadRequestError);
      bad('DATA x offset=0', BadRequestError);
    });

    it('a second path-like token is BAD_REQUEST', () => {
      bad('GET a b', BadRequestError);
      bad('GET a offset=1 b', BadRequestError);
    });

    it('PUT without size is BAD_REQUEST saying so; sha256 up front is optional', () => {
      expect(bad(`PUT a sha256=${SHA}`, BadRequestError).message).toContain('size');
      expect(parseRequest('PUT a size=1')).toMatchObject({ verb: 'PUT', size: 1, checksum: 'sha256', digest: null });
    });

    it('an unknown checksum, or a digest under another algorithm than checksum= names, is BAD_REQUEST', () => {
      expect(bad('GET a checksum=md5', BadRequestError).message).toContain('blake3, sha256');
      expect(bad(`GET a offset=1 checksum=blake3 prefix_sha256=${SHA}`, BadRequestError).message).toContain('prefix_blake3');
      bad(`PUT a size=1 sha256=${SHA} checksum=blake3`, BadRequestError);
      bad(`PUT a size=1 blake3=${SHA}`, BadRequestError);
      expect(bad(`END sha256=${SHA} blake3=${SHA}`, BadRequestError).message).toContain('more than one');
    });

    it('END without a valid sha256 is BAD_REQUEST', () => {
      expect(bad('END', BadRequestError).message).toContain('sha256');
      bad('END sha256=xyz', BadRequestError);
    });

    it('PUT with an offset other than 0 is BAD_REQUEST', () => {
      bad(`PUT a size=10 sha256=${SHA} offset=5`, BadRequestError);
    });

    it('DATA without offset is BAD_REQUEST', () => {
      expect(bad('DATA', BadRequestError).message).toContain('offset');
    });

    it.each(['-1', '1.5', '0x10', '+1', '01', '9007199254740992', ''])(
      'the number %j is BAD_REQUEST wherever a uint goes',
      (number) => {
        bad(`GET a offset=${number}`, BadRequestError);
        bad(`GET a length=${number}`, BadRequestError);
        bad(`HASH a offset=${number}`, BadRequestError);
        bad(`PUT a size=${number} sha256=${SHA}`, BadRequestError);
        bad(`PUT a size=1 sha256=${SHA} mtime=${number}`, BadRequestError);
        bad(`DATA offset=${number}`, BadRequestError);
        bad(`HELLO version=${number}`, BadRequestError);
        bad(`MKDIR a mtime=${number}`, BadRequestError);
      },
    );

    it('a bad sha256 is BAD_REQUEST', () => {
      bad('PUT a size=1 sha256=abc', BadRequestError);
      bad(`PUT a size=1 sha256=${SHA}0`, BadRequestError);
      bad(`GET a offset=1 prefix_sha256=${'g'.repeat(64)}`, BadRequestError);
    });

    it('a bad mode is BAD_REQUEST', () => {
      bad(`PUT a size=1 sha256=${SHA} mode=888`, BadRequestError);
      bad('MKDIR a mode=12345', BadRequestError);
      bad('MKDIR a mode=', BadRequestError);
    });

    it('a bad flag is BAD_REQUEST', () => {
      bad('STAT a hash=yes', BadRequestError);
      bad('LIST a recursive=2', BadRequestError);
      bad(`PUT a size=1 sha256=${SHA} overwrite=true`, BadRequestError);
    });

    it('a bad escape or bad UTF-8 in the path is BAD_PATH', () => {
      bad('GET %', BadPathError);
      bad('GET a%2', BadPathError);
      bad('GET %ZZ', BadPathError);
      bad('GET %C0%AE%C0%AE/etc', BadPathError);
      bad('GET %ED%A0%80', BadPathError);
    });

    it('a bad escape in a field value is BAD_REQUEST', () => {
      bad('HELLO client=%G1', BadRequestError);
      bad('STAT a unknown=%C0%AE', BadRequestError);
    });
  });
});

describe('bare selectors', () => {
  it('are lines that start with / or TAB, or are empty', () => {
    expect(firstLineKind('')).toBe('selector');
    expect(firstLineKind('/')).toBe('selector');
    expect(firstLineKind('/notes.txt')).toBe('selector');
    expect(firstLineKind('GET /notes.txt')).toBe('request');
    expect(firstLineKind(' /notes.txt')).toBe('selector');
    // A Gopher client asks for the root as `TAB search` or `TAB +`.
    expect(firstLineKind('\t+')).toBe('selector');
  });

  it('are also names without a leading / (the classic tutorial client), and anything else that is neither a verb nor HTTP', () => {
    // issue 10: "A first line that is neither a verb nor HTTP is a file name, with or without a leading /"
    expect(firstLineKind('notes.txt')).toBe('selector');
    expect(firstLineKind('my notes.txt')).toBe('selector');
    expect(firstLineKind('docs/a.txt\t+')).toBe('selector');
    expect(firstLineKind('\u0000\u0001garbage')).toBe('selector');
    // Verbs are exact: a lower-case word is a name.
    expect(firstLineKind('hello')).toBe('selector');
    expect(firstLineKind('GETX a')).toBe('selector');
  });
});

describe('the first line of a connection', () => {
  it('is a tcpsend request when its first word is a verb', () => {
    for (const line of ['HELLO', 'HELLO version=1', 'GET a.txt', 'PUT a size=1', 'LIST /', 'QUIT', 'MGET d count=2']) {
      expect(firstLineKind(line), line).toBe('request');
    }
  });

  it('is HTTP when it ends in HTTP/1.0 or HTTP/1.1 after a method and a target', () => {
    expect(firstLineKind('GET / HTTP/1.1')).toBe('http');
    expect(firstLineKind('GET /notes.txt HTTP/1.0')).toBe('http');
    expect(firstLineKind('HEAD /a%20b HTTP/1.1')).toBe('http');
    expect(firstLineKind('POST /up/ HTTP/1.1')).toBe('http');
    expect(firstLineKind('BREW /pot HTTP/1.1')).toBe('http');
    expect(firstLineKind('OPTIONS * HTTP/1.1')).toBe('http');
  });

  it('is not HTTP for other versions or shapes (those go to the tcpsend or selector side)', () => {
    expect(firstLineKind('GET / HTTP/2.0')).toBe('request');
    expect(firstLineKind('GET /  HTTP/1.1')).toBe('request');
    expect(firstLineKind('GET / HTTP/1.1 ')).toBe('request');
    expect(firstLineKind('/ HTTP/1.1')).toBe('selector');
    expect(firstLineKind('a b HTTP/1.1x')).toBe('selector');
  });
  it('name a path, decoded like a request path', () => {
    expect(selectorPath('')).toBe('/');
    expect(selectorPath('/')).toBe('/');
    expect(selectorPath('/notes.txt')).toBe('/notes.txt');
    expect(selectorPath('/my%20file.txt')).toBe('/my file.txt');
    expect(selectorPath('/数据.txt')).toBe('/数据.txt');
    expect(selectorPath('/a=b c.txt')).toBe('/a=b c.txt');
  });

  it('end at a TAB (Gopher search and Gopher+ requests)', () => {
    expect(selectorPath('/docs\tsearch words')).toBe('/docs');
    expect(selectorPath('/docs\t+')).toBe('/docs');
    expect(selectorPath('\t+')).toBe('/');
  });

  it('with a bad escape are BAD_PATH', () => {
    expectError(() => selectorPath('/100%'), BadPathError);
    expectError(() => selectorPath('/%C0%AE'), BadPathError);
  });
});
