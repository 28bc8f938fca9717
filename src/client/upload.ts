/**
 * PUT one local file: the server offers the part it holds, we check that part against our own
 * prefix before appending, stream the rest while hashing it (one read pass over the file), and
 * close with the digest of the whole file, which the server checks before the file appears.
 */
import fsp from 'node:fs/promises';
import type { Stats } from 'node:fs';
import {
  ChecksumMismatchError,
  FileChangedError,
  IsDirectoryError,
  ProtocolError,
  RemoteError,
} from '../errors.js';
import { formatRequest, readPutOffer, readPutResult } from '../protocol/index.js';
import type { SocketFile } from '../io/index.js';
import { createHasher, hashFileRange, takeHashWorker, WORKER_HASH_MIN_BYTES, type Hasher } from '../hash/index.js';
import type { WalkedFile } from '../transfer/walked-file.js';
import type { Connection } from './connection.js';
import type { TransferOptions, TransferResult } from './types.js';

export interface UploadOptions extends TransferOptions {
  /** Keep the file's mtime and permission bits on the server (default true). */
  preserve?: boolean;
  /**
   * The file's digest if already known, in the connection's checksum (TcpsendClient.checksum):
   * sent up front, so an identical file is skipped.
   */
  digest?: string;
  /**
   * One-step form: the body follows the PUT line without waiting for the server's offer, so
   * many small files pipeline with no round trip each. No resume; best for small files.
   */
  eager?: boolean;
  /**
   * The file a folder walk found at `localPath`: it is opened through the walked folder and
   * must be that very file (FileChangedError otherwise: walked-file.ts). Without it, the user's
   * own path is opened as named.
   */
  walked?: WalkedFile;
}

function changed(before: Stats, after: Stats): boolean {
  return before.size !== after.size || before.mtimeMs !== after.mtimeMs;
}

/** Send `localPath` to `remotePath`, resuming a partial upload the server holds. */
export async function uploadFile(
  conn: Connection,
  localPath: string,
  remotePath: string,
  options: UploadOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const handle = options.walked ? await options.walked.folder.open(options.walked.rel, options.walked.seen) : await fsp.open(localPath, 'r');
  try {
    const before = await handle.stat();
    if (before.isDirectory()) throw new IsDirectoryError(`'${localPath}' is a folder`);
    const size = before.size;
    const preserve = options.preserve ?? true;
    const { checksum } = conn;
    const put = (digest: string | null, eager = false) =>
      formatRequest({
        verb: 'PUT',
        path: remotePath,
        size,
        checksum,
        digest,
        mtime: preserve ? Math.trunc(before.mtimeMs) : null,
        mode: preserve ? before.mode & 0o777 : null,
        overwrite: options.overwrite ?? false,
        eager,
      });

    /**
     * Send bytes [from, size) of the file, hashing them into `hash` (on a worker thread when
     * they are many and the hash is SHA-256), then the trailer: END with the whole file's digest, or ABORT if the
     * file's size or mtime moved meanwhile. A file that shrank cannot be finished in step at
     * all: FileChangedError, and the connection breaks.
     */
    const sendBody = async (file: SocketFile, from: number, hash: Hasher): Promise<{ digest: string; aborted: boolean }> => {
      options.onStart?.({ size, resumedFrom: from });
      let done = from;
      const worker = size - from >= WORKER_HASH_MIN_BYTES ? takeHashWorker(checksum) : null;
      let sent: number;
      let digest: string;
      try {
        if (worker && from > 0) await worker.hashFileRange(handle.fd, 0, from);
        sent = await file.sendfile(handle, from, size - from, {
          onChunk: (chunk) => {
            done += chunk.length;
            options.onProgress?.(done, size);
            if (worker) return worker.push(chunk); // copied: sendfile reuses its buffers
            hash.update(chunk);
            return undefined;
          },
        });
        digest = worker ? await worker.digest() : hash.digest();
      } finally {
        await worker?.close();
      }
      const after = await handle.stat();
      if (sent !== size - from) {
        throw new FileChangedError(`'${localPath}' shrank while it was being sent (size ${before.size} → ${after.size}); not delivered`);
      }
      if (changed(before, after)) {
        await file.writeLine(formatRequest({ verb: 'ABORT', reason: 'changed' }));
        return { digest, aborted: true };
      }
      await file.writeLine(formatRequest({ verb: 'END', checksum, digest }));
      return { digest, aborted: false };
    };

    const storedAs = (final: Map<string, string>, digest: string) => {
      if (readPutResult(final, checksum).digest !== digest) {
        throw new ChecksumMismatchError(`the server stored '${remotePath}' with a different ${checksum} digest`);
      }
    };

    const eagerAttempt = async (known: string | null) => {
      let digest = '';
      const final = await conn.exchange(
        async (file) => {
          await file.writeLine(put(known, true));
          // After an ABORT the server answers ERR CHANGED, read below as the answer.
          ({ digest } = await sendBody(file, 0, createHasher(checksum)));
        },
        () => conn.readOk(),
      );
      if (final.get('identical') === '1') return { skipped: true, digest, resumedFrom: size };
      storedAs(final, digest);
      return { skipped: false, digest, resumedFrom: 0 };
    };

    const attempt = (known: string | null) =>
      conn.exchange(
        (file) => file.writeLine(put(known)),
        async (file) => {
          const offer = readPutOffer(await conn.readOk(), checksum);
          if (offer.identical) return { skipped: true, digest: known ?? '', resumedFrom: size };
          if (offer.offset > size) {
            throw new ProtocolError(`the server offered to resume at ${offer.offset}, past the size ${size}`);
          }
          let hash = createHasher(checksum);
          let from = 0;
          if (offer.offset > 0) {
            const total = offer.offset;
            options.onCheck?.(0, total);
            await hashFileRange(handle, 0, total, hash, undefined, (done) => options.onCheck?.(done, total));
            if (offer.partDigest !== null && hash.peek() === offer.partDigest) {
              from = offer.offset;
            } else {
              // "a part that does not match is discarded and the transfer starts over"
              options.onNotice?.(`the server's partial copy of '${remotePath}' does not match: starting over`);
              hash = createHasher(checksum);
            }
          }
          await file.writeLine(formatRequest({ verb: 'DATA', offset: from }));
          const { digest, aborted } = await sendBody(file, from, hash);
          if (aborted) {
            // This error (not a RemoteError) breaks the connection: its answer is not read.
            throw new FileChangedError(`'${localPath}' changed while it was being sent; not delivered`);
          }
          storedAs(await conn.readOk(), digest);
          return { skipped: false, digest, resumedFrom: from };
        },
        { holdWrite: true },
      );

    let outcome: { skipped: boolean; digest: string; resumedFrom: number };
    try {
      const known = options.digest ?? null;
      outcome = options.eager && known === null ? await eagerAttempt(null) : await attempt(known);
      if (outcome.skipped && known !== null) outcome.digest = known;
    } catch (err) {
      // A file exists there: if it is this very content, that is success. Hash and ask again.
      if (!(err instanceof RemoteError && err.code === 'TCPSEND_ERR_EXISTS')) throw err;
      const digest = (await hashFileRange(handle, 0, size, createHasher(checksum))).digest();
      outcome = await attempt(digest);
      if (outcome.skipped) outcome.digest = digest;
    }
    return {
      path: remotePath,
      size,
      bytes: outcome.skipped ? 0 : size - outcome.resumedFrom,
      checksum,
      digest: outcome.digest,
      resumedFrom: outcome.skipped ? 0 : outcome.resumedFrom,
      skipped: outcome.skipped,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await handle.close();
  }
}
