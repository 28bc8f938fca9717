/** The per-entry decision of a folder sync, and what --delete removes. */
import { describe, expect, it } from 'vitest';
import { compareEntry, entriesToDelete, folderAttributesDiffer, type TreeEntry } from '../../src/client/compare.js';

const file = (size: number, mtimeMs: number): TreeEntry => ({ type: 'file', size, mtimeMs, mode: 0o644 });
const dir = (mtimeMs = 1, mode = 0o755): TreeEntry => ({ type: 'dir', size: null, mtimeMs, mode });
const link = (target: string): TreeEntry => ({ type: 'link', size: 0, mtimeMs: 1, mode: 0o777, target });

describe('compareEntry', () => {
  it('the quick check: same size and mtime is unchanged; either differing is a replace', () => {
    expect(compareEntry(file(10, 5), undefined)).toBe('new');
    expect(compareEntry(file(10, 5), file(10, 5))).toBe('unchanged');
    expect(compareEntry(file(10, 5), file(10, 6))).toBe('replace');
    expect(compareEntry(file(10, 5), file(11, 5))).toBe('replace');
  });

  it('--checksum: same size means the contents decide, whatever the mtimes; a different size is a replace', () => {
    expect(compareEntry(file(10, 5), file(10, 5), { checksum: true })).toBe('compare-content');
    expect(compareEntry(file(10, 5), file(10, 9), { checksum: true })).toBe('compare-content');
    expect(compareEntry(file(10, 5), file(12, 5), { checksum: true })).toBe('replace');
  });

  it('--ignore-existing keeps what differs; the unchanged stay unchanged', () => {
    expect(compareEntry(file(10, 5), file(11, 5), { ignoreExisting: true })).toBe('keep');
    expect(compareEntry(file(10, 5), file(10, 5), { ignoreExisting: true })).toBe('unchanged');
    expect(compareEntry(link('a'), link('b'), { ignoreExisting: true })).toBe('keep');
  });

  it('links: the same text is unchanged; another text, or a file, is replaced', () => {
    expect(compareEntry(link('a'), link('a'))).toBe('unchanged');
    expect(compareEntry(link('a'), link('b'))).toBe('replace');
    expect(compareEntry(link('a'), file(1, 1))).toBe('replace');
  });

  it('another kind in the way: a folder for a file or link, a file or link for a folder, a link for a file', () => {
    expect(compareEntry(file(1, 1), dir())).toBe('in-the-way');
    expect(compareEntry(link('a'), dir())).toBe('in-the-way');
    expect(compareEntry(dir(), file(1, 1))).toBe('in-the-way');
    expect(compareEntry(dir(), link('x'))).toBe('in-the-way');
    expect(compareEntry(file(1, 1), link('x'))).toBe('in-the-way');
    expect(compareEntry(dir(), dir())).toBe('unchanged');
  });

  it("a folder's attributes", () => {
    expect(folderAttributesDiffer(dir(5, 0o755), dir(5, 0o755))).toBe(false);
    expect(folderAttributesDiffer(dir(5, 0o755), dir(6, 0o755))).toBe(true);
    expect(folderAttributesDiffer(dir(5, 0o755), dir(5, 0o700))).toBe(true);
    expect(folderAttributesDiffer(dir(5, 0o755), undefined)).toBe(true);
  });
});

describe('entriesToDelete', () => {
  const e = (rel: string, type = 'file') => ({ rel, type });
  const names = (list: { rel: string }[]) => list.map((x) => x.rel);

  it('what the source lacks, topmost only: a folder that goes takes its contents', () => {
    const dest = [e('a'), e('gone', 'dir'), e('gone/x'), e('gone/sub', 'dir'), e('gone/sub/y'), e('keep', 'dir'), e('keep/old'), e('keep/new'), e('z')];
    const source = new Set(['a', 'keep', 'keep/new']);
    expect(names(entriesToDelete(dest, (rel) => source.has(rel), () => false))).toEqual(['gone', 'keep/old', 'z']);
  });

  it('protected entries stay, and a folder holding one is not removed whole', () => {
    const dest = [e('d', 'dir'), e('d/a.log'), e('d/b.txt'), e('e', 'dir'), e('e/c.txt'), e('x.log')];
    const isProtected = (entry: { rel: string }) => entry.rel.endsWith('.log');
    expect(names(entriesToDelete(dest, () => false, isProtected))).toEqual(['d/b.txt', 'e']);
  });

  it('nothing to delete when the source has it all', () => {
    expect(entriesToDelete([e('a'), e('b', 'dir'), e('b/c')], () => true, () => false)).toEqual([]);
  });
});
