/**
 * One port, every client: the first line of a connection decides between a tcpsend request,
 * a bare selector (with or without its leading /, and the Gopher form), and HTTP; garbage is
 * a selector that names nothing. Every kind is answered at once: none waits for a timeout.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange, statusLines } from './raw.js';

let srv: TestServer;
// Long enough that an answer which waited for it could not pass the timing checks below.
const IDLE_MS = 20_000;

beforeAll(async () => {
  srv = await startServer({ idleTimeoutMs: IDLE_MS, lineDeadlineMs: IDLE_MS });
  await fsp.writeFile(path.join(srv.root, 'notes.txt'), 'hello\n');
  await fsp.mkdir(path.join(srv.root, 'docs'));
  await fsp.writeFile(path.join(srv.root, 'docs', 'a.txt'), 'A\n');
});
afterAll(async () => srv.close());

describe('the first line', () => {
  it('a tcpsend verb gets the greeting and a tcpsend answer', async () => {
    const a = await exchange(srv.port, ['HELLO version=1\r\nQUIT\r\n']);
    expect(a.text).toMatch(/^TCPSEND 1 server=tcpsend\/\S+ caps=\S*selector\S* upload=0(?: \S+)*\r\nOK version=1\r\nOK\r\n$/);
  });

  it('a selector with its leading / gets the raw bytes, then the close, at once', async () => {
    const a = await exchange(srv.port, ['/notes.txt\r\n']);
    expect(a.text).toBe('hello\n');
    expect(a.ms).toBeLessThan(2000);
  });

  it('a selector without the / (the classic tutorial client) gets the raw bytes at once, not a 60 s wait', async () => {
    const a = await exchange(srv.port, ['notes.txt\r\n']);
    expect(a.text).toBe('hello\n');
    expect(a.ms).toBeLessThan(2000);
    const b = await exchange(srv.port, ['docs/a.txt\n'], { halfClose: true });
    expect(b.text).toBe('A\n');
  });

  it('the Gopher forms: selector TAB search, TAB + for the root, and an empty line', async () => {
    expect((await exchange(srv.port, ['/docs/a.txt\tsearch words\r\n'])).text).toBe('A\n');
    expect((await exchange(srv.port, ['docs\t+\r\n'])).text).toBe('a.txt\n');
    const root = (await exchange(srv.port, ['\t+\r\n'])).text;
    expect(root.split('\n')).toEqual(['docs/', 'notes.txt', '']);
    expect((await exchange(srv.port, ['\r\n'])).text).toBe(root);
  });

  it('a missing file gets a Gopher error item (3...), never ERR in the output (issue 15, item 16)', async () => {
    const a = await exchange(srv.port, ['missing.txt\r\n']);
    expect(a.text).toMatch(/^3NOT_FOUND: [^\t\r\n]*missing\.txt[^\t\r\n]*\t\terror\.host\t1\r\n\.\r\n$/);
    expect(a.text).not.toContain('ERR');
    expect(a.ms).toBeLessThan(2000);
  });

  it('garbage is a name that is not there: an error item, and the close, at once', async () => {
    for (const junk of [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0d, 0x0a]), 'lorem ipsum %zz\r\n', '..\\..\\boot.ini\r\n', 'get notes.txt\r\n']) {
      const a = await exchange(srv.port, [junk]);
      expect(a.text, String(junk)).toMatch(/^3(NOT_FOUND|BAD_PATH|FORBIDDEN): [^\r\n]*\t\terror\.host\t1\r\n\.\r\n$/);
      expect(a.ms).toBeLessThan(2000);
    }
  });

  it('HTTP/1.0: one answer, then the close', async () => {
    const a = await exchange(srv.port, ['GET /notes.txt HTTP/1.0\r\n\r\n']);
    expect(statusLines(a.text)).toEqual(['HTTP/1.1 200 OK']);
    expect(a.text).toMatch(/\r\nContent-Length: 6\r\n/i);
    expect(a.text.endsWith('\r\n\r\nhello\n')).toBe(true);
    expect(a.ms).toBeLessThan(2000);
  });

  it('the tutorial client\'s GET / HTTP/1.1, ending its side, gets the folder page at once', async () => {
    const a = await exchange(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], { halfClose: true });
    expect(statusLines(a.text)).toEqual(['HTTP/1.1 200 OK']);
    expect(a.text).toContain('<a href="notes.txt">');
    expect(a.ms).toBeLessThan(2000);
  });

  it('HTTP/1.1 keep-alive: several requests on one connection, one after another', async () => {
    const a = await exchange(
      srv.port,
      ['GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /docs/a.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'HEAD /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
      { gapMs: 100 },
    );
    expect(statusLines(a.text)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(a.text).toContain('\r\n\r\nhello\nHTTP/1.1 200 OK');
    expect(a.text).toContain('\r\n\r\nA\nHTTP/1.1 200 OK');
  });

  it('HTTP/1.1 pipelined: requests sent together, even split mid-line, are answered in order', async () => {
    const all = 'GET /docs/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    for (const cut of [0, 7, 30, 41, 60]) {
      const writes = cut === 0 ? [all] : [all.slice(0, cut), all.slice(cut)];
      const a = await exchange(srv.port, writes, { gapMs: 50 });
      expect(statusLines(a.text), `cut at ${cut}`).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found']);
      expect(a.text.indexOf('\r\n\r\nA\n')).toBeLessThan(a.text.indexOf('\r\n\r\nhello\n'));
    }
  });

  it('each kind is in the log: SELECTOR, the verbs, and HTTP with its method', async () => {
    await exchange(srv.port, ['GET /notes.txt HTTP/1.0\r\n\r\n']);
    await exchange(srv.port, ['notes.txt\r\n']);
    expect(srv.log.some((e) => e.verb === 'HTTP GET' && e.path === '/notes.txt' && e.result === 'OK' && e.bytes === 6)).toBe(true);
    expect(srv.log.some((e) => e.verb === 'SELECTOR' && e.path === 'notes.txt' && e.bytes === 6)).toBe(true);
    expect(srv.log.some((e) => e.verb === 'SELECTOR' && e.path === 'missing.txt' && e.result === 'NOT_FOUND')).toBe(true);
  });
});
