import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, PART_SUFFIX, isPartName, partNameFor, toSegments } from '../../src/files/index.js';
import { localPartPath } from '../../src/transfer/local-file.js';

describe('partial file names', () => {
  it('partNameFor hides one part per destination next to it', () => {
    const name = partNameFor('big.iso');
    expect(name).toBe(`.big.iso${PART_SUFFIX}`);
    expect(isPartName(name)).toBe(true);
    expect(toSegments(name)).toEqual([name]); // a valid name in its own right
    expect(partNameFor('big.iso.2')).not.toBe(name);
  });

  it('a name too long for a part name is replaced by its SHA-256', () => {
    const long = 'x'.repeat(MAX_NAME_BYTES);
    const name = partNameFor(long);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(name).toMatch(/^\.[0-9a-f]{64}\.tcpsend-part$/);
    expect(partNameFor(long)).toBe(name); // stable, so a resume finds it
    expect(partNameFor('z'.repeat(MAX_NAME_BYTES))).not.toBe(name);
    expect(isPartName(name)).toBe(true);
  });

  it('isPartName looks at the suffix only', () => {
    expect(isPartName('a.txt')).toBe(false);
    expect(isPartName('tcpsend-part')).toBe(false);
    expect(isPartName('x.tcpsend-part')).toBe(true);
    expect(isPartName('.x.tcpsend-part.txt')).toBe(false);
  });
});
describe('the client and the server name parts alike', () => {
  it('a download part is the same name the server gives an upload part, near NAME_MAX too', () => {
    for (const name of ['a.txt', 'é'.repeat(100), 'n'.repeat(240), 'n'.repeat(MAX_NAME_BYTES)]) {
      const local = localPartPath(path.join('/dest', name));
      expect(path.basename(local)).toBe(partNameFor(name));
      expect(Buffer.byteLength(path.basename(local))).toBeLessThanOrEqual(MAX_NAME_BYTES);
    }
  });
});
