/**
 * A folder get makes its renames durable by fsyncing the folders it wrote in, through its
 * destination's boundary (LocalFolder), like every other write: a folder a local user swaps for
 * a symlink to the outside (a folder, or a FIFO whose open would block for ever) just before
 * those fsyncs is not opened through the link.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree } from '../../src/client/tree.js';
import { LocalFolder } from '../../src/transfer/local-file.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const clients: ReconnectingClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

it.skipIf(process.platform === 'win32').each(['folder', 'FIFO'])(
  'a destination folder swapped for a symlink to an outside %s before the folders are fsynced: nothing outside is opened',
  async (kind) => {
    const work = await fsp.realpath(await tempDir('tcpsend-destination-fsync-'));
    dirs.push(work);
    const dst = path.join(work, 'dst');
    const outside = path.join(work, 'outside');
    await fsp.mkdir(path.join(dst, 'd'), { recursive: true });
    if (kind === 'folder') await fsp.mkdir(outside);
    else execFileSync('mkfifo', [outside]);
    const server = await startServer({});
    servers.push(server);
    await fsp.mkdir(path.join(server.root, 'tree', 'd'), { recursive: true });
    await fsp.writeFile(path.join(server.root, 'tree', 'd', 'new.txt'), 'hello');
    const client = new ReconnectingClient(server.target, { retries: 0, idleTimeoutMs: 10_000 });
    clients.push(client);
    // The swap, at the moment the get turns to its fsyncs.
    const sync = LocalFolder.prototype.sync;
    vi.spyOn(LocalFolder.prototype, 'sync').mockImplementationOnce(function (this: LocalFolder) {
      fs.renameSync(path.join(dst, 'd'), path.join(dst, 'd.aside'));
      fs.symlinkSync(outside, path.join(dst, 'd'));
      sync.call(this);
    });
    const outsideOpens: string[] = [];
    const open = fs.openSync;
    vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
      let real = '';
      try {
        real = fs.realpathSync(String(file));
      } catch {
        // not there: the open says so itself
      }
      if (real === outside || real.startsWith(`${outside}${path.sep}`)) {
        outsideOpens.push(String(file));
        throw Object.assign(new Error('opened outside the destination'), { code: 'EOUTSIDE' });
      }
      return open(file, flags ?? 'r', mode);
    }) as typeof fs.openSync);
    await getTree(client, 'tree', dst, {}).catch(() => {});
    expect(outsideOpens).toEqual([]);
    expect(fs.readFileSync(path.join(dst, 'd.aside', 'new.txt'), 'utf8')).toBe('hello');
  },
);
