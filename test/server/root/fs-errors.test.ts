import { describe, expect, it } from 'vitest';
import { NotFoundError, TcpsendError } from '../../../src/errors.js';
import { errnoCode, toStorageError } from '../../../src/server/root/index.js';

function systemError(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: failed, open '/srv/secret/layout/x.txt'`);
  err.code = code;
  err.path = '/srv/secret/layout/x.txt';
  return err;
}

describe('toStorageError', () => {
  const table: Array<[string, string]> = [
    ['ENOENT', 'TCPSEND_ERR_NOT_FOUND'],
    ['ENOTDIR', 'TCPSEND_ERR_NOT_DIRECTORY'],
    ['EISDIR', 'TCPSEND_ERR_IS_DIRECTORY'],
    ['EACCES', 'TCPSEND_ERR_FORBIDDEN'],
    ['EPERM', 'TCPSEND_ERR_FORBIDDEN'],
    ['ENOSPC', 'TCPSEND_ERR_NO_SPACE'],
    ['EDQUOT', 'TCPSEND_ERR_NO_SPACE'],
    ['ELOOP', 'TCPSEND_ERR_FORBIDDEN'],
    ['EEXIST', 'TCPSEND_ERR_EXISTS'],
    ['ENAMETOOLONG', 'TCPSEND_ERR_BAD_PATH'],
    ['EMFILE', 'TCPSEND_ERR_INTERNAL'],
    ['EIO', 'TCPSEND_ERR_INTERNAL'],
  ];
  it.each(table)('%s → %s, naming the request path only', (code, ours) => {
    const original = systemError(code);
    const mapped = toStorageError(original, 'docs/x.txt');
    expect(mapped).toBeInstanceOf(TcpsendError);
    expect(mapped.code).toBe(ours);
    expect(mapped.cause).toBe(original);
    expect(mapped.message).toContain("'docs/x.txt'");
    expect(mapped.message).not.toContain('/srv');
  });

  it('names the root as /', () => {
    expect(toStorageError(systemError('ENOENT'), '').message).toContain("'/'");
  });

  it('passes our own errors through and wraps anything else as INTERNAL', () => {
    const ours = new NotFoundError('x');
    expect(toStorageError(ours, 'a')).toBe(ours);
    expect(toStorageError(new TypeError('boom'), 'a').code).toBe('TCPSEND_ERR_INTERNAL');
    expect(toStorageError('weird', 'a').code).toBe('TCPSEND_ERR_INTERNAL');
  });

  it('errnoCode reads the code of system errors only', () => {
    expect(errnoCode(systemError('ENOENT'))).toBe('ENOENT');
    expect(errnoCode(new Error('x'))).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
    expect(errnoCode({ code: 5 })).toBeUndefined();
  });
});
