/**
 * The receiving side's files on the local disk: a partial file beside the destination,
 * written, fsynced, and renamed over the final name only once its SHA-256 matched.
 */
import fs, { constants } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { FileChangedError } from '../errors.js';
import { fsyncFolder, partNameFor, utimesSeconds } from '../files/index.js';

/**
 * `dir/name` → `dir/.name.tcpsend-part`: hidden, on the same file system for rename, and the
 * same name the server gives its parts (a hash of the name near NAME_MAX).
 */
export function localPartPath(dest: string): string {
  return path.join(path.dirname(dest), partNameFor(path.basename(dest)));
}

/** Open (creating) a part file for writing at `offset`, dropping anything past it. */
export async function openPartForWrite(partPath: string, offset: number): Promise<FileHandle> {
  await fsp.mkdir(path.dirname(partPath), { recursive: true });
  // O_NOFOLLOW: a symlink planted under the part's name must not redirect the write.
  const handle = await fsp.open(partPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.truncate(offset);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/**
 * Make a verified part the final file: fsync its data, set its mode and mtime, rename it over
 * `dest` and fsync the folder. The caller has closed nothing yet; this closes `handle`.
 */
export async function finalizeLocalPart(
  handle: FileHandle,
  partPath: string,
  dest: string,
  meta: { mtimeMs?: number | null; mode?: number | null },
): Promise<void> {
  try {
    await handle.sync();
    if (meta.mode !== null && meta.mode !== undefined) await handle.chmod(meta.mode & 0o777); // never setuid/setgid from a peer
    if (meta.mtimeMs !== null && meta.mtimeMs !== undefined) {
      const when = utimesSeconds(meta.mtimeMs);
      await handle.utimes(when, when);
    }
  } finally {
    await handle.close();
  }
  await fsp.rename(partPath, dest);
  syncDirectorySync(path.dirname(dest));
}

export async function removeIfExists(file: string): Promise<void> {
  await fsp.rm(file, { force: true });
}

/** stat, or null where nothing is; synchronous: a client's per-file checks are many and tiny. */
export function statSyncOrNull(file: string): Stats | null {
  return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
}

/**
 * Write a small, already verified body atomically: part file (created with the final mode),
 * write, fsync, mtime, rename over `dest`; the folder fsync is the caller's choice (a tree
 * transfer syncs each folder once at the end). Synchronous on purpose: for small files the
 * thread-pool round trips of the async calls cost more than the calls themselves, and a
 * client has nothing else to do with its thread meanwhile.
 */
export function writeVerifiedFileSync(
  partPath: string,
  dest: string,
  body: Uint8Array,
  meta: { mtimeMs?: number | null; mode?: number | null; syncDirectory?: boolean },
): void {
  const mode = (meta.mode ?? 0o644) & 0o777; // never setuid/setgid from a peer
  let fd: number;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  try {
    fd = fs.openSync(partPath, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fs.mkdirSync(path.dirname(partPath), { recursive: true });
    fd = fs.openSync(partPath, flags, 0o600);
  }
  try {
    let done = 0;
    while (done < body.length) done += fs.writeSync(fd, body, done, body.length - done, done);
    fs.fsyncSync(fd);
    fs.fchmodSync(fd, mode);
    if (meta.mtimeMs !== null && meta.mtimeMs !== undefined) {
      const when = utimesSeconds(meta.mtimeMs);
      fs.futimesSync(fd, when, when);
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(partPath, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(partPath, dest);
  if (meta.syncDirectory !== false) syncDirectorySync(path.dirname(dest));
}

/** fsync the directory so that a rename in it survives a crash (best effort where refused). */
export const syncDirectorySync = (dir: string): void => fsyncFolder(dir);

/**
 * A small local file read whole with synchronous calls, for a batch upload, into the room
 * `place` gives for its size: FileChangedError if its size or mtime moved while it was read
 * (its bytes would not be one version of it). Its stat is that of the bytes read.
 */
export function readWholeFileSync(file: string, place: (stats: Stats) => Uint8Array): { body: Uint8Array; stats: Stats } {
  const fd = fs.openSync(file, 'r');
  try {
    const stats = fs.fstatSync(fd);
    const body = place(stats);
    let got = 0;
    for (let n = 1; got < stats.size && n > 0; got += n) n = fs.readSync(fd, body, got, stats.size - got, got);
    const after = fs.fstatSync(fd);
    if (got !== stats.size || after.size !== stats.size || after.mtimeMs !== stats.mtimeMs) {
      throw new FileChangedError(`'${file}' changed while it was being read; not sent`);
    }
    return { body, stats };
  } finally {
    fs.closeSync(fd);
  }
}
