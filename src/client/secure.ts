/** The client's side of the TLS-PSK handshake, with failures explained. */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { AuthError } from '../errors.js';
import { clientTlsOptions, deriveKey } from '../transport/psk.js';

export async function secureChannel(socket: Socket, secret: string, where: string): Promise<tls.TLSSocket> {
  const key = await deriveKey(secret);
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ ...clientTlsOptions(key), socket });
    const fail = (err: Error & { code?: string }) => {
      secure.destroy();
      const closed = err.code === 'ECONNRESET' || /socket disconnected|hang up/i.test(err.message);
      reject(
        new AuthError(
          closed
            ? `${where} closed the connection during the TLS handshake: it may not use a secret, or is slowing down repeated failures`
            : `${where} did not accept the secret (wrong secret?)`,
          { cause: err },
        ),
      );
    };
    secure.once('error', fail);
    secure.once('secureConnect', () => {
      secure.off('error', fail);
      resolve(secure);
    });
  });
}
