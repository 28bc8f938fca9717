/**
 * From the client's side, a server line that breaks the grammar is not a bad request but a
 * peer that broke the protocol: the parsers' own errors are wrapped in a ProtocolError.
 */

import { ProtocolError, TcpsendError } from '../errors.js';

/** Runs `parse`; a TcpsendError it throws becomes a ProtocolError (with the original as cause). */
export function fromPeer<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ProtocolError || !(err instanceof TcpsendError)) throw err;
    throw new ProtocolError(`bad ${what} from the server: ${err.message}`, { cause: err });
  }
}
