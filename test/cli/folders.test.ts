/** tcpsend put DIR and get DIR against a real `tcpsend serve` child: trees, metadata, re-sync. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  ndjson,
  randomBytesFrom,
  removeTemps,
  runCli,
  sha256,
  startServe,
  stopAllCli,
  tempDir,
  treeOf,
} from '../helpers/cli.js';
import { blake3Hex } from '../helpers/digests.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

const at = (iso: string) => new Date(iso);

interface Spec {
  files: Record<string, { data: Buffer; mode: number; mtime: Date }>;
  dirs: Record<string, { mode: number; mtime: Date }>;
}

/**
 * Nested folders, an empty one, a file over 1 MiB (the two-step PUT) and small ones (the
 * pipelined one), each with its own mode and an mtime in whole seconds.
 */
const SPEC: Spec = {
  files: {
    'a.txt': { data: Buffer.from('alpha\n'), mode: 0o640, mtime: at('2021-03-04T05:06:07Z') },
    'sub/b.bin': { data: randomBytesFrom(2, 300_001), mode: 0o600, mtime: at('2020-01-02T03:04:05Z') },
    'sub/deeper/c.txt': { data: Buffer.from(''), mode: 0o644, mtime: at('2019-12-31T23:59:59Z') },
    'large.bin': { data: randomBytesFrom(9, 1_500_000), mode: 0o604, mtime: at('2022-06-07T08:09:10Z') },
  },
  dirs: {
    sub: { mode: 0o750, mtime: at('2018-05-05T05:05:05Z') },
    'sub/deeper': { mode: 0o755, mtime: at('2017-04-04T04:04:04Z') },
    empty: { mode: 0o700, mtime: at('2016-03-03T03:03:03Z') },
  },
};
const FILE_COUNT = Object.keys(SPEC.files).length;
const TOTAL_BYTES = Object.values(SPEC.files).reduce((n, f) => n + f.data.length, 0);

async function makeTree(dir: string, spec: Spec = SPEC): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (const rel of Object.keys(spec.dirs)) await fsp.mkdir(path.join(dir, rel), { recursive: true });
  for (const [rel, f] of Object.entries(spec.files)) {
    await fsp.writeFile(path.join(dir, rel), f.data);
    await fsp.chmod(path.join(dir, rel), f.mode);
    await fsp.utimes(path.join(dir, rel), f.mtime, f.mtime);
  }
  // Folders last, deepest first: writing into a folder moves its mtime.
  for (const rel of Object.keys(spec.dirs).sort().reverse()) {
    const d = spec.dirs[rel]!;
    await fsp.chmod(path.join(dir, rel), d.mode);
    await fsp.utimes(path.join(dir, rel), d.mtime, d.mtime);
  }
}

/** `dir` holds exactly SPEC: the same tree, bytes, modes and mtimes. */
async function expectTree(dir: string, spec: Spec = SPEC): Promise<void> {
  const expected = [...Object.keys(spec.files), ...Object.keys(spec.dirs).map((d) => `${d}/`)].sort();
  expect(await treeOf(dir)).toEqual(expected);
  for (const [rel, f] of Object.entries(spec.files)) {
    const file = path.join(dir, rel);
    expect(sha256(await fsp.readFile(file)), rel).toBe(sha256(f.data));
    const st = await fsp.stat(file);
    expect((st.mode & 0o777).toString(8), `${rel} mode`).toBe(f.mode.toString(8));
    expect(st.mtime.toISOString(), `${rel} mtime`).toBe(f.mtime.toISOString());
  }
  for (const [rel, d] of Object.entries(spec.dirs)) {
    const st = await fsp.stat(path.join(dir, rel));
    expect(st.isDirectory(), rel).toBe(true);
    expect((st.mode & 0o777).toString(8), `${rel}/ mode`).toBe(d.mode.toString(8));
    expect(st.mtime.toISOString(), `${rel}/ mtime`).toBe(d.mtime.toISOString());
  }
}

/**
 * A second run that must move nothing: every file unchanged, a summary of zeros. Paths are
 * reported under `prefix` (a put names where each file landed on the server). The quick check
 * (size and mtime) decided without reading the files: no SHA-256 was computed for them.
 */
function expectNothingMoved(stdout: string, prefix = ''): void {
  const events = ndjson(stdout);
  const done = events.filter((e) => e.event === 'file_done');
  expect(done.map((e) => e.path).sort()).toEqual(Object.keys(SPEC.files).map((rel) => `${prefix}${rel}`).sort());
  for (const e of done) {
    expect(e.status, e.path).toBe('skipped');
    expect(e.outcome, e.path).toBe('unchanged');
    expect(e.bytes, e.path).toBe(0);
    expect(e.digest, e.path).toBe('');
  }
  expect(events.filter((e) => ['file_start', 'progress', 'error'].includes(e.event))).toEqual([]);
  expect(events.at(-1)).toMatchObject({ event: 'summary', files: FILE_COUNT, sent: 0, skipped: FILE_COUNT, failed: 0, bytes: 0, outcomes: { unchanged: FILE_COUNT, skipped: 0 } });
}

describe('tcpsend put DIR', () => {
  it("recreates DIR's tree under the served root, modes and mtimes kept; a second put sends nothing", async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));

    const first = await runCli(['put', 'photos', serve.target], { cwd });
    expect(first.code, first.stderr).toBe(0);
    expect(await fsp.readdir(root)).toEqual(['photos']);
    await expectTree(path.join(root, 'photos'));
    expect(first.stderr).not.toMatch(/[\r\x1b█░]/); // stderr is a pipe: no progress bars
    const lines = first.stderr.split('\n').filter((l) => l !== '');
    // Each file named where it landed on the server.
    expect(lines.filter((l) => l.startsWith('✓ ')).map((l) => l.slice(2, l.indexOf(':'))).sort()).toEqual(Object.keys(SPEC.files).map((rel) => `photos/${rel}`).sort());
    expect(lines.at(-1)).toMatch(new RegExp(`^${FILE_COUNT} files: ${FILE_COUNT} sent, 0 already identical; `));

    const second = await runCli(['put', 'photos', serve.target, '--json'], { cwd });
    expect(second.code, second.stderr).toBe(0);
    expectNothingMoved(second.stdout, 'photos/');
    await expectTree(path.join(root, 'photos'));
  });

  it('--to puts the folder inside a sub-folder of the root', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));
    const r = await runCli(['put', './photos/', serve.target, '--to', 'backup/2024', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(ndjson(r.stdout).at(-1)).toMatchObject({ event: 'summary', files: FILE_COUNT, sent: FILE_COUNT, bytes: TOTAL_BYTES });
    expect(await fsp.readdir(root)).toEqual(['backup']);
    expect(await fsp.readdir(path.join(root, 'backup/2024'))).toEqual(['photos']);
    await expectTree(path.join(root, 'backup/2024/photos'));
  });

  it('a file that differs on a server without --allow-overwrite: skipped and named, the others sent, exit 4', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await fsp.mkdir(path.join(root, 'photos'));
    await fsp.writeFile(path.join(root, 'photos/a.txt'), 'something else\n');
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));
    const r = await runCli(['put', 'photos', serve.target, '--json'], { cwd });
    expect(r.code).toBe(4);
    const events = ndjson(r.stdout);
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
    const done = events.filter((e) => e.event === 'file_done');
    expect(done.filter((e) => e.outcome === 'sent').map((e) => e.path).sort()).toEqual(['photos/large.bin', 'photos/sub/b.bin', 'photos/sub/deeper/c.txt']);
    expect(done.filter((e) => e.outcome === 'skipped')).toEqual([expect.objectContaining({ path: 'photos/a.txt', reason: expect.stringContaining('--allow-overwrite') })]);
    // The summary is the documented fields only.
    expect(Object.keys(events.at(-1)!).sort()).toEqual(['bytes', 'event', 'failed', 'files', 'outcomes', 'seconds', 'sent', 'skipped', 'time']);
    expect(events.at(-1)).toMatchObject({ event: 'summary', sent: FILE_COUNT - 1, failed: 0, outcomes: { skipped: 1 } });
    expect(await fsp.readFile(path.join(root, 'photos/a.txt'), 'utf8')).toBe('something else\n');
    expect(sha256(await fsp.readFile(path.join(root, 'photos/large.bin')))).toBe(sha256(SPEC.files['large.bin']!.data));
    // Without --json: the skipped file is named in one line of the summary.
    const human = await runCli(['put', 'photos', serve.target], { cwd });
    expect(human.code).toBe(4);
    const skipLines = human.stderr.split('\n').filter((l) => l.startsWith('tcpsend: skipped'));
    expect(skipLines).toEqual([expect.stringMatching(/^tcpsend: skipped 1, different on the server and not replaced \(the server needs --allow-overwrite\): photos\/a\.txt$/)]);
  });
});

describe('tcpsend get DIR', () => {
  it('fills LOCAL with the remote folder, modes and mtimes kept; a second get moves nothing', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await makeTree(path.join(root, 'album'));
    const serve = await startServe(root);
    const cwd = await tempDir();

    const first = await runCli(['get', serve.target, 'album', 'copy', '--json'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    expect(await fsp.readdir(cwd)).toEqual(['copy']);
    await expectTree(path.join(cwd, 'copy'));
    const events = ndjson(first.stdout);
    expect(events[0]).toMatchObject({ event: 'start', op: 'get', target: serve.target });
    const done = events.filter((e) => e.event === 'file_done');
    expect(done.map((e) => e.path).sort()).toEqual(Object.keys(SPEC.files).sort());
    for (const e of done) expect(e).toMatchObject({ status: 'sent', bytes: SPEC.files[e.path]!.data.length, checksum: 'blake3', digest: blake3Hex(SPEC.files[e.path]!.data) });
    expect(events.at(-1)).toMatchObject({ event: 'summary', files: FILE_COUNT, sent: FILE_COUNT, skipped: 0, failed: 0, bytes: TOTAL_BYTES, outcomes: { sent: FILE_COUNT, unchanged: 0 } });

    const second = await runCli(['get', serve.target, 'album', 'copy', '--json'], { cwd });
    expect(second.code, second.stderr).toBe(0);
    expectNothingMoved(second.stdout);
    await expectTree(path.join(cwd, 'copy'));
  });

  it("without LOCAL, saves the folder under its own name here", async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await makeTree(path.join(root, 'album'));
    const serve = await startServe(root);
    const cwd = await tempDir();
    const r = await runCli(['get', serve.target, '/album/'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readdir(cwd)).toEqual(['album']);
    await expectTree(path.join(cwd, 'album'));
    // A download is summarised as received, not sent.
    expect(r.stderr.split('\n').filter((l) => l !== '').at(-1)).toMatch(new RegExp(`^${FILE_COUNT} files: ${FILE_COUNT} received, 0 already identical; `));
  });
});
