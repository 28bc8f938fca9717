/**
 * Long work for one connection (hashing a large file for HASH, a resume check or a trailer)
 * stops when that connection is over or the server shuts down: each read checks the session's
 * signal, so at most one chunk is read for nobody.
 */
import { TcpsendError, TransferInterruptedError } from '../errors.js';
import type { ReadableFile } from '../io/sendfile.js';

/** `file`, whose reads fail once `signal` is aborted (with its reason, if that is one of ours). */
export function abortable(file: ReadableFile, signal: AbortSignal): ReadableFile {
  return {
    read: (buffer, offset, length, position) => {
      if (signal.aborted) {
        const reason: unknown = signal.reason;
        return Promise.reject(reason instanceof TcpsendError ? reason : new TransferInterruptedError(0, 'the client went away', { cause: reason }));
      }
      return file.read(buffer, offset, length, position);
    },
  };
}
