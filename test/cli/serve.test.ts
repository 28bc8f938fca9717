/** tcpsend serve as a child process: the banner, --json, the request log, and shutdown. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ndjson, oneLineError, PACKAGE_VERSION, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

/** A folder to serve, holding notes.txt. */
async function servedFolder(): Promise<string> {
  const root = await tempDir('tcpsend-cli-root-');
  await fsp.writeFile(path.join(root, 'notes.txt'), 'hello\n');
  return root;
}

describe('tcpsend serve: the banner on stderr', () => {
  it('says which folder, which port, and read-only, with get and ls lines but no put line', async () => {
    const root = await servedFolder();
    const serve = await startServe(root);
    expect(serve.stderr.split('\n')[0]).toMatch(
      new RegExp(`^tcpsend ${PACKAGE_VERSION.replaceAll('.', '\\.')} serving ${root} on port ${serve.port}, read-only\\b`),
    );
    await serve.waitFor(() => serve.stderr.includes(`tcpsend get 127.0.0.1:${serve.port} FILE`), 'the get line');
    await serve.waitFor(() => serve.stderr.includes(`tcpsend ls 127.0.0.1:${serve.port}`), 'the ls line');
    // The port it printed is the one it serves on.
    const r = await runCli(['ls', serve.target], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('notes.txt\n');
    // A transfer is logged (a listing only with --verbose).
    const got = await runCli(['get', serve.target, 'notes.txt'], { cwd: await tempDir() });
    expect(got.code, got.stderr).toBe(0);
    // By the time it logs that request, the whole banner is out: no put line in it.
    const banner = await serve.waitFor(() => {
      const at = serve.stderr.search(/^\d{4}-\d\d-\d\dT/m);
      return at >= 0 && serve.stderr.slice(0, at);
    }, 'the first request log line');
    expect(banner).not.toContain('uploads ON');
    expect(banner).not.toContain('tcpsend put');
    expect(serve.stdout).toBe('');
  });

  it('with --allow-upload says uploads ON and shows a tcpsend put line', async () => {
    const serve = await startServe(await servedFolder(), { args: ['--allow-upload'] });
    expect(serve.stderr.split('\n')[0]).toMatch(new RegExp(`on port ${serve.port}, uploads ON\\b`));
    await serve.waitFor(() => serve.stderr.includes(`tcpsend put FILE 127.0.0.1:${serve.port}`), 'the put line');
    expect(serve.stderr).not.toContain('read-only');
  });
});

describe('tcpsend serve --json', () => {
  it("announces a 'listening' event on stdout, then one 'request' event per request", async () => {
    const root = await servedFolder();
    const serve = await startServe(root, { json: true });
    const [listening] = ndjson(serve.stdout);
    expect(listening).toMatchObject({ event: 'listening', version: PACKAGE_VERSION, root, port: serve.port, upload: false });
    expect(listening!.addresses).toEqual([`127.0.0.1:${serve.port}`]);
    expect(serve.stderr).toBe(''); // no banner: stdout is for the machine, stderr stays quiet

    const ok = await runCli(['get', serve.target, 'notes.txt'], { cwd: await tempDir() });
    expect(ok.code, ok.stderr).toBe(0);
    const missing = await runCli(['get', serve.target, 'missing.txt'], { cwd: await tempDir() });
    expect(missing.code).toBe(5);

    const requests = await serve.waitFor(() => {
      const events = ndjson(serve.stdout).filter((e) => e.event === 'request');
      return events.filter((e) => e.verb === 'QUIT').length === 2 && events;
    }, 'two QUIT request events');
    for (const e of requests) expect(e.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    const get = requests.find((e) => e.verb === 'GET');
    expect(get).toMatchObject({ path: 'notes.txt', bytes: 6, result: 'OK' });
    expect(typeof get!.ms).toBe('number');
    const stat = requests.find((e) => e.verb === 'STAT' && e.path === 'missing.txt');
    expect(stat).toMatchObject({ result: 'NOT_FOUND' });
    expect(stat!.message).toContain('missing.txt');
  });

  it('says upload: true with --allow-upload', async () => {
    const serve = await startServe(await servedFolder(), { json: true, args: ['--allow-upload'] });
    expect(ndjson(serve.stdout)[0]).toMatchObject({ event: 'listening', upload: true });
  });
});

describe('tcpsend serve: the request log', () => {
  it('logs one line per request on stderr: time, peer, verb, path, bytes and result', async () => {
    const root = await servedFolder();
    const serve = await startServe(root);
    const r = await runCli(['get', serve.target, 'notes.txt'], { cwd: await tempDir() });
    expect(r.code, r.stderr).toBe(0);
    // Log lines are the ones that start with a timestamp; the rest is the banner.
    const log = await serve.waitFor(() => {
      const lines = serve.stderr.split('\n').filter((l) => /^\d{4}-/.test(l));
      return lines.some((l) => / GET /.test(l)) && lines;
    }, 'the GET log line');
    // get = HELLO, STAT, GET, QUIT: only the transfer is logged; the session's chatter is not.
    expect(log.map((l) => l.split(' ')[2])).toEqual(['GET']);
    for (const line of log) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:\d+ [A-Z]+ /);
    expect(log[0]).toMatch(/ GET "notes\.txt" 6 B [\d.]+ ms OK$/);

    const missing = await runCli(['ls', serve.target, 'nowhere'], { cwd: root });
    expect(missing.code).toBe(5);
    const errLine = await serve.waitFor(() => serve.stderr.split('\n').find((l) => / LIST "nowhere" /.test(l)), 'the LIST log line');
    expect(errLine).toMatch(/ ERR NOT_FOUND: .*nowhere/);
  });

  it('with --verbose, every request: HELLO, STAT, GET and QUIT too', async () => {
    const root = await servedFolder();
    const serve = await startServe(root, { args: ['--verbose'] });
    const r = await runCli(['get', serve.target, 'notes.txt'], { cwd: await tempDir() });
    expect(r.code, r.stderr).toBe(0);
    const log = await serve.waitFor(() => {
      const lines = serve.stderr.split('\n').filter((l) => /^\d{4}-/.test(l));
      return lines.some((l) => / QUIT /.test(l)) && lines;
    }, 'the QUIT log line');
    expect(log.map((l) => l.split(' ')[2])).toEqual(['HELLO', 'STAT', 'GET', 'QUIT']);
  });
});

describe('tcpsend serve: shutdown', () => {
  it('exits 0 promptly on SIGTERM, also after serving a client', async () => {
    const root = await servedFolder();
    const serve = await startServe(root);
    const r = await runCli(['ls', serve.target], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const stopped = await serve.stop(10_000);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(3_000);
    expect(serve.stderr).toMatch(/shutting down/);
  });

  it('exits 0 promptly on SIGTERM when idle (--json)', async () => {
    const serve = await startServe(await servedFolder(), { json: true });
    const stopped = await serve.stop(10_000);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(3_000);
  });
});

describe('tcpsend serve: failures to start', () => {
  it('a port already in use: one line, and a non-zero exit', async () => {
    const root = await servedFolder();
    const first = await startServe(root);
    const r = await runCli(['serve', root, '--port', String(first.port), '--host', '127.0.0.1'], { cwd: root });
    expect(r.code).toBe(1);
    expect(oneLineError(r.stderr)).toBe(
      `tcpsend: port ${first.port} is already in use (try --port with another number, or --port 0 for any free one)`,
    );
    expect(first.running).toBe(true);
  });

  it('a folder that does not exist: exit 5, one line', async () => {
    const cwd = await tempDir();
    const r = await runCli(['serve', 'no-such-folder', '--port', '0', '--host', '127.0.0.1'], { cwd });
    expect(r.code).toBe(5);
    expect(oneLineError(r.stderr)).toMatch(/no-such-folder/);
  });
});
