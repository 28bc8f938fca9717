/**
 * The few TLS record bytes tcpsend looks at or sends outside a TLS session (RFC 8446, 5.1 and
 * 6): enough to tell a TLS client from a plain-text one by its first byte, and to turn a TLS
 * client away in terms its TLS library understands.
 */

/** ContentType handshake(22): every TLS connection opens with a handshake record. */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Does a connection whose first bytes are `head` speak TLS (a ClientHello record, version 3.x)? */
export function startsTls(head: Uint8Array): boolean {
  return head.length >= 1 && head[0] === TLS_HANDSHAKE_RECORD && (head.length < 2 || head[1] === 0x03);
}

/**
 * A fatal `unknown_psk_identity` alert (115), sent in the clear by a server that has no secret:
 * the client's TLS library reports it as such, and the client says "this server does not use a
 * secret" instead of guessing from a silent close. Record: alert(21), TLS 1.2 (3,3), length 2,
 * level fatal(2), description.
 */
export const NO_SECRET_ALERT: Buffer = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 115]);
