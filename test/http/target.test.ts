/** The served path an HTTP request-target names: decoded as tcpsend paths are, never normalised. */
import { describe, expect, it } from 'vitest';
import { BadPathError, BadRequestError } from '../../src/errors.js';
import { parseTarget } from '../../src/server/http/target.js';
import { expectError } from '../protocol/expect-error.js';

describe('parseTarget', () => {
  it('decodes the path and keeps the raw one, the folder slash and the query', () => {
    const t = parseTarget('/photos/2024%20summer/?tar');
    expect(t.path).toBe('/photos/2024 summer/');
    expect(t.rawPath).toBe('/photos/2024%20summer/');
    expect(t.folder).toBe(true);
    expect(t.query.has('tar')).toBe(true);
    expect(parseTarget('/a.txt#frag').path).toBe('/a.txt');
    expect(parseTarget('/a.txt?x=1#frag').query.get('x')).toBe('1');
    expect(parseTarget('/数据.txt').path).toBe('/数据.txt');
  });

  it('leaves dots and encoded slashes as they are, for the served root to judge', () => {
    expect(parseTarget('/a/../b').path).toBe('/a/../b');
    expect(parseTarget('/%2e%2e/x').path).toBe('/../x');
    expect(parseTarget('/..%2fx').path).toBe('/../x');
    expect(parseTarget('/..%5cx').path).toBe('/..\\x');
  });

  it('refuses a target that is not a path, and a bad escape', () => {
    expectError(() => parseTarget('http://example.test/x'), BadRequestError);
    expectError(() => parseTarget('*'), BadRequestError);
    expectError(() => parseTarget(undefined), BadRequestError);
    expectError(() => parseTarget('/100%'), BadPathError);
    expectError(() => parseTarget('/%c0%ae'), BadPathError);
  });
});
