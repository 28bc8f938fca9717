/**
 * The checksum algorithms tcpsend knows by name, best first. Pure data: the protocol parses
 * and formats these names; algorithms.ts says which ones this process can actually compute.
 *
 * Both are cryptographic, so resume checks and identical-file checks stay collision-safe.
 * BLAKE3 is about 3.5× faster than SHA-256 here (6.3 against 1.79 GB/s on one core).
 */
export const CHECKSUM_NAMES = ['blake3', 'sha256'] as const;

export type ChecksumName = (typeof CHECKSUM_NAMES)[number];

/** What a peer that names no checksum speaks: every tcpsend before BLAKE3, and `nc`. */
export const LEGACY_CHECKSUM: ChecksumName = 'sha256';

export function isChecksumName(text: string): text is ChecksumName {
  return (CHECKSUM_NAMES as readonly string[]).includes(text);
}
