/**
 * Issue 15.14 and 15.5-second-half: every --json event goes through the one emitter and carries
 * the fields docs/cli.md promises for it, `time` included. The table in docs/cli.md is read
 * here and each event of each kind is checked against it: the Reporter's events one method at
 * a time, and every event of real get, put, ls and serve runs.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JsonEmitter } from '../../src/cli/output/json.js';
import { JsonReporter } from '../../src/cli/output/json-reporter.js';
import { RemoteError } from '../../src/errors.js';
import { assertBuilt, ndjson, randomBytesFrom, REPO, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

interface Promised {
  always: Set<string>;
  sometimes: Set<string>;
}

/** The `--json events` table of docs/cli.md: event → the fields it always and sometimes has. */
function documented(): Map<string, Promised> {
  const text = fs.readFileSync(path.join(REPO, 'docs/cli.md'), 'utf8');
  const section = text.slice(text.indexOf('## --json events'));
  const names = (cell: string) => new Set([...cell.matchAll(/`([a-zA-Z_0-9]+)`/g)].map((m) => m[1]!));
  const table = new Map<string, Promised>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const m = /^`([a-z_]+)`$/.exec(cells[1] ?? '');
    if (!m) continue;
    table.set(m[1]!, { always: names(cells[2]!), sometimes: names(cells[3]!) });
  }
  return table;
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function expectAsDocumented(events: Record<string, unknown>[], table: Map<string, Promised>): void {
  for (const e of events) {
    const promised = table.get(e.event as string);
    expect(promised, `undocumented event ${JSON.stringify(e)}`).toBeDefined();
    const keys = Object.keys(e);
    expect(keys[0], JSON.stringify(e)).toBe('event');
    expect(keys.at(-1), JSON.stringify(e)).toBe('time');
    expect(e.time).toMatch(TIME);
    const fields = new Set(keys.slice(1, -1));
    for (const f of promised!.always) expect(fields.has(f), `${e.event} lacks ${f}: ${JSON.stringify(e)}`).toBe(true);
    for (const f of fields) expect(promised!.always.has(f) || promised!.sometimes.has(f), `${e.event} has undocumented ${f}`).toBe(true);
  }
}

describe('--json events as docs/cli.md promises them', () => {
  it('the table lists the events the emitter knows', () => {
    const table = documented();
    expect([...table.keys()].sort()).toEqual(
      ['checking', 'entry', 'error', 'file_done', 'file_start', 'listening', 'notice', 'plan', 'progress', 'refused', 'request', 'start', 'summary', 'transfer_start'].sort(),
    );
    for (const { always } of table.values()) expect(always.size).toBeGreaterThan(0);
  });

  it("every Reporter event, one method at a time", () => {
    const out = new PassThrough();
    const r = new JsonReporter(new JsonEmitter(out));
    r.start({ op: 'get', target: 'h:1', files: null, bytes: null });
    r.plan({ files: 3, bytes: 30 });
    r.checking('a', 10, 10);
    r.fileStart('a', 10, 0);
    r.progress('a', 10, 10);
    r.fileDone({ path: 'a', size: 10, bytes: 10, checksum: 'sha256', digest: 'ab', seconds: 0.1, resumedFrom: 0, outcome: 'sent' });
    r.fileDone({ path: 'b', size: 10, bytes: 0, checksum: 'sha256', digest: '', seconds: 0, resumedFrom: 0, outcome: 'skipped', reason: 'a dotfile' });
    r.notice('hello');
    r.error(new RemoteError('NOT_FOUND', 'gone'), 'c');
    r.error(new Error('plain'));
    r.summary({ files: 3, sent: 1, replaced: 0, unchanged: 0, skipped: 1, deleted: 0, failed: 1, bytes: 10, seconds: 1 });
    const events = ndjson((out.read() as Buffer).toString('utf8'));
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['start', 'plan', 'checking', 'file_start', 'progress', 'file_done', 'notice', 'error', 'summary']));
    expectAsDocumented(events, documented());
    expect(events.find((e) => e.outcome === 'skipped')).toMatchObject({ status: 'skipped', reason: 'a dotfile' });
    expect(events.at(-1)).toMatchObject({ sent: 1, skipped: 1, outcomes: { sent: 1, replaced: 0, unchanged: 0, skipped: 1, deleted: 0 } });
  });

  it('every event of real runs: get (with a resume check and a notice), put, ls, and the serve log', async () => {
    const table = documented();
    const root = await tempDir('tcpsend-cli-root-');
    await fsp.writeFile(path.join(root, 'big.bin'), randomBytesFrom(51, 9 * 1024 * 1024));
    await fsp.mkdir(path.join(root, 'docs'));
    await fsp.writeFile(path.join(root, 'docs/a.txt'), 'a\n');
    const serve = await startServe(root, { json: true, args: ['--allow-upload'] });
    const cwd = await tempDir();
    // A partial file that does not match: checked, then discarded with a notice.
    await fsp.writeFile(path.join(cwd, '.big.bin.tcpsend-part'), randomBytesFrom(52, 2 * 1024 * 1024));
    const runs = [
      await runCli(['get', serve.target, 'big.bin', '--json'], { cwd }),
      await runCli(['get', serve.target, 'docs', 'copy', '--json'], { cwd }),
      await runCli(['get', serve.target, 'missing', '--json'], { cwd }),
      await runCli(['put', 'big.bin', serve.target, '--to', 'up', '--json'], { cwd }),
      await runCli(['ls', serve.target, '-R', '--json'], { cwd }),
    ];
    const client = runs.flatMap((r) => ndjson(r.stdout));
    expectAsDocumented(client, table);
    const kinds = new Set(client.map((e) => e.event));
    for (const kind of ['start', 'checking', 'file_start', 'progress', 'file_done', 'notice', 'error', 'summary', 'entry']) expect(kinds.has(kind), kind).toBe(true);

    // A client with a secret, against a server without: refused at the handshake.
    const secretFile = path.join(cwd, 'secret');
    await fsp.writeFile(secretFile, 'correct horse battery staple\n', { mode: 0o600 });
    const locked = await startServe(root, { json: true, args: ['--secret-file', secretFile] });
    await fsp.writeFile(path.join(cwd, 'wrong'), 'not the secret at all, really\n', { mode: 0o600 });
    const refusedRun = await runCli(['ls', locked.target, '--secret-file', path.join(cwd, 'wrong'), '--retries', '0'], { cwd });
    expect(refusedRun.code).not.toBe(0);
    await locked.waitFor(() => locked.stdout.includes('"refused"'), 'the refused event');

    await serve.waitFor(() => serve.stdout.includes('"verb":"LIST"'), 'the LIST request');
    const served = [...ndjson(serve.stdout), ...ndjson(locked.stdout)];
    expectAsDocumented(served, table);
    const serveKinds = new Set(served.map((e) => e.event));
    for (const kind of ['listening', 'transfer_start', 'request', 'refused']) expect(serveKinds.has(kind), kind).toBe(true);
    expect(served.filter((e) => e.event === 'request').every((e) => !String(e.peer).includes('::ffff:'))).toBe(true);
  }, 60_000); // seven CLI runs and two servers: slow on a loaded machine
});
