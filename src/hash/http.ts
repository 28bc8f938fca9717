/**
 * Digests in HTTP (RFC 9530, "Digest Fields"): `Repr-Digest: sha-256=:BASE64:`. The value is
 * a structured-field dictionary whose keys come from IANA's "Hash Algorithms for HTTP Digest
 * Fields" registry. SHA-256 is registered as `sha-256`; BLAKE3 is not registered, so it goes
 * under its own name, `blake3`, which RFC 9530 recipients that do not know it ignore.
 */
import type { ChecksumName } from './names.js';

const HTTP_NAMES: Record<ChecksumName, string> = {
  sha256: 'sha-256',
  blake3: 'blake3',
};

/** The algorithm's key in a Repr-Digest or Content-Digest field. */
export function httpDigestName(name: ChecksumName): string {
  return HTTP_NAMES[name];
}

/** One Repr-Digest member, e.g. `sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:`. */
export function reprDigest(name: ChecksumName, hexDigest: string): string {
  return `${httpDigestName(name)}=:${Buffer.from(hexDigest, 'hex').toString('base64')}:`;
}
