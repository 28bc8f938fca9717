import { describe, expect, it } from 'vitest';
import { ProtocolError, UsageError } from '../../src/errors.js';
import {
  MAX_ERR_MESSAGE,
  PROTOCOL_VERSION,
  formatErr,
  formatGreeting,
  formatOk,
  greetingCaps,
  parseGreeting,
  parseResponse,
} from '../../src/protocol/index.js';
import { expectError } from './expect-error.js';

describe('parseResponse', () => {
  it('reads a bare OK', () => {
    expect(parseResponse('OK')).toEqual({ ok: true, fields: new Map() });
  });

  it('reads OK with fields, decoding values', () => {
    expect(parseResponse('OK type=file size=6 mtime=1763750000000 mode=644')).toEqual({
      ok: true,
      fields: new Map([
        ['type', 'file'],
        ['size', '6'],
        ['mtime', '1763750000000'],
        ['mode', '644'],
      ]),
    });
    const res = parseResponse('OK  name=%E6%95%B0%20x empty= ');
    expect(res.ok && [...res.fields]).toEqual([
      ['name', '数 x'],
      ['empty', ''],
    ]);
  });

  it('reads ERR with a message of several words, kept exactly', () => {
    expect(parseResponse("ERR NOT_FOUND no such file 'a  b'")).toEqual({
      ok: false,
      code: 'NOT_FOUND',
      message: "no such file 'a  b'",
    });
    expect(parseResponse('ERR CHANGED ')).toEqual({ ok: false, code: 'CHANGED', message: '' });
    expect(parseResponse('ERR CHANGED')).toEqual({ ok: false, code: 'CHANGED', message: '' });
    expect(parseResponse('ERR BAD_REQUEST a=b =c %ZZ')).toEqual({
      ok: false,
      code: 'BAD_REQUEST',
      message: 'a=b =c %ZZ',
    });
  });

  it.each([
    '',
    'ok',
    'OKAY',
    'OK size',
    'OK size=1 size=2',
    'OK Size=1',
    'OK x=%G0',
    'OK x=%C0%AE',
    'ERR',
    'ERR ',
    'ERR not_found message',
    'ERR NOT-FOUND message',
    'ERROR NOT_FOUND x',
    'TCPSEND 1',
    'hello',
  ])('refuses %j with PROTOCOL', (line) => {
    expectError(() => parseResponse(line), ProtocolError);
  });

  it('keeps the parser error as the cause of a ProtocolError', () => {
    const err = expectError(() => parseResponse('OK a=1 a=2'), ProtocolError);
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.message).toContain('duplicate');
  });
});

describe('formatOk', () => {
  it('formats fields in order, skipping null and undefined', () => {
    expect(formatOk()).toBe('OK');
    expect(formatOk({})).toBe('OK');
    expect(
      formatOk({
        type: 'file',
        size: 6,
        mtime: 1763750000000,
        mode: 0o644,
        sha256: null,
        x: undefined,
      }),
    ).toBe('OK type=file size=6 mtime=1763750000000 mode=644');
  });

  it('writes booleans as 1/0, mode in octal, and encodes values', () => {
    expect(formatOk({ identical: true, upload: false })).toBe('OK identical=1 upload=0');
    expect(formatOk({ mode: '755' })).toBe('OK mode=755');
    expect(formatOk({ name: 'a b=c', empty: '' })).toBe('OK name=a%20b%3Dc empty=');
  });

  it('round-trips through parseResponse', () => {
    const res = parseResponse(formatOk({ path: '数据 1.txt\r\n', n: 0 }));
    expect(res).toEqual({
      ok: true,
      fields: new Map([
        ['path', '数据 1.txt\r\n'],
        ['n', '0'],
      ]),
    });
  });

  it('refuses keys and numbers the peer would refuse', () => {
    expectError(() => formatOk({ Size: 1 }), UsageError);
    expectError(() => formatOk({ 'a b': 1 }), UsageError);
    expectError(() => formatOk({ size: -1 }), UsageError);
    expectError(() => formatOk({ size: 0.5 }), UsageError);
    expectError(() => formatOk({ mode: 0o100644 }), UsageError);
  });
});

describe('formatErr', () => {
  it('formats code and message', () => {
    expect(formatErr('NOT_FOUND', "no such file 'a.txt'")).toBe(
      "ERR NOT_FOUND no such file 'a.txt'",
    );
    expect(formatErr('CHANGED', '')).toBe('ERR CHANGED');
  });

  it('replaces CR, LF and tab by spaces and escapes other control characters', () => {
    const line = formatErr('INTERNAL', 'line one\r\nline two\tx\x00y\x1b[31mz\x7f\u0085\ud800');
    expect(line).toBe('ERR INTERNAL line one  line two x\\x00y\\x1b[31mz\\x7f\\x85\ufffd');
    expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });

  it('caps the message length', () => {
    const line = formatErr('INTERNAL', 'é'.repeat(100_000));
    expect(line.length).toBeLessThanOrEqual('ERR INTERNAL '.length + MAX_ERR_MESSAGE + 1);
    expect(Buffer.byteLength(line)).toBeLessThan(8192);
  });

  it('never cuts a surrogate pair in half', () => {
    const line = formatErr('INTERNAL', '😀'.repeat(MAX_ERR_MESSAGE + 5));
    expect(line).not.toMatch(/\p{Cs}/u);
  });

  it('round-trips through parseResponse', () => {
    const message = "can't  open 'x'\nbecause\r of = and %";
    const res = parseResponse(formatErr('FORBIDDEN', message));
    expect(res).toEqual({
      ok: false,
      code: 'FORBIDDEN',
      message: "can't  open 'x' because  of = and %",
    });
  });

  it('refuses a code that is not a wire token', () => {
    expectError(() => formatErr('not_found', 'x'), UsageError);
    expectError(() => formatErr('NOT FOUND', 'x'), UsageError);
    expectError(() => formatErr('', 'x'), UsageError);
  });
});

describe('greeting', () => {
  const line = 'TCPSEND 1 server=tcpsend/0.1.0 caps=range,sha256,resume,hash,list,mkdir upload=1';

  it('formats the greeting of protocol.md', () => {
    expect(
      formatGreeting({
        version: PROTOCOL_VERSION,
        fields: {
          server: 'tcpsend/0.1.0',
          caps: 'range,sha256,resume,hash,list,mkdir',
          upload: true,
        },
      }),
    ).toBe(line);
    expect(formatGreeting({ version: 2 })).toBe('TCPSEND 2');
  });

  it('parses it back', () => {
    const greeting = parseGreeting(line);
    expect(greeting.version).toBe(1);
    expect(greeting.fields.get('server')).toBe('tcpsend/0.1.0');
    expect(greeting.fields.get('upload')).toBe('1');
    expect([...greetingCaps(greeting)]).toEqual([
      'range',
      'sha256',
      'resume',
      'hash',
      'list',
      'mkdir',
    ]);
    expect(parseGreeting('TCPSEND 7')).toEqual({ version: 7, fields: new Map() });
    expect(greetingCaps(parseGreeting('TCPSEND 7')).size).toBe(0);
  });

  it.each([
    '',
    'TCPSEND',
    'TCPSEND ',
    'tcpsend 1',
    'TCPSENDX 1',
    'OK version=1',
    'TCPSEND one',
    'TCPSEND -1',
    'TCPSEND 1 caps',
    'TCPSEND 1 a=1 a=2',
    'hello\x00world',
  ])('refuses %j with PROTOCOL', (bad) => {
    expectError(() => parseGreeting(bad), ProtocolError);
  });
});
