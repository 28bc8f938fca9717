import { expect } from 'vitest';
import { TcpsendError } from '../../src/errors.js';

/** Runs `fn`, asserts it throws exactly `cls` (class and stable code), returns the error. */
export function expectError(fn: () => unknown, cls: typeof TcpsendError): TcpsendError {
  let caught: unknown = undefined;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a throw').toBeInstanceOf(cls);
  const err = caught as TcpsendError;
  expect(err.constructor).toBe(cls);
  expect(err.code).toBe(cls.code);
  return err;
}
