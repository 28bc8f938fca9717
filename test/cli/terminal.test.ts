/**
 * Issue 14.9: a hostile server's names and ERR messages reach the terminal escaped. The server
 * here is a few lines of raw protocol on loopback: it lists names full of escape sequences
 * and answers with ERR messages holding raw control bytes (which a real server never sends).
 */
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatEntry } from '../../src/protocol/index.js';
import { assertBuilt, removeTemps, runCli, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
const servers: net.Server[] = [];
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

const CLEAR = '\x1b[2J\x1b[H';
const TITLE = '\x1b]0;owned\x07';
const CLIPBOARD = '\x1b]52;c;ZWNobyBvd25lZA==\x07';
const NAMES = [`clear${CLEAR}.txt`, `title${TITLE}.txt`, `clip${CLIPBOARD}.txt`, 'forged\ntcpsend: all good.txt', 'back\rspace.txt', `c1\u009b2J.txt`];
const HOSTILE_MESSAGE = `no such file${CLEAR}${TITLE}${CLIPBOARD}\rtcpsend: done`;

/** Answers HELLO, LIST (the names above), STAT (a folder 'd', else a hostile ERR), GET (a hostile ERR), QUIT. */
async function hostileServer(): Promise<string> {
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at).replace(/\r$/, '');
        buffered = buffered.slice(at + 1);
        const [verb, path] = line.split(' ');
        const raw = (text: string) => socket.write(Buffer.from(`${text}\n`, 'utf8'));
        if (verb === 'HELLO') {
          raw('TCPSEND 1 server=evil/1 caps=list upload=0');
          raw('OK version=1');
        } else if (verb === 'LIST') {
          raw('OK');
          for (const name of NAMES) raw(formatEntry({ path: name, type: 'file', size: 1, mtimeMs: 0, mode: 0o644 }));
          raw('.');
        } else if (verb === 'STAT' && path === 'd') raw('OK type=dir mtime=0 mode=755');
        else if (verb === 'QUIT') raw('OK');
        else raw(`ERR NOT_FOUND ${HOSTILE_MESSAGE}`);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** Nothing a terminal acts on: no ESC, BEL, CR or C1 control; LF only at line ends. */
function expectInert(text: string): void {
  expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
}

describe('a hostile server cannot drive the terminal', () => {
  it('ls: every name escaped, one line per entry', async () => {
    const target = await hostileServer();
    const r = await runCli(['ls', target], { cwd: await tempDir() });
    expect(r.code, r.stderr).toBe(0);
    expectInert(r.stdout);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines).toHaveLength(NAMES.length); // the newline in a name forged no line
    expect(lines).toContain('clear\\x1b[2J\\x1b[H.txt');
    expect(lines).toContain('forged\\ntcpsend: all good.txt');
    expect(lines).toContain('c1\\x9b2J.txt');
  });

  it("get: the server's ERR message escaped, on one line", async () => {
    const target = await hostileServer();
    const r = await runCli(['get', target, 'x'], { cwd: await tempDir() });
    expect(r.code).toBe(5);
    expectInert(r.stderr);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no such file\\x1b[2J');
  });

  it('get of a folder: the names at the start of error lines escaped too, --json untouched but valid', async () => {
    const target = await hostileServer();
    const cwd = await tempDir();
    const r = await runCli(['get', target, 'd', 'out'], { cwd });
    expect(r.code).not.toBe(0); // 5 for the missing files, or 4 for a name this disk refuses
    expectInert(r.stderr);
    expect(r.stderr, r.stderr).toContain('tcpsend: title\\x1b]0;owned\\x07.txt: ');
    const json = await runCli(['get', target, 'd', 'out', '--json'], { cwd });
    expectInert(json.stdout); // JSON escapes control characters itself
    const names = json.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; path?: string })
      .filter((e) => e.event === 'error')
      .map((e) => e.path);
    expect(names.sort()).toEqual([...NAMES].sort());
  });
});
