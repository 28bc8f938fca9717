/** The server's log (issue 15.10): transfers and refusals, in a person's terms. */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endLine, peerName, ServerLog } from '../../src/cli/server-log.js';

const at = new Date('2026-12-05T01:02:03.456Z');
const entry = (over: Record<string, unknown>) => ({ peer: '127.0.0.1:5000', verb: 'GET', path: 'a.bin', bytes: 0, ms: 1, result: 'OK', ...over });

afterEach(() => {
  vi.useRealTimers();
});

describe('peerName', () => {
  it('shows an IPv4 client of a dual-stack listener as IPv4, and leaves IPv6 alone', () => {
    expect(peerName('[::ffff:192.168.1.20]:51234')).toBe('192.168.1.20:51234');
    expect(peerName('[::1]:51234')).toBe('[::1]:51234');
    expect(peerName('10.0.0.5:7')).toBe('10.0.0.5:7');
  });
});

describe('endLine', () => {
  it('a finished transfer: bytes, time, rate, and verified for an upload', () => {
    const line = endLine(entry({ verb: 'PUT', bytes: 200 * 1024 * 1024, ms: 2000 }) as any, false, at)!;
    expect(line).toBe('2026-12-05T01:02:03.456Z 127.0.0.1:5000 PUT "a.bin" 200 MiB 2.0 s 100 MiB/s OK verified');
    expect(endLine(entry({ bytes: 6, ms: 1.25 }) as any, false, at)).toBe('2026-12-05T01:02:03.456Z 127.0.0.1:5000 GET "a.bin" 6 B 1.3 ms OK');
  });

  it('a refusal with its reason, always', () => {
    expect(endLine(entry({ verb: 'STAT', result: 'NOT_FOUND', message: "no such file 'a.bin'" }) as any, false, at)).toBe(
      `2026-12-05T01:02:03.456Z 127.0.0.1:5000 STAT "a.bin" ERR NOT_FOUND: no such file 'a.bin'`,
    );
  });

  it('HELLO, QUIT and lookups only with --verbose', () => {
    for (const verb of ['HELLO', 'QUIT', 'STAT', 'LIST', 'HASH', 'MKDIR']) {
      expect(endLine(entry({ verb, path: null }) as any, false, at)).toBeNull();
      expect(endLine(entry({ verb, path: null }) as any, true, at)).toMatch(new RegExp(` ${verb} 0 B`));
    }
  });
});

describe('ServerLog', () => {
  function capture() {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString('utf8')));
    return { out, text: () => text };
  }

  it('a transfer still running after a second gets a start line; a quick one only its end line', async () => {
    vi.useFakeTimers();
    const { out, text } = capture();
    const log = new ServerLog(out, false, false);
    log.started({ peer: '[::ffff:10.0.0.7]:4000', verb: 'GET', path: 'quick.txt' });
    log.ended(entry({ peer: '[::ffff:10.0.0.7]:4000', path: 'quick.txt', bytes: 6 }) as any);
    log.started({ peer: '10.0.0.8:4001', verb: 'PUT', path: 'big.iso' });
    await vi.advanceTimersByTimeAsync(1_100);
    log.ended(entry({ peer: '10.0.0.8:4001', verb: 'PUT', path: 'big.iso', bytes: 5000, ms: 1100 }) as any);
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ 10\.0\.0\.7:4000 GET "quick\.txt" 6 B /);
    expect(lines[1]).toMatch(/ 10\.0\.0\.8:4001 PUT "big\.iso" started$/);
    expect(lines[2]).toMatch(/ 10\.0\.0\.8:4001 PUT "big\.iso" 4\.88 KiB 1\.1 s OK verified$/);
  });

  it('a refused connection: one line with its reason; escape sequences from a peer are escaped', () => {
    const { out, text } = capture();
    const log = new ServerLog(out, false, false);
    log.refused('[::ffff:10.0.0.9]:1', 'too many connections from 10.0.0.9');
    log.ended(entry({ verb: '\x1b]0;owned\x07', path: null, result: 'BAD_REQUEST', message: 'bad \r request' }) as any);
    expect(text()).toMatch(/ 10\.0\.0\.9:1 refused: too many connections from 10\.0\.0\.9\n/);
    expect(text()).not.toMatch(/[\x1b\x07\r]/);
  });

  it("a failed handshake is said without OpenSSL's error dump (which --verbose keeps)", () => {
    const reason = 'TLS handshake failed (wrong or missing secret?): 40C7:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca';
    const quiet = capture();
    new ServerLog(quiet.out, false, false).refused('1.2.3.4:5', reason);
    expect(quiet.text()).toMatch(/ 1\.2\.3\.4:5 refused: TLS handshake failed \(wrong or missing secret\?\)\n$/);
    const verbose = capture();
    new ServerLog(verbose.out, true, false).refused('1.2.3.4:5', reason);
    expect(verbose.text()).toContain('SSL routines');
  });

  it('on a terminal, a status line while several transfers run, taken away between log lines', () => {
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const log = new ServerLog(out, false, true);
    log.started({ peer: 'a:1', verb: 'GET', path: 'x' });
    log.started({ peer: 'b:1', verb: 'GET', path: 'y' });
    expect(text).toContain('2 transfers running, 0 done');
    log.stop();
  });
});
