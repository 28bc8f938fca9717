/**
 * PUT one local file: the server offers the part it holds, we check that part against our own
 * prefix before appending, stream the rest while hashing it (one read pass over the file), and
 * close with the SHA-256 of the whole file, which the server checks before the file appears.
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
import { formatRequest, readPutOffer } from '../protocol/index.js';
import { createSha256, hashFileRange, peekDigest } from '../transfer/sha256.js';
import { takeHashWorker, WORKER_HASH_MIN_BYTES } from '../transfer/hash-worker.js';
import type { Connection } from './connection.js';
import type { TransferOptions, TransferResult } from './types.js';

export interface UploadOptions extends TransferOptions {
  /** Keep the file's mtime and permission bits on the server (default true). */
  preserve?: boolean;
  /** The file's SHA-256 if already known: sent up front, so an identical file is skipped. */
  sha256?: string;
  /**
   * One-step form: the body follows the PUT line without waiting for the server's offer, so
   * many small files pipeline with no round trip each. No resume; best for small files.
   */
  eager?: boolean;
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
  const handle = await fsp.open(localPath, 'r');
  try {
    const before = await handle.stat();
    if (before.isDirectory()) throw new IsDirectoryError(`'${localPath}' is a folder`);
    const size = before.size;
    const preserve = options.preserve ?? true;
    const put = (sha256: string | null, eager = false) =>
      formatRequest({
        verb: 'PUT',
        path: remotePath,
        size,
        sha256,
        mtime: preserve ? Math.trunc(before.mtimeMs) : null,
        mode: preserve ? before.mode & 0o777 : null,
        overwrite: options.overwrite ?? false,
        eager,
      });

    const eagerAttempt = async (sha256: string | null) => {
      const hash = createSha256();
      let digest = '';
      const final = await conn.exchange(
        async (file) => {
          await file.writeLine(put(sha256, true));
          options.onStart?.({ size, resumedFrom: 0 });
          let done = 0;
          const sent = await file
            .sendfile(handle, 0, size, {
              onChunk: (chunk) => {
                hash.update(chunk);
                done += chunk.length;
                options.onProgress?.(done, size);
              },
            });
          const after = await handle.stat();
          if (sent !== size) {
            throw new FileChangedError(`'${localPath}' shrank while it was being sent; not delivered`);
          }
          digest = hash.digest('hex');
          if (changed(before, after)) {
            await file.writeLine(formatRequest({ verb: 'ABORT', reason: 'changed' }));
          } else {
            await file.writeLine(formatRequest({ verb: 'END', sha256: digest }));
          }
        },
        () => conn.readOk(),
      );
      if (final.get('identical') === '1') return { skipped: true, sha256: digest, resumedFrom: size };
      if (final.get('sha256') !== digest) {
        throw new ChecksumMismatchError(`the server stored '${remotePath}' with a different SHA-256`);
      }
      return { skipped: false, sha256: digest, resumedFrom: 0 };
    };

    const attempt = (sha256: string | null) =>
      conn.exchange(
        (file) => file.writeLine(put(sha256)),
        async (file) => {
          const offer = readPutOffer(await conn.readOk());
          if (offer.identical) return { skipped: true, sha256: sha256 ?? '', resumedFrom: size };
          if (offer.offset > size) {
            throw new ProtocolError(`the server offered to resume at ${offer.offset}, past the size ${size}`);
          }
          const hash = createSha256();
          let from = 0;
          if (offer.offset > 0) {
            await hashFileRange(handle, 0, offer.offset, hash);
            if (offer.partSha256 !== null && peekDigest(hash) === offer.partSha256) {
              from = offer.offset;
            } else {
              // "a part that does not match is discarded and the transfer starts over"
              options.onNotice?.(`the server's partial copy of '${remotePath}' does not match: starting over`);
              hash.destroy?.();
              return sendBody(file, createSha256(), 0);
            }
          }
          return sendBody(file, hash, from);

          async function sendBody(f: typeof file, h: ReturnType<typeof createSha256>, q: number) {
            let digestOnWorker: string | null = null;
            await f.writeLine(formatRequest({ verb: 'DATA', offset: q }));
            options.onStart?.({ size, resumedFrom: q });
            let done = q;
            // A large file is hashed on a worker thread while this one sends it.
            const worker = size - q >= WORKER_HASH_MIN_BYTES ? takeHashWorker() : null;
            let sent: number;
            try {
              if (worker && q > 0) await worker.hashFileRange(handle.fd, 0, q);
              sent = await f.sendfile(handle, q, size - q, {
                onChunk: (chunk) => {
                  done += chunk.length;
                  options.onProgress?.(done, size);
                  if (worker) return worker.push(chunk); // copied: sendfile reuses its buffers
                  h.update(chunk);
                  return undefined;
                },
              });
              if (worker) digestOnWorker = await worker.digest();
            } finally {
              await worker?.close();
            }
            const after = await handle.stat();
            if (sent !== size - q || changed(before, after)) {
              // The server is still owed bytes if the file shrank: the connection cannot
              // go on in step, so this error (not a RemoteError) breaks it.
              if (sent === size - q) await f.writeLine(formatRequest({ verb: 'ABORT', reason: 'changed' }));
              throw new FileChangedError(
                `'${localPath}' changed while it was being sent (size ${before.size} → ${after.size}); not delivered`,
              );
            }
            const digest = digestOnWorker ?? h.digest('hex');
            await f.writeLine(formatRequest({ verb: 'END', sha256: digest }));
            const final = await conn.readOk();
            if (final.get('sha256') !== digest) {
              throw new ChecksumMismatchError(`the server stored '${remotePath}' with a different SHA-256`);
            }
            return { skipped: false, sha256: digest, resumedFrom: q };
          }
        },
        { holdWrite: true },
      );

    let outcome: { skipped: boolean; sha256: string; resumedFrom: number };
    try {
      const known = options.sha256 ?? null;
      outcome = options.eager && known === null ? await eagerAttempt(null) : await attempt(known);
      if (outcome.skipped && known !== null) outcome.sha256 = known;
    } catch (err) {
      // A file exists there: if it is this very content, that is success. Hash and ask again.
      if (!(err instanceof RemoteError && err.code === 'TCPSEND_ERR_EXISTS')) throw err;
      const sha256 = (await hashFileRange(handle, 0, size)).digest('hex');
      outcome = await attempt(sha256);
      if (outcome.skipped) outcome.sha256 = sha256;
    }
    return {
      path: remotePath,
      size,
      bytes: outcome.skipped ? 0 : size - outcome.resumedFrom,
      sha256: outcome.sha256,
      resumedFrom: outcome.skipped ? 0 : outcome.resumedFrom,
      skipped: outcome.skipped,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await handle.close();
  }
}
