/**
 * A served root inside a "jail" folder that also holds what an attacker would love to reach:
 *
 *   jail/
 *     outside.txt              a secret next to the root
 *     data/                    the served root
 *     data-evil/secret.txt     a sibling sharing the root's name as a prefix
 *
 * and a snapshot of the jail minus the root, to prove afterwards that nothing outside the root
 * was written (contents, modes and mtimes included).
 */
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { tempDir, writeRandomFile } from '../helpers/server.js';

export interface Jail {
  /** The jail folder (absolute, symlinks resolved). */
  dir: string;
  /** The served root: `dir/data`. */
  root: string;
  /** `dir/data-evil`: the prefix sibling. */
  sibling: string;
  outsideFile: string;
  siblingFile: string;
  /** Strings that sit only in files outside the root (or in a hidden partial file). */
  secrets: string[];
  /** The contents of root/f.bin, for range checks. */
  fbin: Buffer;
  /** The contents of root/big.bin (1 MiB: large enough to be streamed, not sent in one write). */
  bigbin: Buffer;
  remove(): Promise<void>;
}

export const GOOD_TEXT = 'good content\n';

/**
 * Lay out the jail. Inside the root: good.txt, f.bin (1000 random bytes), big.bin (1 MiB),
 * sub/inner.txt, a hidden
 * partial file, and symlinks that lead out every way there is, plus one harmless one.
 */
export async function makeJail(): Promise<Jail> {
  const dir = await fsp.realpath(await tempDir('tcpsend-jail-'));
  const root = path.join(dir, 'data');
  const sibling = path.join(dir, 'data-evil');
  const outsideFile = path.join(dir, 'outside.txt');
  const siblingFile = path.join(sibling, 'secret.txt');
  const tag = randomBytes(8).toString('hex');
  const secrets = [`OUTSIDE-SECRET-${tag}`, `SIBLING-SECRET-${tag}`, `PARTIAL-SECRET-${tag}`];
  await fsp.mkdir(root);
  await fsp.mkdir(sibling);
  await fsp.writeFile(outsideFile, `${secrets[0]}\n`);
  await fsp.writeFile(siblingFile, `${secrets[1]}\n`);

  await fsp.writeFile(path.join(root, 'good.txt'), GOOD_TEXT);
  const fbin = await writeRandomFile(path.join(root, 'f.bin'), 1000, 7);
  const bigbin = await writeRandomFile(path.join(root, 'big.bin'), 1024 * 1024, 8);
  await fsp.mkdir(path.join(root, 'sub'));
  await fsp.writeFile(path.join(root, 'sub', 'inner.txt'), 'inner\n');
  await fsp.writeFile(path.join(root, '.x.tcpsend-part'), `${secrets[2]}\n`);
  await fsp.writeFile(path.join(root, 'sub', '.y.tcpsend-part'), `${secrets[2]}\n`);

  const link = (target: string, name: string) => fsp.symlink(target, path.join(root, name));
  await link(outsideFile, 'out'); // absolute, straight out
  await link('../outside.txt', 'rel-out'); // relative, straight out
  await link(path.join(root, 'chain2'), 'chain1'); // a chain of two: inside, then out
  await link(outsideFile, 'chain2');
  await link(dir, 'up'); // a parent folder, then a file through it
  await link('..', 'up-rel');
  await link(sibling, 'evil'); // the prefix sibling: '/x/data-evil' starts with '/x/data'
  await link('../data-evil', 'evil-rel');
  await link('.x.tcpsend-part', 'to-part'); // inside, but a hidden partial file
  await link('good.txt', 'inside-link'); // harmless: stays inside

  return {
    dir,
    root,
    sibling,
    outsideFile,
    siblingFile,
    secrets,
    fbin,
    bigbin,
    remove: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

export interface SnapshotEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtimeMs: number;
  size: number;
  /** SHA-256 of a file's bytes, or a symlink's target. */
  content: string;
}

/** Every entry under `dir` (symlinks not followed), `skip` and what is below it left out. */
export async function snapshot(dir: string, skip: string): Promise<Record<string, SnapshotEntry>> {
  const out: Record<string, SnapshotEntry> = {};
  const visit = async (abs: string): Promise<void> => {
    if (abs === skip) return;
    const st = await fsp.lstat(abs);
    const rel = path.relative(dir, abs) || '.';
    let type: SnapshotEntry['type'] = 'other';
    let content = '';
    if (st.isSymbolicLink()) {
      type = 'symlink';
      content = await fsp.readlink(abs);
    } else if (st.isFile()) {
      type = 'file';
      content = createHash('sha256').update(await fsp.readFile(abs)).digest('hex');
    } else if (st.isDirectory()) {
      type = 'dir';
    }
    out[rel] = { type, mode: st.mode, mtimeMs: st.mtimeMs, size: type === 'dir' ? 0 : st.size, content };
    if (type === 'dir') {
      for (const name of (await fsp.readdir(abs)).sort()) await visit(path.join(abs, name));
    }
  };
  await visit(dir);
  return out;
}

/** The first secret found in `bytes`, or null. */
export function leakedSecret(bytes: Buffer, secrets: readonly string[]): string | null {
  return secrets.find((secret) => bytes.includes(secret)) ?? null;
}
