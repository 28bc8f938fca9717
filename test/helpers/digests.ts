/**
 * Reference digests for the tests, computed straight with the libraries (node:crypto, the
 * native BLAKE3 module), not through tcpsend's src/hash.
 */
import { createHash } from 'node:crypto';
import { blake3 as nativeBlake3, Blake3Hasher } from '@napi-rs/blake-hash';

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export const blake3Hex = (data: Buffer | string): string => nativeBlake3(typeof data === 'string' ? Buffer.from(data) : data).toString('hex');

/** A running BLAKE3, for data written in blocks. */
export function blake3Stream(): { update(data: Buffer): void; hex(): string } {
  const hasher = new Blake3Hasher();
  return { update: (data) => void hasher.update(data), hex: () => hasher.digest('hex') };
}
