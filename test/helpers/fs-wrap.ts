/**
 * node:fs as the Root's file-system port, with some calls replaced: the one fault-injecting
 * wrapper the tests use (a failing fsync, a racing swap, a disk that fills up). A Root on a
 * wrapped fs is on an injected fs, so it checks folders before each call instead of holding
 * them (see src/server/root/folders.ts), unless told `heldFolders: true`.
 */
import nodeFs from 'node:fs';
import type { RootFs } from '../../src/server/root/index.js';

export function wrapFs(overrides: Partial<RootFs> = {}, base: RootFs = nodeFs as unknown as RootFs): RootFs {
  return new Proxy(base, {
    get: (target, key: string) => {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof RootFs];
      const value = (target as unknown as Record<string, unknown>)[key];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** node:fs as seen without /proc/self/fd: a Root on it checks folders before each call. */
export function withoutProc(overrides: Partial<RootFs> = {}): RootFs {
  return wrapFs({
    statSync: (file) => {
      if (file.startsWith('/proc')) throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${file}'`), { code: 'ENOENT' });
      return nodeFs.statSync(file);
    },
    ...overrides,
  });
}
