/** Wrappers around a real or in-memory fs, to inject faults and races into ServedRoot. */
import type { FileHandleLike, FsPromises } from '../../src/storage/index.js';

/** Delegates every call to `base`, except the ones in `overrides`. */
export function wrapFs(base: FsPromises, overrides: Partial<FsPromises> = {}): FsPromises {
  return {
    open: (...args) => base.open(...args),
    stat: (p) => base.stat(p),
    lstat: (p) => base.lstat(p),
    realpath: (p) => base.realpath(p),
    readdir: (p, o) => base.readdir(p, o),
    mkdir: (p, o) => base.mkdir(p, o),
    rename: (a, b) => base.rename(a, b),
    unlink: (p) => base.unlink(p),
    rm: (p, o) => base.rm(p, o),
    utimes: (p, a, m) => base.utimes(p, a, m),
    chmod: (p, m) => base.chmod(p, m),
    readlink: (p) => base.readlink(p),
    ...overrides,
  };
}

/** Delegates every call to `base`, except the ones in `overrides`. */
export function wrapHandle(
  base: FileHandleLike,
  overrides: Partial<FileHandleLike> = {},
): FileHandleLike {
  return {
    get fd() {
      return base.fd;
    },
    stat: () => base.stat(),
    read: (...args) => base.read(...args),
    write: (...args) => base.write(...args),
    truncate: (length) => base.truncate(length),
    datasync: () => base.datasync(),
    sync: () => (base.sync ? base.sync() : base.datasync()),
    chmod: (mode) => base.chmod(mode),
    utimes: (a, m) => base.utimes(a, m),
    close: () => base.close(),
    ...overrides,
  };
}

export function errno(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: simulated`);
  err.code = code;
  return err;
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error('expected a rejection');
}
