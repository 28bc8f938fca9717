/**
 * A local user racing a transfer: a separate process that swaps a folder with a symlink to the
 * outside, over and over (issue 14, findings 1 and 3). Used against the server's root and the
 * client's destination alike.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * How the swapper swaps: four renames (the name is empty or the link a moment each time), or
 * one atomic renameat2(RENAME_EXCHANGE) each time, the attack as reported: the name always
 * holds either the folder or the link, never nothing.
 */
export type SwapMode = 'renames' | 'exchange';

/**
 * A separate process that swaps `folder` and `link` (a symlink to the outside) in a tight loop
 * for `ms`, then leaves the folder in its place. By default four renames (Node has no
 * renameat2(RENAME_EXCHANGE)); the symlink sits under the folder's name half the time.
 * `mode: 'exchange'` makes each swap one atomic exchange instead (a python3 child). With
 * `evict`, a folder made under the name while the real one was away (a get making a folder
 * it found missing) is renamed to `folder.madeN`, so the swapping goes on instead of stalling.
 */
export async function startSwapper(
  folder: string,
  link: string,
  ms: number,
  options: { evict?: boolean; mode?: SwapMode } = {},
): Promise<{ child: ChildProcess; done: Promise<number> }> {
  if (options.mode === 'exchange') return startExchanger(folder, link, ms);
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

/**
 * The atomic swap: a python3 child calls renameat2(RENAME_EXCHANGE) through ctypes in a tight
 * loop (Node cannot), then swaps once more if need be, so that `folder` ends as the folder.
 * Resolves with the number of exchanges.
 */
async function startExchanger(folder: string, link: string, ms: number): Promise<{ child: ChildProcess; done: Promise<number> }> {
  const script = path.join(path.dirname(path.dirname(folder)), 'exchanger.py');
  await fsp.writeFile(
    script,
    `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
renameat2 = libc.renameat2
renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD, RENAME_EXCHANGE = -100, 2
folder, link = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
end = time.monotonic() + int(sys.argv[3]) / 1000
def exchange():
    if renameat2(AT_FDCWD, folder, AT_FDCWD, link, RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
swaps = 0
while time.monotonic() < end:
    exchange()
    swaps += 1
if os.path.islink(folder):
    exchange()
print(swaps, flush=True)
`,
  );
  const child = spawn('python3', [script, folder, link, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`exchanger exited ${code}`))));
  });
  return { child, done };
}
