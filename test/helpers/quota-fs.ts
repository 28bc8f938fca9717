/**
 * The real node:fs, except that writes fail with ENOSPC once `quota` bytes have been written
 * in all: a disk that fills up mid-upload, without needing a small file system.
 */
import nodeFs from 'node:fs';
import type { RootFs } from '../../src/server/root/index.js';
import { wrapFs } from './fs-wrap.js';

export interface QuotaFs {
  fs: RootFs;
  written: number;
  quota: number;
}

function noSpace(): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28 });
}

export function quotaFs(quota: number): QuotaFs {
  const state: QuotaFs = { fs: undefined as unknown as RootFs, written: 0, quota };
  state.fs = wrapFs({
    write: (fd, buffer, offset, length, position, done) => {
      const room = state.quota - state.written;
      if (room <= 0) {
        queueMicrotask(() => done(noSpace(), 0));
        return;
      }
      nodeFs.write(fd, buffer, offset, Math.min(length, room), position, (err, written) => {
        if (!err) state.written += written;
        done(err, written);
      });
    },
    writeSync: (fd, buffer, offset, length, position) => {
      const room = state.quota - state.written;
      if (room <= 0) throw noSpace();
      const written = nodeFs.writeSync(fd, buffer, offset, Math.min(length, room), position);
      state.written += written;
      return written;
    },
  });
  return state;
}
