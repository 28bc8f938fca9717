/**
 * tcpsend get and put of single files against a real `tcpsend serve` child: the bytes, the
 * --json events, the exit statuses and their one-line messages, TCPSEND_PORT, and no progress
 * bars unless stderr is a terminal.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import {
  assertBuilt,
  BIN,
  cliEnv,
  closedPort,
  FAKE_TTY_STDERR,
  ndjson,
  oneLineError,
  randomBytesFrom,
  removeTemps,
  runCli,
  sha256,
  startServe,
  stopAllCli,
  tempDir,
  type RunResult,
  type ServeProcess,
} from '../helpers/cli.js';
import { blake3Hex } from '../helpers/digests.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

const NOTES = 'hello\n';
/** Big enough for many 64 KiB chunks, so an unthrottled reporter would emit dozens of events. */
const BIG = 8 * 1024 * 1024 + 5;

async function serveFolder(args: string[] = []): Promise<{ serve: ServeProcess; root: string }> {
  const root = await tempDir('tcpsend-cli-root-');
  await fsp.writeFile(path.join(root, 'notes.txt'), NOTES);
  const serve = await startServe(root, { args });
  return { serve, root };
}

const ms = (event: Record<string, any>) => Date.parse(event.time as string);

/** Every line is an event with an ISO `time`, in order; start first and summary last. */
function expectWellFormedRun(events: Record<string, any>[]): void {
  for (const e of events) {
    expect(typeof e.event).toBe('string');
    expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  for (let i = 1; i < events.length; i++) expect(ms(events[i]!)).toBeGreaterThanOrEqual(ms(events[i - 1]!));
  expect(events[0]!.event).toBe('start');
  expect(events.at(-1)!.event).toBe('summary');
}

/** Progress events, per file: growing, and never closer than 250 ms except for the last one. */
function expectThrottledProgress(events: Record<string, any>[], size: number): void {
  const progress = events.filter((e) => e.event === 'progress');
  const byPath = new Map<string, Record<string, any>[]>();
  for (const e of progress) byPath.set(e.path as string, [...(byPath.get(e.path as string) ?? []), e]);
  for (const list of byPath.values()) {
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      expect(e.total).toBe(size);
      expect(e.bytes).toBeGreaterThanOrEqual(0);
      expect(e.bytes).toBeLessThanOrEqual(size);
      if (i === 0) continue;
      expect(e.bytes).toBeGreaterThanOrEqual(list[i - 1]!.bytes as number);
      // The reporter lets the final 100% through at once; every other one waits 250 ms.
      if (e.bytes < size) expect(ms(e) - ms(list[i - 1]!)).toBeGreaterThanOrEqual(249);
    }
    expect(list.filter((e) => e.bytes < size).length).toBeLessThanOrEqual(1 + Math.floor((ms(list.at(-1)!) - ms(list[0]!)) / 250));
  }
}

/** What stderr must not hold when it is not a terminal: bars, carriage returns, escapes. */
function expectNoBars(stderr: string): void {
  expect(stderr).not.toContain('\r');
  expect(stderr).not.toContain('█');
  expect(stderr).not.toContain('░');
  expect(stderr).not.toContain('\x1b');
}

describe('tcpsend get', () => {
  it('fetches a file byte for byte into the current folder and says so in one line', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, 'notes.txt'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(cwd, 'notes.txt'), 'utf8')).toBe(NOTES);
    expect(await fsp.readdir(cwd)).toEqual(['notes.txt']); // no partial file left behind
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`✓ notes.txt: 6 B, blake3 ${blake3Hex(NOTES).slice(0, 16)}… verified\n`);
  });

  it('saves to LOCAL, making its folders, or into LOCAL when it is a folder', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    const r1 = await runCli(['get', serve.target, 'notes.txt', 'a/b/renamed.txt'], { cwd });
    expect(r1.code, r1.stderr).toBe(0);
    expect(await fsp.readFile(path.join(cwd, 'a/b/renamed.txt'), 'utf8')).toBe(NOTES);
    const r2 = await runCli(['get', serve.target, '/notes.txt', 'a'], { cwd });
    expect(r2.code, r2.stderr).toBe(0);
    expect(await fsp.readFile(path.join(cwd, 'a/notes.txt'), 'utf8')).toBe(NOTES);
  });

  it('--json: start, file_start, throttled progress, file_done with the SHA-256, summary; again: skipped', async () => {
    const { serve, root } = await serveFolder();
    const data = randomBytesFrom(7, BIG);
    await fsp.writeFile(path.join(root, 'big.bin'), data);
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, 'big.bin', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect((await fsp.readFile(path.join(cwd, 'big.bin'))).equals(data)).toBe(true);
    const events = ndjson(r.stdout);
    expectWellFormedRun(events);
    expect(events[0]).toMatchObject({ event: 'start', op: 'get', target: serve.target, files: 1, bytes: BIG });
    expect(events.filter((e) => e.event === 'file_start')).toEqual([expect.objectContaining({ path: 'big.bin', size: BIG, resumed_from: 0 })]);
    expectThrottledProgress(events, BIG);
    const done = events.filter((e) => e.event === 'file_done');
    expect(done).toEqual([
      expect.objectContaining({ path: 'big.bin', size: BIG, bytes: BIG, checksum: 'blake3', digest: blake3Hex(data), status: 'sent', resumed_from: 0 }),
    ]);
    expect(done[0]!.seconds).toBeGreaterThanOrEqual(0);
    expect(done[0]!.seconds).toBeLessThan(r.ms / 1000);
    expect(events.at(-1)).toEqual({
      event: 'summary',
      files: 1,
      sent: 1,
      skipped: 0,
      failed: 0,
      bytes: BIG,
      seconds: expect.any(Number),
      outcomes: { sent: 1, replaced: 0, unchanged: 0, skipped: 0, deleted: 0 },
      time: expect.any(String),
    });
    expect(events.map((e) => e.event)).not.toContain('error');

    const again = await runCli(['get', serve.target, 'big.bin', '--json'], { cwd });
    expect(again.code, again.stderr).toBe(0);
    const second = ndjson(again.stdout);
    expectWellFormedRun(second);
    expect(second.filter((e) => e.event === 'file_done')).toEqual([
      expect.objectContaining({ path: 'big.bin', bytes: 0, checksum: 'blake3', digest: blake3Hex(data), status: 'skipped' }),
    ]);
    expect(second.filter((e) => e.event === 'progress')).toEqual([]);
    expect(second.at(-1)).toMatchObject({ event: 'summary', files: 1, sent: 0, skipped: 1, bytes: 0 });
  });

  it('--overwrite over a different local file: the outcome is replaced, counted as such', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'notes.txt'), 'an older version\n');
    const r = await runCli(['get', serve.target, 'notes.txt', '--overwrite', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(cwd, 'notes.txt'), 'utf8')).toBe(NOTES);
    const events = ndjson(r.stdout);
    expect(events.find((e) => e.event === 'file_done')).toMatchObject({ outcome: 'replaced', status: 'sent' });
    expect(events.at(-1)).toMatchObject({ event: 'summary', sent: 1, outcomes: { sent: 0, replaced: 1, unchanged: 0 } });
  });

  it('a missing remote file: exit 5; --json gives an error event with its code', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, 'missing.txt'], { cwd });
    expect(r.code).toBe(5);
    expect(oneLineError(r.stderr)).toBe(`tcpsend: no such file or folder 'missing.txt' on ${serve.target}`);
    expect(r.stdout).toBe('');

    const json = await runCli(['get', serve.target, 'missing.txt', '--json'], { cwd });
    expect(json.code).toBe(5);
    const events = ndjson(json.stdout);
    const errors = events.filter((e) => e.event === 'error');
    expect(errors).toEqual([expect.objectContaining({ code: 'TCPSEND_ERR_NOT_FOUND', message: expect.stringContaining('missing.txt') })]);
    expect(events.map((e) => e.event)).not.toContain('file_done');
    expect(await fsp.readdir(cwd)).toEqual([]);
  });

  it('--verbose adds the stack trace, and only then', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    for (const flag of ['--verbose', '-v']) {
      const r = await runCli(['get', serve.target, 'missing.txt', flag], { cwd });
      expect(r.code).toBe(5);
      const lines = r.stderr.split('\n');
      expect(lines[0]).toBe(`tcpsend: no such file or folder 'missing.txt' on ${serve.target}`);
      expect(r.stderr).toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    }
  });
});

describe('tcpsend put', () => {
  it('sends a file byte for byte to the served folder', async () => {
    const { serve, root } = await serveFolder(['--allow-upload']);
    const cwd = await tempDir();
    const data = randomBytesFrom(3, 100_003);
    await fsp.writeFile(path.join(cwd, 'report.pdf'), data);
    const r = await runCli(['put', 'report.pdf', serve.target], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect((await fsp.readFile(path.join(root, 'report.pdf'))).equals(data)).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`^✓ /?report\\.pdf: 97\\.7 KiB, .*blake3 ${blake3Hex(data).slice(0, 16)}… verified\\n$`));
    expect(r.stdout).toBe('');
  });

  it('--json: file_done with the SHA-256 and throttled progress; again: skipped, nothing sent', async () => {
    const { serve, root } = await serveFolder(['--allow-upload']);
    const cwd = await tempDir();
    const data = randomBytesFrom(11, BIG);
    await fsp.writeFile(path.join(cwd, 'big.bin'), data);
    const r = await runCli(['put', 'big.bin', serve.target, '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect((await fsp.readFile(path.join(root, 'big.bin'))).equals(data)).toBe(true);
    const events = ndjson(r.stdout);
    expectWellFormedRun(events);
    expect(events[0]).toMatchObject({ event: 'start', op: 'put', target: serve.target });
    expectThrottledProgress(events, BIG);
    const done = events.filter((e) => e.event === 'file_done');
    expect(done).toEqual([expect.objectContaining({ size: BIG, bytes: BIG, checksum: 'blake3', digest: blake3Hex(data), status: 'sent', seconds: expect.any(Number) })]);
    expect(done[0]!.path).toMatch(/^\/?big\.bin$/);
    expect(events.at(-1)).toEqual({
      event: 'summary',
      files: 1,
      sent: 1,
      skipped: 0,
      failed: 0,
      bytes: BIG,
      seconds: expect.any(Number),
      outcomes: { sent: 1, replaced: 0, unchanged: 0, skipped: 0, deleted: 0 },
      time: expect.any(String),
    });

    const again = await runCli(['put', 'big.bin', serve.target, '--json'], { cwd });
    expect(again.code, again.stderr).toBe(0);
    const second = ndjson(again.stdout);
    expectWellFormedRun(second);
    expect(second.filter((e) => e.event === 'file_done')).toEqual([expect.objectContaining({ bytes: 0, checksum: 'blake3', digest: blake3Hex(data), status: 'skipped' })]);
    expect(second.at(-1)).toMatchObject({ event: 'summary', files: 1, sent: 0, skipped: 1, failed: 0, bytes: 0 });
  });

  it('several files, and --to puts them in a sub-folder', async () => {
    const { serve, root } = await serveFolder(['--allow-upload']);
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'a.txt'), 'A');
    await fsp.writeFile(path.join(cwd, 'b.txt'), 'BB');
    const r = await runCli(['put', 'a.txt', 'b.txt', serve.target, '--to', 'inbox/today'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(root, 'inbox/today/a.txt'), 'utf8')).toBe('A');
    expect(await fsp.readFile(path.join(root, 'inbox/today/b.txt'), 'utf8')).toBe('BB');
    expect(await fsp.readdir(root)).toEqual(expect.not.arrayContaining(['a.txt', 'b.txt']));
  });

  it('to a read-only server: exit 4, one line, nothing written; the stack only with --verbose', async () => {
    const { serve, root } = await serveFolder();
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'up.txt'), 'upload me');
    const r = await runCli(['put', 'up.txt', serve.target], { cwd });
    expect(r.code).toBe(4);
    expect(oneLineError(r.stderr)).toBe(
      `tcpsend: uploads are off on this server (start it with --allow-upload) on ${serve.target}`,
    );
    expect(await fsp.readdir(root)).toEqual(['notes.txt']);

    const verbose = await runCli(['put', 'up.txt', serve.target, '--verbose'], { cwd });
    expect(verbose.code).toBe(4);
    expect(verbose.stderr.split('\n')[0]).toBe(oneLineError(r.stderr));
    expect(verbose.stderr).toMatch(/^\s+at /m);

    const json = await runCli(['put', 'up.txt', serve.target, '--json'], { cwd });
    expect(json.code).toBe(4);
    expect(ndjson(json.stdout).filter((e) => e.event === 'error')).toEqual([expect.objectContaining({ code: 'TCPSEND_ERR_READ_ONLY' })]);
  });

  it('over a different file: refused with exit 4 unless both sides allow overwriting', async () => {
    const { serve, root } = await serveFolder(['--allow-upload']);
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'notes.txt'), 'new notes\n');
    const refused = await runCli(['put', 'notes.txt', serve.target], { cwd });
    expect(refused.code).toBe(4);
    expect(oneLineError(refused.stderr)).toMatch(/notes\.txt.*exists.*--overwrite/);
    // --overwrite alone is not enough: this server was not started with --allow-overwrite.
    const notAllowed = await runCli(['put', 'notes.txt', serve.target, '--overwrite'], { cwd });
    expect(notAllowed.code).toBe(4);
    expect(oneLineError(notAllowed.stderr)).toMatch(/--allow-overwrite/);
    expect(await fsp.readFile(path.join(root, 'notes.txt'), 'utf8')).toBe(NOTES);

    const { serve: permissive, root: root2 } = await serveFolder(['--allow-upload', '--allow-overwrite']);
    const replaced = await runCli(['put', 'notes.txt', permissive.target, '--overwrite'], { cwd });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(await fsp.readFile(path.join(root2, 'notes.txt'), 'utf8')).toBe('new notes\n');
  });
});

describe('exit 3 when nothing listens', () => {
  it('get, put and ls to a port just closed: exit 3 and one line naming the address', async () => {
    const port = await closedPort();
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, 'up.txt'), 'x');
    const runs: RunResult[] = await Promise.all([
      runCli(['get', `127.0.0.1:${port}`, 'notes.txt'], { cwd }),
      runCli(['put', 'up.txt', `127.0.0.1:${port}`], { cwd }),
      runCli(['ls', `127.0.0.1:${port}`], { cwd }),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(3);
      expect(oneLineError(r.stderr)).toContain(`127.0.0.1:${port}`);
    }
    expect(await fsp.readdir(cwd)).toEqual(['up.txt']);
  });
});

describe('TCPSEND_PORT', () => {
  it('is the port used when HOST has none; an explicit HOST:PORT wins over it', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    const env = { TCPSEND_PORT: String(serve.port) };
    const got = await runCli(['get', '127.0.0.1', 'notes.txt'], { cwd, env });
    expect(got.code, got.stderr).toBe(0);
    expect(await fsp.readFile(path.join(cwd, 'notes.txt'), 'utf8')).toBe(NOTES);
    const listed = await runCli(['ls', '127.0.0.1'], { cwd, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toBe('notes.txt\n');

    const explicit = await runCli(['ls', serve.target], { cwd, env: { TCPSEND_PORT: String(await closedPort()) } });
    expect(explicit.code, explicit.stderr).toBe(0);
    expect(explicit.stdout).toBe('notes.txt\n');
    const flag = await runCli(['ls', '127.0.0.1', '--port', String(serve.port)], { cwd });
    expect(flag.code, flag.stderr).toBe(0);
    expect(flag.stdout).toBe('notes.txt\n');
  });
});

describe('progress bars', () => {
  it('none when stderr is not a terminal, CI or not: plain lines only', async () => {
    const { serve, root } = await serveFolder(['--allow-upload']);
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(5, BIG));
    const cwd = await tempDir();
    const got = await runCli(['get', serve.target, 'big.bin'], { cwd, env: { CI: undefined } });
    expect(got.code, got.stderr).toBe(0);
    expectNoBars(got.stderr);
    expect(got.stderr).toMatch(/^✓ big\.bin: 8\.00 MiB, .*verified\n$/);
    const put = await runCli(['put', 'big.bin', serve.target, '--to', 'back'], { cwd, env: { CI: undefined } });
    expect(put.code, put.stderr).toBe(0);
    expectNoBars(put.stderr);
    expect(put.stderr).toMatch(/^✓ .*big\.bin: 8\.00 MiB, .*verified\n$/);
  });

  // The control for the test above: the same run, with stderr claiming to be a terminal.
  it('drawn when stderr is a terminal, and the result line still printed after them', async () => {
    const { serve, root } = await serveFolder();
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(5, BIG));
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, 'big.bin'], { cwd, env: { CI: undefined }, nodeArgs: FAKE_TTY_STDERR });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('\x1b[?25l'); // the bars hide the cursor while they draw
    expect(r.stderr).toMatch(/✓ big\.bin: 8\.00 MiB, .*verified\n$/);
  });

  it('before a resume, "checking the … already here…" with its own progress, then one measure: bytes of the file', async () => {
    const { serve, root } = await serveFolder();
    const data = randomBytesFrom(5, BIG);
    await fsp.writeFile(path.join(root, 'big.bin'), data);
    const cwd = await tempDir();
    await fsp.writeFile(path.join(cwd, '.big.bin.tcpsend-part'), data.subarray(0, 4 * 1024 * 1024));
    const r = await runCli(['get', serve.target, 'big.bin'], { cwd, env: { CI: undefined }, nodeArgs: FAKE_TTY_STDERR });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/checking the 4\.00 MiB already here… \d+%/);
    // Never a percentage of the whole beside the bytes of this run only: both count the file.
    for (const m of r.stderr.matchAll(/(\d+)% [█░ ]*\s+([\d.]+)\/8\.00 MiB/g)) {
      expect(Math.abs(Number(m[1]) - (Number(m[2]) / 8) * 100), m[0]).toBeLessThan(2);
    }
    expect(r.stderr).toMatch(/✓ big\.bin: 8\.00 MiB, resumed at 4\.00 MiB, .*verified\n/);
  });

  it('Ctrl-C on a terminal: the status line is cleared, then one line, and the cursor is back', async () => {
    const { serve, root } = await serveFolder();
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(5, BIG));
    const proxy = await startFaultProxy(serve.port, () => ({ cutAfter: 3 * 1024 * 1024, direction: 'down', stall: true }));
    try {
      const cwd = await tempDir();
      const child = spawn(process.execPath, [...FAKE_TTY_STDERR, BIN, 'get', `127.0.0.1:${proxy.port}`, 'big.bin'], {
        cwd,
        env: cliEnv({ CI: undefined }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      const deadline = Date.now() + 10_000;
      while (proxy.faults === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // A redraw at the stall (the child draws when its loop gets to it).
      while (!/\d+%/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toMatch(/\d+%/);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const at = stderr.indexOf('tcpsend: interrupted');
      expect(at, stderr).toBeGreaterThan(0);
      expect(stderr.slice(0, at).endsWith('\r\x1b[K') || stderr.slice(0, at).endsWith('\r\x1b[K\x1b[?25h'), JSON.stringify(stderr.slice(at - 40))).toBe(true);
      expect(stderr.slice(at)).toMatch(/^tcpsend: interrupted: partial files are kept; run the same command again to resume \(.*\)\n$/);
      expect(stderr).toContain('\x1b[?25h');
    } finally {
      await proxy.close();
    }
  });

  it('none on a terminal when CI is set', async () => {
    const { serve } = await serveFolder();
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, 'notes.txt'], { cwd, env: { CI: 'true' }, nodeArgs: FAKE_TTY_STDERR });
    expect(r.code, r.stderr).toBe(0);
    expectNoBars(r.stderr);
    expect(r.stderr).toMatch(/^✓ notes\.txt: 6 B, .*verified\n$/);
  });
});
