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
 * it takes four renames; the symlink sits under the folder's name half the time.
 */
export async function startSwapper(folder: string, link: string, ms: number): Promise<{ child: ChildProcess; done: Promise<number> }> {
  const script = path.join(path.dirname(path.dirname(folder)), 'swapper.cjs');
  await fsp.writeFile(
    script,
    `
    const fs = require('node:fs');
    const [folder, link, ms] = process.argv.slice(2);
    const aside = folder + '.aside';
    const end = Date.now() + Number(ms);
    let swaps = 0;
    while (Date.now() < end) {
      try {
        fs.renameSync(folder, aside);
        fs.renameSync(link, folder);
        fs.renameSync(folder, link);
        fs.renameSync(aside, folder);
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
  const child = fork(script, [folder, link, String(ms)], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const done = new Promise<number>((resolve, reject) => {
    child.once('message', (swaps) => resolve(Number(swaps)));
    child.once('error', reject);
    child.once('exit', (code) => (code !== 0 ? reject(new Error(`swapper exited ${code}`)) : undefined));
  });
  return { child, done };
}
