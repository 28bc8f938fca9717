/**
 * The programs in samples/ run as a user would run them: child processes on 127.0.0.1, against
 * each other or against a server started here. They import ../dist/index.js, so `dist/` must be
 * built (`npm test` runs tsc first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SocketFile } from '../src/io/index.js';
import { TcpsendServer } from '../src/server/server.js';
import type { RequestLogEntry } from '../src/server/session.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const samples = path.join(repo, 'samples');

beforeAll(async () => {
  const built = await fsp.access(path.join(repo, 'dist', 'index.js')).then(() => true, () => false);
  if (!built) throw new Error('dist/index.js is missing: run `npm run build` first (`npm test` does)');
});

// ---------------------------------------------------------------------------------------------
// Child processes, every one killed after its test

const children = new Set<ChildProcess>();
const sockets = new Set<net.Socket>();

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(
    [...children].map(async (child) => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 2000))) {
          child.kill('SIGKILL');
          await waitExit(child, 2000);
        }
      }
      children.delete(child);
    }),
  );
});

function spawnSample(name: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  const child = spawn(process.execPath, [path.join(samples, name), ...args], {
    cwd: repo,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  children.add(child);
  return child;
}

interface RunningServer {
  port: number;
  stderr: () => string;
}

/** Start a sample server on port 0 and read the port it prints. */
function startSampleServer(name: string): Promise<RunningServer> {
  const child = spawnSample(name, ['0']);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not say where it listens:\n${stdout}${stderr}`)), 10_000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = new RegExp(`^${name.replace(/\.mjs$/, '')} listening on 127\\.0\\.0\\.1:(\\d+)$`, 'm').exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ port: Number(match[1]), stderr: () => stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${stdout}${stderr}`));
    });
  });
}

interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a sample client to its end. */
async function runSample(name: string, args: string[], input?: string): Promise<RunResult> {
  const child = spawnSample(name, args, input === undefined ? 'ignore' : 'pipe');
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  if (input !== undefined) child.stdin!.end(input);
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const code = await Promise.race([
    closed,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name} ${args.join(' ')} did not finish:\n${stderr}`)), 15_000),
    ),
  ]);
  return { code, stdout: Buffer.concat(out), stderr };
}

/** A port on 127.0.0.1 where, a moment ago, nothing listened. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function connect(port: number): Promise<SocketFile> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.add(socket);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new SocketFile(socket, { timeoutMs: 10_000 });
}

// ---------------------------------------------------------------------------------------------

describe('echo-server.mjs and echo-client.mjs', () => {
  it('every word on the command line comes back as one line', async () => {
    const { port } = await startSampleServer('echo-server.mjs');
    const words = ['hello', 'wide world', 'ünïcode 数据', ''];
    const run = await runSample('echo-client.mjs', ['127.0.0.1', String(port), ...words]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe(words.map((w) => `${w}\n`).join(''));
  });

  it("with no words, stdin's lines go and come back", async () => {
    const { port } = await startSampleServer('echo-server.mjs');
    const run = await runSample('echo-client.mjs', ['127.0.0.1', String(port)], 'one\r\ntwo\n\nthree');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe('one\ntwo\n\nthree\n');
  });

  it('the client says so, with status 1, when nothing listens', async () => {
    const run = await runSample('echo-client.mjs', ['127.0.0.1', String(await freePort()), 'hi']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^echo-client: nothing listens on 127\.0\.0\.1:\d+/);
    expect(run.stdout.length).toBe(0);
  });

  it('the server answers many lines sent at once, in order', async () => {
    const { port } = await startSampleServer('echo-server.mjs');
    const file = await connect(port);
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i} ${'x'.repeat(i)}`);
    await file.write(lines.map((l) => `${l}\n`).join(''));
    for (const line of lines) expect(await file.readLine()).toBe(line);
    await file.end();
    expect(await file.readLine()).toBeNull();
  });
});

describe('timestamp-echo-server.mjs', () => {
  it('answers [ISO timestamp] line', async () => {
    const { port } = await startSampleServer('timestamp-echo-server.mjs');
    const before = Date.now();
    const run = await runSample('echo-client.mjs', ['127.0.0.1', String(port), 'hello', 'two words']);
    const after = Date.now();
    expect(run.code).toBe(0);
    const replies = run.stdout.toString('utf8').split('\n');
    expect(replies.pop()).toBe('');
    expect(replies).toHaveLength(2);
    for (const [reply, sent] of replies.map((r, i) => [r, ['hello', 'two words'][i]] as const)) {
      const match = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] (.*)$/.exec(reply);
      expect(match, reply).not.toBeNull();
      expect(match![2]).toBe(sent);
      const at = Date.parse(match![1]!);
      expect(at).toBeGreaterThanOrEqual(before - 1000); // clocks of two processes, same machine
      expect(at).toBeLessThanOrEqual(after + 1000);
    }
  });
});

describe('filename-client.mjs against a TcpsendServer (bare selectors)', () => {
  let root: string;
  let server: TcpsendServer;
  let port: number;
  const log: RequestLogEntry[] = [];
  const binary = randomBytes(300 * 1024);
  // A file that begins like an error line must still come through as the file.
  const errLike = 'ERR but not really\r\nsecond line\n';
  // And one that begins like Gopher's error item (type 3), which refusals now are.
  const itemLike = '3 little pigs\r\n.\r\n';

  beforeAll(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-samples-'));
    await fsp.writeFile(path.join(root, 'notes.txt'), 'hello\r\nworld\n');
    await fsp.writeFile(path.join(root, 'noise.bin'), binary);
    await fsp.writeFile(path.join(root, 'err-like.txt'), errLike);
    await fsp.writeFile(path.join(root, 'item-like.txt'), itemLike);
    await fsp.mkdir(path.join(root, 'sub dir'));
    await fsp.writeFile(path.join(root, 'sub dir', 'café 100%.txt'), 'spaced ünïcode\n');
    server = await TcpsendServer.create({ root });
    ({ port } = await server.listen({ port: 0, host: '127.0.0.1' }));
    server.on('request', (entry) => log.push(entry));
  });

  afterAll(async () => {
    await server?.close(200);
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  const get = (name: string) => runSample('filename-client.mjs', ['127.0.0.1', String(port), name]);

  it('fetches a text file byte for byte, as a selector (no greeting, no framing)', async () => {
    const run = await get('/notes.txt');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('latin1')).toBe('hello\r\nworld\n');
    expect(log.some((e) => e.verb === 'SELECTOR' && e.path === '/notes.txt' && e.result === 'OK')).toBe(true);
  });

  it('fetches a binary file byte for byte', async () => {
    const run = await get('/noise.bin');
    expect(run.code).toBe(0);
    expect(run.stdout.equals(binary)).toBe(true);
  });

  it('fetches a file whose content begins with "ERR " as the file', async () => {
    const run = await get('/err-like.txt');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe(errLike);
  });

  it('fetches a file whose content begins like an error item ("3...") as the file', async () => {
    const run = await get('/item-like.txt');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe(itemLike);
  });

  it('encodes a name with spaces, % and non-ASCII, with or without the leading /', async () => {
    for (const name of ['/sub dir/café 100%.txt', 'sub dir/café 100%.txt']) {
      const run = await get(name);
      expect(run.stderr).toBe('');
      expect(run.stdout.toString('utf8')).toBe('spaced ünïcode\n');
    }
  });

  it('lists a folder, one name a line, / after folders', async () => {
    const run = await get('/');
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8').split('\n').filter(Boolean).sort()).toEqual(
      ['err-like.txt', 'item-like.txt', 'noise.bin', 'notes.txt', 'sub dir/'].sort(),
    );
  });

  it('reports a missing file on stderr with the code, writes nothing, exits 1', async () => {
    const run = await get('/missing.txt');
    expect(run.code).toBe(1);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr).toMatch(/^filename-client: \/missing\.txt: the server says TCPSEND_ERR_NOT_FOUND: /);
  });

  it('reports a path the server refuses', async () => {
    const run = await get('/../etc/passwd');
    expect(run.code).toBe(1);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr).toContain('TCPSEND_ERR_BAD_PATH');
  });
});

describe('concurrent-server.mjs', () => {
  const SLEEP_MS = 400;
  const CLIENTS = 20;

  async function session(port: number, i: number): Promise<string[]> {
    const file = await connect(port);
    const replies: string[] = [];
    const ask = async (line: string) => {
      await file.writeLine(line);
      replies.push((await file.readLine()) ?? '<closed>');
    };
    await ask(`SLEEP ${SLEEP_MS}`);
    await ask(`UPPER client ${i} ünï`);
    await ask(`REVERSE abc${i}`);
    await ask('NOPE');
    await ask('SLEEP soon');
    await ask('QUIT');
    replies.push((await file.readLine()) ?? '<closed>');
    return replies;
  }

  it(`serves ${CLIENTS} clients at once; one client's error touches no other`, async () => {
    const server = await startSampleServer('concurrent-server.mjs');

    // A rogue client whose over-long line ends its own connection, in the middle of the rest.
    const rogue = (async () => {
      const file = await connect(server.port);
      await file.writeLine('UPPER fine');
      const first = await file.readLine();
      await file.write(`UPPER ${'x'.repeat(5000)}\r\n`);
      return [first, await file.readLine(), await file.readLine()];
    })();

    const started = performance.now();
    const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => session(server.port, i)));
    const elapsed = performance.now() - started;

    results.forEach((replies, i) => {
      expect(replies).toEqual([
        `OK slept ${SLEEP_MS} ms`,
        `OK CLIENT ${i} ÜNÏ`,
        `OK ${i.toString().split('').reverse().join('')}cba`,
        "ERR UNKNOWN_VERB unknown command 'NOPE'",
        expect.stringMatching(/^ERR BAD_REQUEST SLEEP takes/),
        'OK bye',
        '<closed>',
      ]);
    });
    // One after another this would take CLIENTS × SLEEP_MS = 8 s.
    expect(elapsed).toBeLessThan((CLIENTS * SLEEP_MS) / 2);

    expect(await rogue).toEqual(['OK FINE', 'ERR LINE_TOO_LONG line longer than 1024 bytes', null]);
    expect(server.stderr()).toMatch(/TCPSEND_ERR_LINE_TOO_LONG/);

    // And the server goes on.
    const file = await connect(server.port);
    await file.writeLine('LOWER STILL HERE');
    expect(await file.readLine()).toBe('OK still here');
  });

  it('answers every command of a client that shuts down its sending side right after them', async () => {
    const { port } = await startSampleServer('concurrent-server.mjs');
    const file = await connect(port);
    await file.write('SLEEP 50\r\nUPPER late\r\nREVERSE abc\r\n');
    await file.end(); // as `nc -N` does at the end of its input
    expect(await file.readLine()).toBe('OK slept 50 ms');
    expect(await file.readLine()).toBe('OK LATE');
    expect(await file.readLine()).toBe('OK cba');
    expect(await file.readLine()).toBeNull();
  });
});
