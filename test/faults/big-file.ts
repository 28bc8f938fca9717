/**
 * The big files the fault tests move: 64 MiB of random bytes, written fast (one 4 MiB random
 * block, written 16 times with a byte that differs per block, so no two blocks are equal and
 * a resume from the wrong place cannot go unnoticed), and compared without holding both files
 * in memory.
 */
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { blake3Stream } from '../helpers/digests.js';

export const MiB = 1024 * 1024;
export const BIG_SIZE = 64 * MiB;
const BLOCK = 4 * MiB;

export interface BigFile {
  path: string;
  size: number;
  sha256: string;
  /** The default checksum's digest, as a transfer reports it. */
  blake3: string;
}

/** Write `BIG_SIZE` random bytes to `file`; returns its SHA-256, computed while writing. */
export async function writeBigRandomFile(file: string): Promise<BigFile> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const block = randomFillSync(Buffer.allocUnsafe(BLOCK));
  const hash = createHash('sha256');
  const b3 = blake3Stream();
  const handle = await fsp.open(file, 'w');
  try {
    for (let i = 0; i < BIG_SIZE / BLOCK; i++) {
      block[0] = i;
      block[BLOCK - 1] = 0xff - i;
      hash.update(block);
      b3.update(block);
      await handle.write(block, 0, BLOCK);
    }
  } finally {
    await handle.close();
  }
  return { path: file, size: BIG_SIZE, sha256: hash.digest('hex'), blake3: b3.hex() };
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: BLOCK })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** True when both files hold exactly the same bytes (read side by side, 4 MiB at a time). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([fsp.open(a, 'r'), fsp.open(b, 'r')]);
  try {
    const [sa, sb] = await Promise.all([ha.stat(), hb.stat()]);
    if (sa.size !== sb.size) return false;
    const ba = Buffer.allocUnsafe(BLOCK);
    const bb = Buffer.allocUnsafe(BLOCK);
    for (let at = 0; at < sa.size; at += BLOCK) {
      const n = Math.min(BLOCK, sa.size - at);
      const [ra, rb] = await Promise.all([ha.read(ba, 0, n, at), hb.read(bb, 0, n, at)]);
      if (ra.bytesRead !== n || rb.bytesRead !== n) return false;
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
    }
    return true;
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

/** Size of `file`, or 0 when there is none (a part not created yet, or already renamed). */
export function sizeOrZero(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** `dir/name` → `dir/.name.tcpsend-part`, the hidden partial file on either side. */
export function partOf(dir: string, name: string): string {
  return path.join(dir, `.${name}.tcpsend-part`);
}
