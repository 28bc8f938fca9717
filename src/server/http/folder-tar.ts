/**
 * `FOLDER/?tar`: the whole folder, streamed as one tar archive (tar-stream writes the format),
 * so `curl http://HOST:7070/photos/?tar | tar x` fetches a folder with no tcpsend at the other
 * end. The walk and every open go through the served root: what LIST and GET would refuse
 * (partial files, hidden files, symlinks that lead out) is not in the archive.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { create as contentDisposition } from 'content-disposition';
import tar from 'tar-stream';
import { FileChangedError } from '../../errors.js';
import type { ServerContext } from '../context.js';
import type { HttpOutcome } from './outcome.js';

const CHUNK = 256 * 1024;

/** `photos/2024` → `2024.tar`; the root → `NAME.tar` of the served folder. */
export function tarName(folderPath: string, rootName: string): string {
  const last = folderPath.split('/').filter(Boolean).pop() ?? rootName;
  return `${last || 'folder'}.tar`;
}

export async function sendFolderTar(ctx: ServerContext, res: ServerResponse, folderPath: string, rootName: string): Promise<HttpOutcome> {
  // The first entry (or the folder's own error) before the headers: a missing folder is a
  // clean 404, not a broken archive.
  const entries = ctx.root.list(folderPath, { recursive: true })[Symbol.asyncIterator]();
  let next = await entries.next();
  const pack = tar.pack();
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/x-tar');
  res.setHeader('Content-Disposition', contentDisposition(tarName(folderPath, rootName)));
  let bytes = 0;
  pack.on('data', (chunk) => {
    if (!Buffer.isBuffer(chunk)) return;
    bytes += chunk.length;
    if (!res.write(chunk)) pack.pause();
  });
  res.on('drain', () => pack.resume());
  const packed = once(pack, 'end');
  packed.catch(() => {});
  let files = 0;
  try {
    for (; !next.done; next = await entries.next()) {
      if (res.destroyed) throw new Error('the client went away');
      const entry = next.value;
      const mtime = new Date(entry.mtimeMs);
      if (entry.type === 'dir') {
        pack.entry({ name: `${entry.path}/`, type: 'directory', mode: entry.mode, mtime });
        continue;
      }
      await addFile(ctx, pack, `${folderPath.replace(/\/+$/, '')}/${entry.path}`, entry.path, mtime);
      files += 1;
    }
    pack.finalize();
    await packed;
    res.end();
  } catch (err) {
    // Part of an archive is out already: cut the connection so the client sees it broken.
    pack.destroy();
    res.destroy();
    throw err;
  } finally {
    await entries.return?.(undefined);
  }
  return { bytes, note: `tar of ${files} files` };
}

async function addFile(ctx: ServerContext, pack: tar.Pack, path: string, name: string, mtime: Date): Promise<void> {
  const { file, info } = ctx.root.openRead(path);
  try {
    const entry = pack.entry({ name, size: info.size, mode: info.mode, mtime, type: 'file' });
    const done = once(entry, 'finish');
    done.catch(() => {});
    let position = 0;
    while (position < info.size) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, info.size - position));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw new FileChangedError(`'${name}' shrank while it was being archived`);
      position += bytesRead;
      if (!entry.write(buffer.subarray(0, bytesRead))) await once(entry, 'drain');
    }
    entry.end(undefined);
    await done;
  } finally {
    file.close();
  }
}
