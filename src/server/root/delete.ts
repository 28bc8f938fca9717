/**
 * DELETE: remove a file, a symlink (never followed) or a folder with everything in it, inside
 * the root only, and never the root itself. Each folder emptied is reached through its parent
 * (held open on Linux), so a folder swapped for a symlink meanwhile cannot send the removal
 * outside: it is refused instead (ForbiddenError from Root.child).
 */
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { toStorageError } from './fs-errors.js';
import type { Folder, FolderScope } from './folders.js';
import { quoteRequestPath } from '../../files/quote-path.js';
import type { Root } from './root.js';
import type { TimeSlice } from './time-slice.js';

export async function removeEntry(root: Root, requestPath: string): Promise<void> {
  const segments = root.segments(requestPath);
  if (segments.length === 0) throw new ForbiddenError('the served folder itself cannot be deleted');
  await root.withScope(async (scope) => {
    const { folder, name, shown, stats } = root.entry(segments, scope, false);
    if (stats === undefined) throw new NotFoundError(`no such file or folder ${quoteRequestPath(shown)}`);
    const at = () => root.at(folder, name, scope, shown);
    try {
      if (stats.isDirectory()) {
        await emptyFolder(root, root.child(folder, name, shown, scope), shown, scope, root.workSlice);
        root.fs.rmdirSync(at());
      } else {
        root.fs.unlinkSync(at());
      }
      root.confirm(folder, shown);
    } catch (err) {
      throw toStorageError(err, shown);
    }
    root.syncFolder(folder, scope, shown);
  });
}

/** Remove everything in `folder`, depth first, letting other connections run between entries. */
async function emptyFolder(root: Root, folder: Folder, shown: string, scope: FolderScope, slice: TimeSlice): Promise<void> {
  const names = root.fs.readdirSync(root.self(folder, scope, shown), { withFileTypes: true }) as ReadonlyArray<{ name: string | Buffer } | string | Buffer>;
  for (const dirent of names) {
    const name = typeof dirent === 'string' ? dirent : Buffer.isBuffer(dirent) ? dirent.toString('utf8') : String(dirent.name);
    const childShown = `${shown}/${name}`;
    await slice.yieldIfDue();
    const at = root.at(folder, name, scope, childShown);
    const stats = root.fs.lstatSync(at, { throwIfNoEntry: false });
    if (stats === undefined) continue;
    if (stats.isDirectory()) {
      await emptyFolder(root, root.child(folder, name, childShown, scope), childShown, scope, slice);
      root.fs.rmdirSync(root.at(folder, name, scope, childShown));
    } else {
      root.fs.unlinkSync(at);
    }
  }
}
