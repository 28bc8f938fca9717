/** Terminal safety (issue 14.9) and messages in a person's terms (issue 15.6). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describe as describeError, writeLine } from '../../../src/cli/output/messages.js';
import { ConnectionLostError, NoSpaceError, ProtocolError, RemoteError, TransferInterruptedError } from '../../../src/errors.js';

function written(text: string): string {
  const out = new PassThrough();
  writeLine(out, text);
  return (out.read() as Buffer).toString('utf8');
}

describe('writeLine', () => {
  it('escapes every control character a peer could use against a terminal', () => {
    const hostile = [
      'clear\x1b[2J\x1b[H',
      'title\x1b]0;owned\x07',
      'clipboard\x1b]52;c;ZWNobyBvd25lZA==\x07',
      'forged\nline',
      'carriage\rreturn',
      'c1\u009b31m',
      'bidi\u202eexe.txt',
      'del\x7f',
    ];
    for (const text of hostile) {
      const line = written(`tcpsend: ${text}`);
      expect(line.endsWith('\n')).toBe(true);
      const body = line.slice(0, -1);
      expect(body, JSON.stringify(text)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    }
    expect(written('a\x1b[2Jb')).toBe('a\\x1b[2Jb\n');
    expect(written('x\ny')).toBe('x\\ny\n');
  });

  it('leaves ordinary text alone, accents and wide characters included', () => {
    expect(written('✓ 写真/été.jpg: 6 B, sha256 abc… verified')).toBe('✓ 写真/été.jpg: 6 B, sha256 abc… verified\n');
  });
});

describe('describe', () => {
  it("a server's refusal names the server", () => {
    expect(describeError(new RemoteError('NOT_FOUND', "no such file 'x'"), '10.0.0.5:7070')).toBe("no such file 'x' on 10.0.0.5:7070");
  });

  it('a cut connection says so and how to go on, not ECONNRESET or a stream internal', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const destroyed = Object.assign(new Error('Cannot call write after a stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' });
    for (const err of [
      new ProtocolError('connection failed: read ECONNRESET', { cause: reset }),
      new TransferInterruptedError(10, `sendfile stopped after 10 bytes: ${reset.message}`, { cause: reset }),
      new ProtocolError('connection failed: Cannot call write after a stream was destroyed', { cause: destroyed }),
    ]) {
      const text = describeError(err, 'host:7070');
      expect(text).toMatch(/^the connection to host:7070 was cut \(the server stopped or the network dropped\)$/);
      expect(text).not.toMatch(/ECONNRESET|destroyed|sendfile/);
    }
  });

  it('local file-system errors in plain words', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'a.txt'"), { code: 'ENOENT', path: 'a.txt' });
    expect(describeError(enoent)).toBe("no such file or folder 'a.txt'");
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(describeError(enospc)).toMatch(/^the disk is full.*run the same command again/);
  });

  it("our own specific errors keep their own message, a lost connection's included", () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(describeError(new ConnectionLostError('h:1 closed the connection during the handshake', { cause: reset }))).toBe('h:1 closed the connection during the handshake');
    expect(describeError(new NoSpaceError("the disk is full writing 'x': free some space"))).toBe("the disk is full writing 'x': free some space");
  });
});
