/**
 * Inputs and outputs that are not regular files: `-` (standard input for put, standard output
 * for get), pipes, FIFOs and process substitutions (`<(…)`).
 *
 * A transfer needs the size up front (PUT carries it) and is only written out once its checksum
 * matched, so such a stream goes through a temporary file ($TMPDIR, or /tmp): put reads the
 * stream into it and sends it like any file; get fetches into it, verified, and then copies it
 * to standard output. Either way the bytes are verified end to end, exactly as a file's are.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TcpsendError } from '../errors.js';

/**
 * `-` as it travels through the argument parser. yargs-parser reads a lone `-` as an empty
 * short flag and drops it from the positionals, so main() swaps it for this first (a NUL
 * cannot come from a real command line), and the commands compare with it.
 */
export const STDIO_ARG = '\u0000-';

/** An argument as the user typed it, for messages. */
export function typed(arg: string): string {
  return arg === STDIO_ARG ? '-' : arg;
}

/** What a local path given to put is, as far as sending it goes. */
export type InputKind = 'file' | 'dir' | 'stream' | 'device' | 'missing';

export function inputKind(stats: fs.Stats | null): InputKind {
  if (stats === null) return 'missing';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  // A pipe: `/dev/stdin` in a pipeline, `<(…)`, a FIFO made with mkfifo.
  if (stats.isFIFO()) return 'stream';
  // /dev/zero, /dev/urandom, a terminal, a socket: no end, or not a file's content.
  return 'device';
}

/** A stream that gave nothing: an empty upload is never what was meant, and never a success. */
export class EmptyInputError extends TcpsendError {
  constructor(what: string) {
    super(`nothing came from ${what}: not sending an empty file (an empty regular file can be sent as a file)`);
  }
}

export interface Spooled {
  path: string;
  size: number;
  remove(): Promise<void>;
}

/** A new private folder for a temporary file. */
export async function tempFolder(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tcpsend-'));
  // Also when the process ends without reaching `remove` (an exit forced after Ctrl-C).
  const atExit = () => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', atExit);
  return {
    dir,
    remove: async () => {
      process.off('exit', atExit);
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Read `source` to its end into a temporary file. `onWaiting` is called if no byte has come
 * after a second (a FIFO no one writes to yet, a terminal waiting for typing).
 */
export async function spool(source: Readable, what: string, signal: AbortSignal, onWaiting: () => void): Promise<Spooled> {
  const temp = await tempFolder();
  const file = path.join(temp.dir, 'input');
  const waiting = setTimeout(onWaiting, 1_000);
  source.once('data', () => clearTimeout(waiting));
  try {
    await pipeline(source, fs.createWriteStream(file, { mode: 0o600 }), { signal });
  } catch (err) {
    await temp.remove();
    throw err;
  } finally {
    clearTimeout(waiting);
  }
  const { size } = await fsp.stat(file);
  if (size === 0) {
    await temp.remove();
    throw new EmptyInputError(what);
  }
  return { path: file, size, remove: temp.remove };
}

/**
 * Copy a verified file to `out` (standard output). A reader that goes away early (`| head`)
 * has what it wanted: that is not an error.
 */
export async function copyToOutput(file: string, out: Writable): Promise<void> {
  try {
    await pipeline(fs.createReadStream(file), out, { end: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw err;
  }
}
