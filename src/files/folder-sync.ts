/**
 * fsync of a folder, so that a rename or a new entry in it survives a crash. Not every
 * platform or file system allows it; those that refuse say so with one of these errors, and
 * the rename is then as durable as that system makes it.
 */
import fs from 'node:fs';

/** Errors fsync (or the open before it) gives on a folder where it is not supported. */
export const UNSYNCABLE_FOLDER = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF', 'ENOSYS']);

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? '';
}

/** Whether `err`, from a folder's open or fsync, means "this system does not do that". */
export function isUnsyncableFolder(err: unknown): boolean {
  return UNSYNCABLE_FOLDER.has(errnoOf(err));
}

/** The calls fsyncFolder makes: node:fs by default, the server Root's own file system there. */
export type FolderSyncFs = Pick<typeof fs, 'openSync' | 'fsyncSync' | 'closeSync'>;

/**
 * fsync the folder at `dir` (best effort where the system refuses; other errors throw).
 * Synchronous: it is one call, made once per folder and burst of files.
 */
export function fsyncFolder(dir: string, fsSync: FolderSyncFs = fs): void {
  let fd: number;
  try {
    fd = fsSync.openSync(dir, 'r');
  } catch (err) {
    if (isUnsyncableFolder(err)) return;
    throw err;
  }
  try {
    fsSync.fsyncSync(fd);
  } catch (err) {
    if (!isUnsyncableFolder(err)) throw err;
  } finally {
    fsSync.closeSync(fd);
  }
}
