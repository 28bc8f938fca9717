/**
 * The real node:fs/promises, except that writes fail with ENOSPC once `quota` bytes have been
 * written in all: a disk that fills up mid-upload, without needing a small file system.
 */
import fsp from 'node:fs/promises';
import type { FsPromises } from '../../src/storage/fs-promises.js';

export interface QuotaFs {
  fs: FsPromises;
  written: number;
  quota: number;
}

export function quotaFs(quota: number): QuotaFs {
  const state: QuotaFs = { fs: undefined as unknown as FsPromises, written: 0, quota };
  const open = async (path: string, flags?: string | number, mode?: number) => {
    const handle = await fsp.open(path, flags, mode);
    const write = async (buffer: Uint8Array, offset: number, length: number, position: number | null) => {
      const room = state.quota - state.written;
      if (room <= 0) {
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28 });
      }
      const take = Math.min(length, room);
      const result = await handle.write(buffer, offset, take, position);
      state.written += result.bytesWritten;
      return result;
    };
    return new Proxy(handle, {
      get(target, prop) {
        if (prop === 'write') return write;
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  state.fs = { ...(fsp as unknown as FsPromises), open: open as unknown as FsPromises['open'] };
  return state;
}
