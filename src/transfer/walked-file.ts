/**
 * A file a folder walk found, opened to be sent (docs/security.md, "Symlinks in folder
 * transfers": a folder put never reads through a symlink). Between the walk and the open a
 * local user may put a symlink, a FIFO or another file under the name, or swap a folder above
 * it for a symlink to the outside. So the open follows no symlink at the last name (O_NOFOLLOW)
 * and waits for no FIFO's writer (O_NONBLOCK), and what it opened must be the very regular file
 * the walk saw (the same device and inode); otherwise nothing of it is sent, and it is named as
 * changed.
 */
import fsp, { type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { FileChangedError } from '../errors.js';
import { READ_FLAGS } from '../server/root/index.js';

/** Which file a walk saw under a name (its lstat's device and inode). */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** How a walked file is opened: read-only, no symlink followed at its name, no wait on a FIFO. */
export const WALKED_FILE_FLAGS = READ_FLAGS;

/** The error of an open with WALKED_FILE_FLAGS, in the user's terms where a symlink was found (ELOOP). */
export function walkedOpenError(file: string, err: unknown): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'ELOOP') return err;
  return new FileChangedError(`'${file}' was replaced by a symlink after its folder was read; not sent (a folder put never follows one)`);
}

/** FileChangedError unless `opened` (the descriptor's stat) is the regular file the walk saw as `seen`. */
export function checkWalkedFile(file: string, seen: FileIdentity, opened: Stats): void {
  if (!opened.isFile()) throw new FileChangedError(`'${file}' was replaced by something that is not a regular file after its folder was read; not sent`);
  if (opened.dev !== seen.dev || opened.ino !== seen.ino) {
    throw new FileChangedError(`'${file}' was replaced after its folder was read (it is not the file found then); not sent`);
  }
}

/** Open `file`, which a walk saw as `seen`, to read it: FileChangedError if it is not that file now. */
export async function openWalkedFile(file: string, seen: FileIdentity): Promise<FileHandle> {
  const handle = await fsp.open(file, WALKED_FILE_FLAGS).catch((err: unknown) => {
    throw walkedOpenError(file, err);
  });
  try {
    checkWalkedFile(file, seen, await handle.stat());
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}
