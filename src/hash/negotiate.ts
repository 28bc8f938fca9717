/**
 * Choosing a checksum (docs/protocol.md, "Checksums"): the server's greeting lists the
 * algorithms it has (`checksums=blake3,sha256`), the client's HELLO the ones it has, and each
 * transfer uses the best one both have. A greeting without the list is an older server,
 * which only knows SHA-256.
 */
import { CHECKSUM_NAMES, isChecksumName, LEGACY_CHECKSUM, type ChecksumName } from './names.js';

/** `blake3,sha256` → the known names in it (unknown ones are a newer peer's: ignored). */
export function parseChecksumList(text: string | undefined): ChecksumName[] {
  if (text === undefined) return [LEGACY_CHECKSUM];
  return text.split(',').filter(isChecksumName);
}

export function formatChecksumList(names: readonly ChecksumName[]): string {
  return names.join(',');
}

/** The best algorithm in both lists (best = first in CHECKSUM_NAMES), or null if none. */
export function chooseChecksum(ours: readonly ChecksumName[], theirs: readonly ChecksumName[]): ChecksumName | null {
  return CHECKSUM_NAMES.find((name) => ours.includes(name) && theirs.includes(name)) ?? null;
}
