/**
 * Folder sync from the command line, against a real `tcpsend serve` child: what a re-run
 * prints, --dry-run, the order of --include and --exclude, hidden files, and exit statuses.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ndjson, removeTemps, runCli, startServe, stopAllCli, tempDir, treeOf } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

async function write(file: string, data: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, data);
}

async function makeTree(dir: string): Promise<void> {
  await write(path.join(dir, 'a.txt'), 'alpha\n');
  await write(path.join(dir, 'sub/b.txt'), 'bravo\n');
  await write(path.join(dir, 'sub/old.txt'), 'old\n');
  await write(path.join(dir, 'app.log'), 'log\n');
  await write(path.join(dir, 'important.log'), 'keep\n');
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('a re-run with nothing to do', () => {
  it('prints at most one summary line, for get and for put', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await makeTree(path.join(root, 'tree'));
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    expect((await runCli(['get', serve.target, 'tree', 'copy'], { cwd })).code).toBe(0);
    const again = await runCli(['get', serve.target, 'tree', 'copy'], { cwd });
    expect(again.code, again.stderr).toBe(0);
    expect(lines(again.stderr)).toEqual([expect.stringMatching(/^5 files: 0 received, 5 already identical; 0 B in /)]);
    expect(again.stdout).toBe('');

    expect((await runCli(['put', 'copy', serve.target, '--to', 'up'], { cwd })).code).toBe(0);
    const putAgain = await runCli(['put', 'copy', serve.target, '--to', 'up'], { cwd });
    expect(putAgain.code, putAgain.stderr).toBe(0);
    expect(lines(putAgain.stderr)).toEqual([expect.stringMatching(/^5 files: 0 sent, 5 already identical; /)]);
  });
});

describe('--dry-run', () => {
  it('-n names what would be sent, replaced and deleted, changes nothing; the real run does exactly that', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const source = path.join(root, 'tree');
    await makeTree(source);
    const serve = await startServe(root);
    const cwd = await tempDir();
    await runCli(['get', serve.target, 'tree', 'copy'], { cwd });
    await write(path.join(source, 'a.txt'), 'alpha, changed\n');
    await write(path.join(source, 'sub/new.txt'), 'new\n');
    await fsp.rm(path.join(source, 'sub/old.txt'));
    const before = await treeOf(path.join(cwd, 'copy'));

    const dry = await runCli(['get', serve.target, 'tree', 'copy', '--delete', '-n'], { cwd });
    expect(dry.code, dry.stderr).toBe(0);
    expect(lines(dry.stderr).slice(0, -1).sort()).toEqual(['would delete sub/old.txt', 'would replace a.txt', 'would send sub/new.txt']);
    expect(lines(dry.stderr).at(-1)).toMatch(/^dry run, nothing changed: 5 files: 1 received, 1 replaced, 1 deleted, 3 already identical; /);
    expect(await treeOf(path.join(cwd, 'copy'))).toEqual(before);
    expect(await fsp.readFile(path.join(cwd, 'copy/a.txt'), 'utf8')).toBe('alpha\n');

    const json = ndjson((await runCli(['get', serve.target, 'tree', 'copy', '--delete', '--dry-run', '--json'], { cwd })).stdout);
    const planned = json.filter((e) => e.event === 'file_done' && e.outcome !== 'unchanged');
    expect(planned.map((e) => `${e.outcome} ${e.path} ${e.dry_run}`).sort()).toEqual(['deleted sub/old.txt true', 'replaced a.txt true', 'sent sub/new.txt true']);
    expect(json.at(-1)).toMatchObject({ event: 'summary', outcomes: { sent: 1, replaced: 1, deleted: 1 }, dry_run: true });

    const real = await runCli(['get', serve.target, 'tree', 'copy', '--delete'], { cwd });
    expect(real.code, real.stderr).toBe(0);
    expect(await treeOf(path.join(cwd, 'copy'))).toEqual(await treeOf(source));
    expect(await fsp.readFile(path.join(cwd, 'copy/a.txt'), 'utf8')).toBe('alpha, changed\n');
  });
});

describe('--exclude and --include', () => {
  it('the first matching rule in command-line order decides', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    await makeTree(path.join(root, 'tree'));
    const serve = await startServe(root);
    const cwd = await tempDir();
    const includeFirst = await runCli(['get', serve.target, 'tree', 'one', '--include', 'important.log', '--exclude=*.log'], { cwd });
    expect(includeFirst.code, includeFirst.stderr).toBe(0);
    expect(await treeOf(path.join(cwd, 'one'))).toEqual(['a.txt', 'important.log', 'sub/', 'sub/b.txt', 'sub/old.txt']);
    const excludeFirst = await runCli(['get', serve.target, 'tree', 'two', '--exclude', '*.log', '--include', 'important.log'], { cwd });
    expect(excludeFirst.code, excludeFirst.stderr).toBe(0);
    expect(await treeOf(path.join(cwd, 'two'))).toEqual(['a.txt', 'sub/', 'sub/b.txt', 'sub/old.txt']);
  });

  it('an empty pattern is a usage error (exit 2)', async () => {
    const cwd = await tempDir();
    const r = await runCli(['get', '127.0.0.1:9', 'tree', '--exclude', ''], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--exclude and --include need a pattern/);
  });
});

describe('policy skips', () => {
  it('hidden files refused by a server without --dotfiles are named in the summary, and the put exits 0', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));
    await write(path.join(cwd, 'photos/.DS_Store'), 'junk');
    await write(path.join(cwd, 'photos/.git/HEAD'), 'ref');
    const r = await runCli(['put', 'photos', serve.target], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stderr).filter((l) => l.startsWith('tcpsend: skipped'))).toEqual([
      'tcpsend: skipped 2, hidden files the server does not take (serve --dotfiles): photos/.DS_Store, photos/.git/',
    ]);
    expect(await treeOf(path.join(root, 'photos'))).toEqual(['a.txt', 'app.log', 'important.log', 'sub/', 'sub/b.txt', 'sub/old.txt']);
  });
});

describe('put --delete', () => {
  it('-n names what would go on the server and changes nothing; then the mirror; exit 0', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const serve = await startServe(root, { args: ['--allow-upload', '--allow-overwrite', '--allow-delete'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));
    expect((await runCli(['put', 'photos', serve.target], { cwd })).code).toBe(0);
    await write(path.join(cwd, 'photos/a.txt'), 'alpha, changed\n');
    await fsp.rm(path.join(cwd, 'photos/sub'), { recursive: true });
    const before = await treeOf(path.join(root, 'photos'));

    const dry = await runCli(['put', 'photos', serve.target, '--delete', '-n'], { cwd });
    expect(dry.code, dry.stderr).toBe(0);
    expect(lines(dry.stderr).slice(0, -1).sort()).toEqual(['would delete photos/sub/', 'would replace photos/a.txt']);
    expect(await treeOf(path.join(root, 'photos'))).toEqual(before);

    const real = await runCli(['put', 'photos', serve.target, '--delete'], { cwd });
    expect(real.code, real.stderr).toBe(0);
    expect(await treeOf(path.join(root, 'photos'))).toEqual(await treeOf(path.join(cwd, 'photos')));
    expect(await fsp.readFile(path.join(root, 'photos/a.txt'), 'utf8')).toBe('alpha, changed\n');
  });

  it('to a server without --allow-delete: exit 4, one line that says so, nothing sent', async () => {
    const root = await tempDir('tcpsend-cli-root-');
    const serve = await startServe(root, { args: ['--allow-upload'] });
    const cwd = await tempDir();
    await makeTree(path.join(cwd, 'photos'));
    const r = await runCli(['put', 'photos', serve.target, '--delete'], { cwd });
    expect(r.code).toBe(4);
    expect(lines(r.stderr).filter((l) => l.includes('--allow-delete'))).toHaveLength(1);
    expect(await treeOf(root)).toEqual([]);
  });
});

