/** SHA-256 helpers: hashing a file range, and digests as lower-case hex. */
import { createHash, type Hash } from 'node:crypto';
import type { ReadableFile } from '../io/sendfile.js';

export type { Hash };

export function createSha256(): Hash {
  return createHash('sha256');
}

/** Hex digest of a copy of `hash`, leaving `hash` free to take more bytes. */
export function peekDigest(hash: Hash): string {
  return hash.copy().digest('hex');
}

const HASH_CHUNK = 1024 * 1024;

/**
 * Feed bytes [offset, offset + length) of `file` into `hash` (a new one by default) and return
 * it. Throws if the file ends early, since then the range the caller asked about is not there.
 */
export async function hashFileRange(
  file: ReadableFile,
  offset: number,
  length: number,
  hash: Hash = createSha256(),
  buffer: Buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK, Math.max(length, 1))),
  /** Told the bytes of the range hashed so far, after each read. */
  onProgress?: (done: number) => void,
): Promise<Hash> {
  let position = offset;
  let remaining = length;
  while (remaining > 0) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, remaining), position);
    if (bytesRead === 0) throw new Error(`file ended at ${position}, ${remaining} bytes short`);
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
    remaining -= bytesRead;
    onProgress?.(length - remaining);
  }
  return hash;
}
