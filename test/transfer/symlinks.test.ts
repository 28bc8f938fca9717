/** Which symlinks a folder transfer recreates: those that stay inside the folder. */
import { describe, expect, it } from 'vitest';
import { linkSkipReason, linkStaysInside } from '../../src/transfer/symlinks.js';

describe('linkStaysInside', () => {
  it.each([
    ['a', 'b.txt', true],
    ['sub/a', '../b.txt', true],
    ['sub/deeper/a', '../../b.txt', true],
    ['a', './sub/../b', true],
    ['a', '.', true],
    ['a', '../outside', false],
    ['sub/a', '../../outside', false],
    ['a', 'sub/../../x', false],
    ['a', '/etc/hostname', false],
    ['a', '', false],
    ['a', 'C:x', false],
    ['a', 'x\u0000y', false],
    ['a', 'x\\..\\..\\y', false],
  ])('%s → %s: %s', (rel, target, inside) => {
    expect(linkStaysInside(rel, target)).toBe(inside);
  });

  it('says why a link is skipped', () => {
    expect(linkSkipReason('a', '/etc/hostname')).toMatch(/absolute/);
    expect(linkSkipReason('a', '../x')).toMatch(/lead out/);
    expect(linkSkipReason('a', 'b')).toBeNull();
  });
});
