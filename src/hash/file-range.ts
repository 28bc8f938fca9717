/** Hashing a range of a file through its handle. */
import type { ReadableFile } from '../io/sendfile.js';
import type { Hasher } from './algorithms.js';

const HASH_CHUNK = 1024 * 1024;

/**
 * Feed bytes [offset, offset + length) of `file` into `hash` and return it. Throws if the file
 * ends early, since then the range the caller asked about is not there.
 */
export async function hashFileRange<H extends Hasher>(
  file: ReadableFile,
  offset: number,
  length: number,
  hash: H,
  buffer: Buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK, Math.max(length, 1))),
  /** Told the bytes of the range hashed so far, after each read. */
  onProgress?: (done: number) => void,
): Promise<H> {
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
