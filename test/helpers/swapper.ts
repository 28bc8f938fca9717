/**
 * A local user racing a transfer: a separate process that swaps a folder with a symlink to the
 * outside, over and over (issue 14, findings 1 and 3). Used against the server's root and the
 * client's destination alike.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * A separate process that swaps `folder` and `link` (a symlink to the outside) in a tight loop
 * for `ms`, then leaves the folder in its place. Node has no renameat2(RENAME_EXCHANGE), so
 * it takes four renames; the symlink sits under the folder's name half the time. With
 * `evict`, a folder made under the name while the real one was away (a get making a folder
 * it found missing) is renamed to `folder.madeN`, so the swapping goes on instead of stalling.
 */
export async function startSwapper(
  folder: string,
  link: string,
  ms: number,
  options: { evict?: boolean } = {},
): Promise<{ child: ChildProcess; done: Promise<number> }> {
  const script = path.join(path.dirname(path.dirname(folder)), 'swapper.cjs');
  await fsp.writeFile(
    script,
    `
    const fs = require('node:fs');
    const [folder, link, ms, evict] = process.argv.slice(2);
    const aside = folder + '.aside';
    const end = Date.now() + Number(ms);
    let swaps = 0;
    let made = 0;
    const moveOnto = (from, to) => {
      try {
        fs.renameSync(from, to);
      } catch (err) {
        if (evict !== '1' || !['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err;
        fs.renameSync(to, to + '.made' + made++);
        fs.renameSync(from, to);
      }
    };
    while (Date.now() < end) {
      try {
        fs.renameSync(folder, aside);
        moveOnto(link, folder);
        fs.renameSync(folder, link);
        moveOnto(aside, folder);
        swaps += 1;
      } catch {}
    }
    // Put everything back, from wherever the loop stopped.
    // (The server may have made a new folder under the name while the real one was aside:
    // an upload into a folder that did not exist at that moment. Both stay.)
    if (fs.existsSync(aside)) {
      if (fs.lstatSync(folder, { throwIfNoEntry: false })?.isSymbolicLink()) fs.renameSync(folder, link);
      if (!fs.existsSync(folder)) fs.renameSync(aside, folder);
    }
    process.send(swaps, () => process.exit(0));
  `,
  );
  const child = fork(script, [folder, link, String(ms), options.evict ? '1' : '0'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const done = new Promise<number>((resolve, reject) => {
    child.once('message', (swaps) => resolve(Number(swaps)));
    child.once('error', reject);
    child.once('exit', (code) => (code !== 0 ? reject(new Error(`swapper exited ${code}`)) : undefined));
  });
  return { child, done };
}
