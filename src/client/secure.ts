/**
 * The client's side of the TLS-PSK handshake, bounded in time, stoppable, and with every way it
 * can fail told apart (docs/security.md, "Shared secret"):
 *
 * - the server sent a TLS alert: it holds a different secret (wrong secret), or, with
 *   `unknown_psk_identity`, it has none at all: both are refusals, never retried;
 * - the server answered in plain text: it does not use a secret;
 * - the connection closed without a word: busy, restarting or timed out: a retry may cure it;
 * - nothing came back within the timeout, or the caller gave up (Ctrl-C).
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { AuthError, ConnectionLostError, ConnectTimeoutError } from '../errors.js';
import { clientTlsOptions } from '../transport/psk.js';

export interface SecureChannelOptions {
  /** The whole handshake must be done within this. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** OpenSSL's codes for "the peer's bytes were not TLS records": a plain-text answer. */
const PLAIN_TEXT_ANSWER = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

function explain(err: Error & { code?: string }, where: string): Error {
  const code = err.code ?? '';
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY') {
    return new AuthError(`unexpected secret: ${where} does not use one (drop --secret-file or TCPSEND_SECRET)`, { cause: err });
  }
  if (PLAIN_TEXT_ANSWER.has(code)) {
    return new AuthError(`unexpected secret: ${where} answered in plain text, not TLS (it does not use a secret)`, { cause: err });
  }
  if (/ALERT/.test(code)) {
    return new AuthError(`wrong secret: ${where} did not accept the secret (check --secret-file or TCPSEND_SECRET)`, { cause: err });
  }
  return new ConnectionLostError(
    `${where} closed the connection during the TLS handshake (busy, restarting, or slowing down repeated failures)`,
    { cause: err },
  );
}

/** Run the handshake over `socket` (connected, not yet read) with the derived `key`. */
export function secureChannel(socket: Socket, key: Buffer, where: string, options: SecureChannelOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // The raw socket may have been closed by the server already (before we got here).
    if (socket.destroyed || !socket.readable) {
      socket.destroy();
      reject(new ConnectionLostError(`${where} closed the connection before the TLS handshake`));
      return;
    }
    const secure = tls.connect({ ...clientTlsOptions(key), socket });
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      secure.off('error', onError);
      secure.off('close', onClose);
      secure.off('secureConnect', onSecure);
      if (err === null) {
        resolve(secure);
        return;
      }
      secure.destroy();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error) => settle(explain(err, where));
    // Errors of the raw socket reach `secure` too; this only keeps them from being unhandled
    // (it stays: the raw socket lives as long as the TLS one).
    const onRawError = () => {};
    // A close with no error event (an end Node does not report): never leave the caller waiting.
    const onClose = () => settle(new ConnectionLostError(`${where} closed the connection during the TLS handshake`));
    const onSecure = () => settle(null);
    const onAbort = () => settle(options.signal!.reason instanceof Error ? options.signal!.reason : new Error('aborted'));
    const timer = setTimeout(
      () =>
        settle(
          new ConnectTimeoutError(
            `no answer to the TLS handshake from ${where} within ${Math.round(options.timeoutMs / 1000)} s (is a tcpsend server with a secret listening there?)`,
          ),
        ),
      options.timeoutMs,
    );
    socket.on('error', onRawError);
    secure.once('error', onError);
    secure.once('close', onClose);
    secure.once('secureConnect', onSecure);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
