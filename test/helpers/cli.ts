/**
 * Run the built CLI (bin/tcpsend.js over dist/) as a child process, the way a user does: its
 * own cwd, its own environment, stdout and stderr as pipes. Every process started here is
 * tracked, so a test file's afterEach can stop whatever is left (`stopAllCli`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO, 'bin', 'tcpsend.js');
export const BUILT_MAIN = path.join(REPO, 'dist', 'tcpsend-cli.cjs');

/** For a beforeAll: the suite runs the build, not the sources. */
export function assertBuilt(): void {
  if (!fs.existsSync(BUILT_MAIN)) {
    throw new Error(
      `${path.relative(REPO, BUILT_MAIN)} is missing: the CLI tests run the built bin/tcpsend.js, which runs that bundle. ` +
        'Build first with `npm run build` (`npm test` does it before vitest).',
    );
  }
}

export const PACKAGE_VERSION: string = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The test runner's environment without anything that changes what the CLI does: every
 * TCPSEND_* variable (yargs reads them as flags) and CI (which turns progress bars off).
 * `extra` sets variables; a value of undefined removes one.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('TCPSEND_') || key === 'CI') continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** A preload that makes the child's stderr claim to be a terminal, as it would in a shell. */
export const FAKE_TTY_STDERR = [
  '--import',
  `data:text/javascript,${encodeURIComponent("Object.defineProperty(process.stderr, 'isTTY', { value: true });")}`,
];

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Flags for node itself, before the script. */
  nodeArgs?: string[];
  /**
   * Run this executable as `tcpsend` instead of `node bin/tcpsend.js`: an installed command, or
   * the single executable (test/packaging/).
   */
  program?: string;
  /** Kill the child (SIGKILL) and fail after this long. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const live = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

function spawnCli(args: string[], options: RunOptions): ChildProcess {
  const [file, argv] = options.program ? [options.program, args] : [process.execPath, [...(options.nodeArgs ?? []), BIN, ...args]];
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  return child;
}

/** `tcpsend ARGS...` to completion. */
export function runCli(args: string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tcpsend ${args.join(' ')} still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A `tcpsend serve` child on 127.0.0.1 and a free port. */
export class ServeProcess {
  stdout = '';
  stderr = '';
  port = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this.wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this.wake();
    });
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.wake());
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait until `check` returns something (it sees the output so far), or fail after `ms`. */
  async waitFor<T>(check: () => T | null | undefined | false, what: string, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = check();
      if (found) return found;
      if (!this.running) throw new Error(`tcpsend serve exited while waiting for ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
  async stop(graceMs = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = performance.now();
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const result = await this.exited;
      clearTimeout(timer);
      return { ...result, ms: performance.now() - started };
    }
    return { ...(await this.exited), ms: 0 };
  }
}

export interface ServeOptions {
  /** Extra flags after `serve DIR --port 0 --host 127.0.0.1`. */
  args?: string[];
  /** Read the port from the `listening` event on stdout instead of the stderr banner. */
  json?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** As RunOptions.program. */
  program?: string;
}

const servers = new Set<ServeProcess>();

/** Start `tcpsend serve DIR --port 0 --host 127.0.0.1 ...` and wait until it listens. */
export async function startServe(dir: string, options: ServeOptions = {}): Promise<ServeProcess> {
  const args = ['serve', dir, '--port', '0', '--host', '127.0.0.1', ...(options.json ? ['--json'] : []), ...(options.args ?? [])];
  const serve = new ServeProcess(spawnCli(args, { cwd: options.cwd ?? dir, env: options.env, program: options.program }));
  servers.add(serve);
  try {
    serve.port = options.json
      ? await serve.waitFor(() => {
          const first = serve.stdout.split('\n')[0];
          if (!serve.stdout.includes('\n') || first === undefined) return null;
          const event = JSON.parse(first) as { event: string; port: number };
          if (event.event !== 'listening') throw new Error(`the first --json event is not 'listening': ${first}`);
          return event.port;
        }, "the 'listening' event")
      : await serve.waitFor(() => {
          const m = /on port (\d+)/.exec(serve.stderr);
          return m ? Number(m[1]) : null;
        }, "the banner's 'on port N'");
  } catch (err) {
    await serve.stop(1_000);
    throw err;
  }
  return serve;
}

/**
 * Stop every server this file started and kill any client still running. Servers get SIGTERM
 * and a short grace, then SIGKILL: this is cleanup (serve.test.ts checks the graceful exit),
 * and a server lingers up to a second after its last client before it can exit.
 */
export async function stopAllCli(): Promise<void> {
  await Promise.all([...servers].map((s) => s.stop(300)));
  servers.clear();
  for (const child of live) child.kill('SIGKILL');
}

/** Parse NDJSON: every non-empty line must be one JSON object. */
export function ndjson(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        const value = JSON.parse(line) as unknown;
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
        return value as Record<string, any>;
      } catch (err) {
        throw new Error(`not an NDJSON line (${(err as Error).message}): ${JSON.stringify(line)}`);
      }
    });
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

const temps: string[] = [];

/** A fresh folder under the system temp folder, removed by `removeTemps`. */
export async function tempDir(prefix = 'tcpsend-cli-'): Promise<string> {
  const dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
  temps.push(dir);
  return dir;
}

export async function removeTemps(): Promise<void> {
  await Promise.all(temps.splice(0).map((dir) => fsp.rm(dir, { recursive: true, force: true })));
}

export { randomBytesFrom } from './seeded-random.js';

/** A port on 127.0.0.1 that was free a moment ago and that nothing listens on now. */
export async function closedPort(): Promise<number> {
  const listener = net.createServer();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = listener.address() as net.AddressInfo;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

/**
 * What a failed command must print when it is not --verbose: one line, `tcpsend: ...`, and
 * no stack trace.
 */
export function oneLineError(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1 || !lines[0]!.startsWith('tcpsend: ') || /^\s+at /m.test(stderr)) {
    throw new Error(`expected one 'tcpsend: ...' line on stderr, got:\n${stderr}`);
  }
  return lines[0]!;
}

/** Relative paths under `dir` (folders with a trailing '/'), sorted. */
export async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const entry of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out.push(`${child}/`);
        await walk(child);
      } else out.push(child);
    }
  }
  await walk('');
  return out.sort();
}
