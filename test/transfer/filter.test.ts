/** --exclude / --include: rsync's first-match rules and anchoring, picomatch's globs. */
import { describe, expect, it } from 'vitest';
import { PathFilter, filterRulesFromArgs, type FilterRule } from '../../src/transfer/filter.js';

const ex = (pattern: string): FilterRule => ({ kind: 'exclude', pattern });
const inc = (pattern: string): FilterRule => ({ kind: 'include', pattern });

describe('PathFilter', () => {
  it('no rules: nothing is excluded', () => {
    const f = new PathFilter([]);
    expect(f.empty).toBe(true);
    expect(f.excludes('a/b.txt', false)).toBe(false);
  });

  it('a pattern without / matches the last name at any depth, dotfiles included', () => {
    const f = new PathFilter([ex('*.log'), ex('.git')]);
    expect(f.excludes('x.log', false)).toBe(true);
    expect(f.excludes('a/b/x.log', false)).toBe(true);
    expect(f.excludes('.hidden.log', false)).toBe(true);
    expect(f.excludes('x.log.txt', false)).toBe(false);
    expect(f.excludes('.git', true)).toBe(true);
    expect(f.excludes('sub/.git', true)).toBe(true);
    expect(f.excludes('sub/.github', true)).toBe(false);
  });

  it('an excluded folder takes everything below it', () => {
    const f = new PathFilter([ex('node_modules')]);
    expect(f.excludes('node_modules/a/b.js', false)).toBe(true);
    expect(f.excludes('app/node_modules/x', false)).toBe(true);
    expect(f.excludes('app/src/x', false)).toBe(false);
  });

  it('a leading / anchors at the top of the synced folder', () => {
    const f = new PathFilter([ex('/build')]);
    expect(f.excludes('build', true)).toBe(true);
    expect(f.excludes('build/out.o', false)).toBe(true);
    expect(f.excludes('src/build', true)).toBe(false);
  });

  it('a / inside the pattern matches the end of the path at a folder boundary', () => {
    const f = new PathFilter([ex('cache/*.tmp')]);
    expect(f.excludes('cache/a.tmp', false)).toBe(true);
    expect(f.excludes('x/cache/a.tmp', false)).toBe(true);
    expect(f.excludes('xcache/a.tmp', false)).toBe(false);
    expect(f.excludes('cache/sub/a.tmp', false)).toBe(false); // * stops at /
    expect(new PathFilter([ex('cache/**')]).excludes('cache/sub/a.tmp', false)).toBe(true);
  });

  it('a trailing / matches folders only', () => {
    const f = new PathFilter([ex('tmp/')]);
    expect(f.excludes('tmp', true)).toBe(true);
    expect(f.excludes('tmp', false)).toBe(false);
    expect(f.excludes('a/tmp/x', false)).toBe(true);
  });

  it('the first matching rule decides, in the order given', () => {
    const keepImportant = new PathFilter([inc('important.log'), ex('*.log')]);
    expect(keepImportant.excludes('important.log', false)).toBe(false);
    expect(keepImportant.excludes('other.log', false)).toBe(true);
    const excludeFirst = new PathFilter([ex('*.log'), inc('important.log')]);
    expect(excludeFirst.excludes('important.log', false)).toBe(true);
  });

  it("only *.txt: folders must be included first, as with rsync", () => {
    const withoutFolders = new PathFilter([inc('*.txt'), ex('*')]);
    expect(withoutFolders.excludes('a.txt', false)).toBe(false);
    expect(withoutFolders.excludes('sub/a.txt', false)).toBe(true); // 'sub' itself is excluded
    const withFolders = new PathFilter([inc('*/'), inc('*.txt'), ex('*')]);
    expect(withFolders.excludes('sub/a.txt', false)).toBe(false);
    expect(withFolders.excludes('sub/a.bin', false)).toBe(true);
  });

  it('character classes and ? come from picomatch', () => {
    const f = new PathFilter([ex('file[0-9].?')]);
    expect(f.excludes('d/file7.c', false)).toBe(true);
    expect(f.excludes('d/fileA.c', false)).toBe(false);
    expect(f.excludes('d/file7.cc', false)).toBe(false);
  });
});

describe('filterRulesFromArgs', () => {
  it('keeps the command-line order of --include and --exclude, in both spellings, up to --', () => {
    expect(filterRulesFromArgs(['put', '--include', 'a*', 'dir', '--exclude=*.log', '-n', '--exclude', '*', 'h:1', '--', '--include', 'x'])).toEqual([
      inc('a*'),
      ex('*.log'),
      ex('*'),
    ]);
  });
});
