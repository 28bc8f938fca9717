/**
 * GET one file into a local path: resume from a local partial file after checking its prefix
 * against the server's, hash while the bytes stream, and rename over the final name only after
 * the SHA-256 of the whole file matched the server's.
 */
import fsp from 'node:fs/promises';
import {
  ChecksumMismatchError,
  ExistsError,
  IsDirectoryError,
  ProtocolError,
  RemoteError,
} from '../errors.js';
import { formatRequest, readGetHeader, readStat } from '../protocol/index.js';
import { createSha256, hashFileRange, peekDigest, type Hash } from '../transfer/sha256.js';
import {
  finalizeLocalPart,
  localPartPath,
  openPartForWrite,
  removeIfExists,
  statOrNull,
} from '../transfer/local-file.js';
import { fileWritable } from '../transfer/chunk-writable.js';
import type { Connection } from './connection.js';
import type { TransferOptions, TransferResult } from './types.js';

/** Fetch `remotePath` into `dest`, resuming from `dest`'s partial file when it has one. */
export async function downloadFile(
  conn: Connection,
  remotePath: string,
  dest: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const existing = await statOrNull(dest);
  if (existing?.isDirectory()) throw new IsDirectoryError(`'${dest}' is a folder`);
  if (existing) {
    // Identical content already there is success, not a conflict, with or without --overwrite.
    const remote = readStat(await conn.simple({ verb: 'STAT', path: remotePath, hash: true }));
    if (remote.type === 'file' && remote.size === existing.size && remote.sha256 !== null) {
      const handle = await fsp.open(dest, 'r');
      const localSha = await hashFileRange(handle, 0, existing.size).finally(() => handle.close());
      if (localSha.digest('hex') === remote.sha256) {
        return { path: dest, size: existing.size, bytes: 0, sha256: remote.sha256, resumedFrom: 0, skipped: true, seconds: 0 };
      }
    }
    if (!options.overwrite) {
      throw new ExistsError(`'${dest}' exists and differs from the server's file (use --overwrite to replace it)`);
    }
  }

  const partPath = localPartPath(dest);
  let partSize = (await statOrNull(partPath))?.size ?? 0;
  for (;;) {
    const handle = await openPartForWrite(partPath, partSize);
    let finished = false;
    try {
      const hash = partSize > 0 ? await hashFileRange(handle, 0, partSize) : createSha256();
      const result = await receive(conn, remotePath, handle, hash, partSize, options);
      await finalizeLocalPart(handle, partPath, dest, { mtimeMs: result.mtimeMs, mode: result.mode });
      finished = true;
      return {
        path: dest,
        size: result.size,
        bytes: result.size - partSize,
        sha256: result.sha256,
        resumedFrom: partSize,
        skipped: false,
        seconds: (performance.now() - started) / 1000,
      };
    } catch (err) {
      if (!finished) await handle.close().catch(() => {});
      if (err instanceof RemoteError && partSize > 0 && (err.code === 'TCPSEND_ERR_PREFIX_MISMATCH' || err.code === 'TCPSEND_ERR_BAD_RANGE')) {
        // "a part that does not match is discarded and the transfer starts over"
        options.onNotice?.(`the partial file '${partPath}' does not match the server's file: starting over`);
        partSize = 0;
        continue;
      }
      if (err instanceof ChecksumMismatchError || (err instanceof RemoteError && err.code === 'TCPSEND_ERR_CHANGED')) {
        await removeIfExists(partPath); // those bytes are not to be trusted
      } else if (((await statOrNull(partPath))?.size ?? 0) === 0) {
        await removeIfExists(partPath); // nothing to resume: leave no trace
      }
      throw err;
    }
  }
}

interface Received {
  size: number;
  sha256: string;
  mtimeMs: number;
  mode: number;
}

async function receive(
  conn: Connection,
  remotePath: string,
  handle: fsp.FileHandle,
  hash: Hash,
  offset: number,
  options: TransferOptions,
): Promise<Received> {
  const request = formatRequest({
    verb: 'GET',
    path: remotePath,
    offset,
    length: null,
    prefixSha256: offset > 0 ? peekDigest(hash) : null,
  });
  return conn.exchange(
    (file) => file.writeLine(request),
    async (file) => {
      const header = readGetHeader(await conn.readOk());
      if (header.offset !== offset || header.offset + header.length !== header.size) {
        throw new ProtocolError(
          `asked for bytes ${offset}- of '${remotePath}', got ${header.offset}+${header.length} of ${header.size}`,
        );
      }
      options.onStart?.({ size: header.size, resumedFrom: offset });
      let done = offset;
      const out = fileWritable(handle, offset);
      try {
        await file.pipeTo(out, header.length, {
          onChunk: (chunk) => {
            hash.update(chunk);
            done += chunk.length;
            options.onProgress?.(done, header.size);
          },
        });
      } finally {
        // Whatever arrived stays in the part for the next resume.
        await new Promise<void>((resolve) => out.end(resolve));
      }
      const trailer = await conn.readOk();
      const expected = trailer.get('sha256') ?? header.sha256;
      const actual = hash.digest('hex');
      if (expected === undefined || expected === null) {
        throw new ProtocolError(`the server sent no SHA-256 for '${remotePath}'`);
      }
      if (header.sha256 !== null && header.sha256 !== expected) {
        throw new ChecksumMismatchError(`the server announced two different SHA-256 for '${remotePath}'`);
      }
      if (actual !== expected) {
        throw new ChecksumMismatchError(
          `'${remotePath}' arrived with SHA-256 ${actual}, the server's is ${expected}: not saved`,
        );
      }
      return { size: header.size, sha256: actual, mtimeMs: header.mtimeMs, mode: header.mode };
    },
  );
}
