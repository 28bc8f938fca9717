/**
 * The built CLI (bin/tcpsend.js over dist/) as child processes that a test can kill: every
 * child started here is tracked, and `killAll` (for afterEach) SIGKILLs whatever is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv } from '../helpers/cli.js';

export { assertBuilt } from '../helpers/cli.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliChild {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** The NDJSON events on stdout so far (with --json). */
  events(): Record<string, unknown>[];
  exited: Promise<Exit>;
}

const running = new Set<ChildProcess>();

export function runCli(args: string[], cwd: string): CliChild {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    events: () =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    exited,
  };
}

/** SIGKILL every child still running, and wait until each is gone. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** `tcpsend serve DIR --port 0 --host 127.0.0.1 --allow-upload --json`, once it listens. */
export async function serveChild(dir: string): Promise<CliChild & { port: number }> {
  const server = runCli(['serve', dir, '--port', '0', '--host', '127.0.0.1', '--allow-upload', '--json'], dir);
  const port = await until(
    () => server.events().find((e) => e.event === 'listening')?.port as number | undefined,
    server,
    10_000,
    'the server to listen',
  );
  return Object.assign(server, { port });
}

/**
 * Poll `check` until it returns something other than undefined; fail if `child` exits first
 * or `ms` pass.
 */
export async function until<T>(check: () => T | undefined, child: CliChild, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let gone = false;
  void child.exited.then(() => (gone = true));
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (gone) throw new Error(`waiting for ${what}, the child exited:\n${child.stderr}`);
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}:\n${child.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
