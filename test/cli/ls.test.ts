/** tcpsend ls against a real `tcpsend serve` child: plain, -l, -R, --json, and its errors. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ndjson, oneLineError, removeTemps, runCli, startServe, stopAllCli, tempDir, type ServeProcess } from '../helpers/cli.js';

// One read-only server for the whole file: ls changes nothing.
let serve: ServeProcess;
let cwd: string;
const T1 = new Date('2021-03-04T05:06:07Z');
const T2 = new Date('2019-12-31T23:59:00Z');
const HUGE = 10_050;

beforeAll(async () => {
  assertBuilt();
  const root = await tempDir('tcpsend-cli-root-');
  await fsp.mkdir(path.join(root, 'docs/guides'), { recursive: true });
  await fsp.mkdir(path.join(root, 'empty'));
  await fsp.writeFile(path.join(root, 'notes.txt'), 'hello\n');
  await fsp.writeFile(path.join(root, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 512));
  await fsp.writeFile(path.join(root, 'docs/readme.md'), '# hi\n');
  await fsp.writeFile(path.join(root, 'docs/guides/setup.md'), 'steps\n');
  await fsp.writeFile(path.join(root, 'name with spaces.txt'), 'x');
  await fsp.chmod(path.join(root, 'notes.txt'), 0o640);
  await fsp.chmod(path.join(root, 'empty'), 0o700);
  await fsp.utimes(path.join(root, 'notes.txt'), T1, T1);
  await fsp.utimes(path.join(root, 'big.bin'), T1, T1);
  await fsp.utimes(path.join(root, 'empty'), T2, T2);
  serve = await startServe(root);
  cwd = await tempDir();
});
afterAll(async () => {
  await stopAllCli();
  await removeTemps();
});

const ls = (...args: string[]) => runCli(['ls', serve.target, ...args], { cwd });

describe('tcpsend ls', () => {
  it('prints one name per line on stdout, folders with a trailing /', async () => {
    const r = await ls();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.split('\n').slice(0, -1).sort()).toEqual(['big.bin', 'docs/', 'empty/', 'name with spaces.txt', 'notes.txt']);
  });

  it('a folder of more than 10,000 names is still shown sorted', async () => {
    // More names than a server lists sorted (it then lists them as the file system gives them).
    const root = await tempDir('tcpsend-cli-huge-');
    await Promise.all(Array.from({ length: HUGE }, (_, i) => fsp.writeFile(path.join(root, `n${((HUGE - i) * 7919) % 100_003}`), '')));
    const huge = await startServe(root);
    const r = await runCli(['ls', huge.target], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const names = r.stdout.split('\n').slice(0, -1);
    expect(names).toHaveLength(HUGE);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('lists a sub-folder', async () => {
    const r = await ls('docs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').slice(0, -1).sort()).toEqual(['guides/', 'readme.md']);
  });

  it('-R lists everything below, with paths, each folder before its contents', async () => {
    for (const flag of ['-R', '--recursive']) {
      const r = await ls(flag);
      expect(r.code, r.stderr).toBe(0);
      const names = r.stdout.split('\n').slice(0, -1);
      expect([...names].sort()).toEqual([
        'big.bin',
        'docs/',
        'docs/guides/',
        'docs/guides/setup.md',
        'docs/readme.md',
        'empty/',
        'name with spaces.txt',
        'notes.txt',
      ]);
      expect(names.indexOf('docs/')).toBeLessThan(names.indexOf('docs/readme.md'));
      expect(names.indexOf('docs/guides/')).toBeLessThan(names.indexOf('docs/guides/setup.md'));
    }
  });

  it('-l adds type, mode, size and date (UTC) to each line', async () => {
    const r = await ls('-l');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines).toHaveLength(5);
    const byName = new Map(
      lines.map((line) => {
        const m = /^([-d])([0-7]{4}) +(\S+(?: \S+)?) +(\d{4}-\d\d-\d\d \d\d:\d\d) +(.+)$/.exec(line);
        expect(m, line).not.toBeNull();
        return [m![5]!, { type: m![1], mode: m![2], size: m![3], when: m![4] }];
      }),
    );
    expect(byName.get('notes.txt')).toEqual({ type: '-', mode: '0640', size: '6 B', when: '2021-03-04 05:06' });
    expect(byName.get('big.bin')).toEqual({ type: '-', mode: expect.any(String), size: '3.00 MiB', when: '2021-03-04 05:06' });
    expect(byName.get('empty/')).toEqual({ type: 'd', mode: '0700', size: '-', when: '2019-12-31 23:59' });
    expect(byName.get('docs/')).toMatchObject({ type: 'd', size: '-' });
  });

  it('-lR together, as in the help example', async () => {
    const r = await ls('docs', '-lR');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines.map((l) => l.split(/ +/).at(-1)).sort()).toEqual(['guides/', 'guides/setup.md', 'readme.md']);
    expect(lines.find((l) => l.endsWith(' readme.md'))).toMatch(/^-\d{4} +5 B +\d{4}-/);
  });

  it('--json: one entry event per entry, with type, size, mtime and mode', async () => {
    const r = await ls('--json', '-R');
    expect(r.code, r.stderr).toBe(0);
    const events = ndjson(r.stdout);
    expect(events.every((e) => e.event === 'entry')).toBe(true);
    expect(events.map((e) => e.path).sort()).toEqual([
      'big.bin',
      'docs',
      'docs/guides',
      'docs/guides/setup.md',
      'docs/readme.md',
      'empty',
      'name with spaces.txt',
      'notes.txt',
    ]);
    const byPath = new Map(events.map((e) => [e.path, e]));
    expect(byPath.get('notes.txt')).toEqual({ event: 'entry', path: 'notes.txt', type: 'file', size: 6, mtime: T1.getTime(), mode: '640', time: expect.any(String) });
    expect(byPath.get('big.bin')).toMatchObject({ type: 'file', size: 3 * 1024 * 1024 + 512, mtime: T1.getTime() });
    expect(byPath.get('empty')).toMatchObject({ type: 'dir', mtime: T2.getTime(), mode: '700' });
    expect(byPath.get('docs/guides')).toMatchObject({ type: 'dir' });
  });

  it('a missing folder: exit 5 and one line; --json: an error event', async () => {
    const r = await ls('nowhere');
    expect(r.code).toBe(5);
    expect(oneLineError(r.stderr)).toBe(`tcpsend: no such file or folder 'nowhere' on ${serve.target}`);
    expect(r.stdout).toBe('');
    const json = await ls('nowhere', '--json');
    expect(json.code).toBe(5);
    expect(ndjson(json.stdout)).toEqual([expect.objectContaining({ event: 'error', code: 'TCPSEND_ERR_NOT_FOUND' })]);
  });

  // Was "exit 4, not a folder" (issue 15.15): a file is listed as itself, as ls(1) does.
  it('a file instead of a folder: listed as itself, -l and --json too', async () => {
    const r = await ls('notes.txt');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('notes.txt\n');
    const long = await ls('/notes.txt', '-l');
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(/^-0640 +6 B +2021-03-04 05:06  notes\.txt\n$/);
    const json = await ls('notes.txt', '--json');
    expect(ndjson(json.stdout)).toEqual([{ event: 'entry', path: 'notes.txt', type: 'file', size: 6, mtime: T1.getTime(), mode: '640', time: expect.any(String) }]);
  });

  it('a name inside a file still fails: exit 4, one line', async () => {
    const r = await ls('notes.txt/x');
    expect(r.code).toBe(4);
    expect(oneLineError(r.stderr)).toMatch(/notes\.txt/);
  });
});
