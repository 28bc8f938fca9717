/**
 * A shared secret turns on TLS 1.3 with an external pre-shared key: traffic is encrypted and
 * both ends prove they hold the secret, with no certificates.
 *
 * The key is derived with scrypt rather than a bare HKDF: a person's secret may be a short
 * passphrase, and a captured handshake lets an eavesdropper test guesses offline, so each
 * guess should cost real work (passphrase.ts makes the generated ones; docs/security.md says
 * what a recorded handshake lets an attacker try).
 */
import { scrypt } from 'node:crypto';
import type { ConnectionOptions, TlsOptions } from 'node:tls';

/** The PSK identity both ends use; it names the key derivation, so a v2 can differ. */
export const PSK_IDENTITY = 'tcpsend-psk-v1';

const SALT = 'tcpsend/1 pre-shared key';
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

// TLS 1.3 only; with the legacy PSK callback OpenSSL pairs the key with SHA-256 suites.
const TLS13_PSK = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
} as const;

const derived = new Map<string, Promise<Buffer>>();

/** The 32-byte TLS key for `secret` (memoised: every retry of a client reuses it). */
export function deriveKey(secret: string): Promise<Buffer> {
  let key = derived.get(secret);
  if (!key) {
    key = new Promise<Buffer>((resolve, reject) =>
      scrypt(secret.normalize('NFC'), SALT, 32, SCRYPT, (err, out) => (err ? reject(err) : resolve(out))),
    );
    derived.set(secret, key);
  }
  return key;
}

export function serverTlsOptions(key: Buffer): TlsOptions {
  return {
    ...TLS13_PSK,
    // Only our identity gets the key; anything else ends the handshake.
    pskCallback: (_socket, identity) => (identity === PSK_IDENTITY ? key : null),
  };
}

export function clientTlsOptions(key: Buffer): ConnectionOptions {
  return {
    ...TLS13_PSK,
    pskCallback: () => ({ psk: key, identity: PSK_IDENTITY }),
    // No certificate to check: holding the key is the server's proof of identity.
    checkServerIdentity: () => undefined,
  };
}
