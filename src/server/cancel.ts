/**
 * Long work for one connection (hashing a large file for HASH, a resume check or a trailer)
 * stops when that connection is over or the server shuts down: each read checks the session's
 * signal, so at most one chunk is read for nobody.
 */
import { TcpsendError, TransferInterruptedError } from '../errors.js';
import type { ReadableFile } from '../io/sendfile.js';

/**
 * `file`, whose reads fail once `signal` is aborted (with its reason, if that is one of ours);
 * `progress.bytes` counts what was read through it.
 */
export function abortable(file: ReadableFile, signal: AbortSignal, progress?: { bytes: number }): ReadableFile {
  return {
    read: async (buffer, offset, length, position) => {
      if (signal.aborted) throw abortReason(signal);
      const result = await file.read(buffer, offset, length, position);
      if (progress) progress.bytes += result.bytesRead;
      return result;
    },
  };
}

/** The reason work for a connection stops: the signal's own, if it is one of ours. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof TcpsendError ? reason : new TransferInterruptedError(0, 'the client went away', { cause: reason });
}

/**
 * `work`, or its rejection with the abort reason as soon as `signal` is aborted (`onAbort`
 * then stops what `work` was doing, e.g. ends a worker thread).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, onAbort: () => unknown = () => {}): Promise<T> {
  if (signal.aborted) {
    void onAbort();
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      void onAbort();
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err);
      },
    );
  });
}
