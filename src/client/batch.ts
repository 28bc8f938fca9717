/**
 * The batch verbs from the client's side: MGET fetches many small files of one folder in one
 * request, MPUT stores many small files in one request (docs/protocol.md). Each file still
 * gets its own answer, verification and outcome; a refused file does not stop the others.
 */
import { ChecksumMismatchError, FileChangedError } from '../errors.js';
import {
  formatMgetItem,
  formatMputItem,
  formatPutResult,
  formatRequest,
  joinItemPath,
  MAX_MPUT_ITEM_BYTES,
  readPutResult,
} from '../protocol/index.js';
import { checksumAlgorithm, createHasher } from '../hash/index.js';
import { readWholeFileSync, type FileFacts, type LocalPlace } from '../transfer/local-file.js';
import type { FileIdentity } from '../transfer/walked-file.js';
import { SlabPool } from '../io/index.js';
import { leavesStreamInStep, type Connection } from './connection.js';
import { readGetReply } from './download.js';
import type { TransferResult } from './types.js';

export interface FetchItem {
  /** Relative to the request's folder, '/'-separated. */
  rel: string;
  /** Where it goes, inside the destination's boundary; nothing is there yet, nor a partial file. */
  dest: LocalPlace;
}

export interface StoreItem {
  rel: string;
  /** The local file; its mtime and mode go with it. */
  abs: string;
  /** The file a folder walk saw there: the file read must be that one (walked-file.ts), and the read is checked against its size, mtime and mode. */
  seen?: FileFacts & FileIdentity;
}

export interface BatchHooks<Item> {
  onStart?: (item: Item, size: number) => void;
  /** Each item's outcome, in order: a result, or the error that refused it (the others go on). */
  onDone: (item: Item, outcome: TransferResult | Error) => void;
}

/**
 * MGET `folder` for `items`. Resolves once every item has its outcome; rejects only if the
 * connection failed (the items not yet reported are then still to do).
 */
export async function fetchMany(
  conn: Connection,
  folder: string,
  items: readonly FetchItem[],
  hooks: BatchHooks<FetchItem>,
): Promise<void> {
  const { checksum } = conn;
  const lines = [formatRequest({ verb: 'MGET', path: folder, count: items.length, checksum }), ...items.map((item) => formatMgetItem(item.rel))];
  await conn.exchange(
    (file) => file.write(`${lines.join('\r\n')}\r\n`),
    async (file) => {
      for (const item of items) {
        const started = performance.now();
        const remotePath = joinItemPath(folder, item.rel);
        try {
          const { size, digest } = await readGetReply(
            conn,
            file,
            remotePath,
            { place: item.dest, prefix: createHasher(checksum), offset: 0 },
            { syncDirectory: false, onStart: ({ size }) => hooks.onStart?.(item, size) },
          );
          hooks.onDone(item, { path: item.dest.path, size, bytes: size, checksum, digest, resumedFrom: 0, skipped: false, seconds: (performance.now() - started) / 1000 });
        } catch (err) {
          if (!leavesStreamInStep(err)) throw err; // one item's failure; the others go on
          item.dest.removePart(); // bytes that did not verify
          hooks.onDone(item, err);
        }
      }
    },
  );
}

/** An MPUT's item lines and bytes are gathered in buffers of this size, reused batch after batch. */
const slabPool = new SlabPool(1024 * 1024);
/** Stands for the digest in an item line until the bytes are hashed: the same length. */
const PLACEHOLDER_DIGEST = '0'.repeat(64);

/**
 * MPUT into `folder`. Each file is read (and hashed) only when the request is written, so one
 * batch's contents are in memory at a time. A file that changed while it was read is
 * reported as failed and not sent. Resolves once every item has its outcome; rejects only if
 * the connection failed. An item the server already holds is reported skipped (identical).
 */
export async function storeMany(
  conn: Connection,
  folder: string,
  items: readonly StoreItem[],
  options: { overwrite?: boolean },
  hooks: BatchHooks<StoreItem>,
): Promise<void> {
  const { checksum } = conn;
  const algorithm = checksumAlgorithm(checksum);
  const placeholder = `${checksum}=${PLACEHOLDER_DIGEST}`;
  const sent: { item: StoreItem; size: number; digest: string; started: number }[] = [];
  await conn.exchange(
    async (file) => {
      // Item lines and bytes are laid end to end in slabs: no buffer per file, no copy to
      // gather them. Each file is read straight into place after room for its item line,
      // which is written once the bytes are hashed (its length does not depend on the hash).
      const full: { slab: Buffer; used: number }[] = [];
      let slab = slabPool.take();
      let used = 0;
      for (const item of items) {
        const started = performance.now();
        let line = '';
        let lineBytes = 0;
        let at = 0;
        let read;
        try {
          read = readWholeFileSync(
            item.abs,
            ({ size, mtimeMs, mode }) => {
              if (size > MAX_MPUT_ITEM_BYTES) {
                // It grew since it was chosen for the batch; a server would refuse it and close.
                throw new FileChangedError(`'${item.abs}' grew while it was being sent; not delivered`);
              }
              line = `${formatMputItem({ path: item.rel, size, digest: PLACEHOLDER_DIGEST, mtime: mtimeMs, mode }, checksum)}\r\n`;
              lineBytes = Buffer.byteLength(line);
              const room = lineBytes + size;
              if (used + room > slab.length) {
                if (used > 0) full.push({ slab, used });
                else slabPool.release(slab);
                slab = slabPool.take(room);
                used = 0;
              }
              at = used;
              return slab.subarray(at + lineBytes, at + lineBytes + size);
            },
            item.seen,
          );
        } catch (err) {
          hooks.onDone(item, err as Error);
          continue;
        }
        const size = read.body.length;
        const digest = algorithm.digestOf(read.body);
        slab.write(line.replace(placeholder, `${checksum}=${digest}`), at);
        used = at + lineBytes + size;
        hooks.onStart?.(item, size);
        sent.push({ item, size, digest, started });
      }
      full.push({ slab, used });
      await file.write(`${formatRequest({ verb: 'MPUT', path: folder, count: sent.length, overwrite: options.overwrite ?? false, checksum })}\r\n`);
      for (const { slab, used } of full) {
        if (used > 0) await file.writeOwned(slab.subarray(0, used), () => slabPool.release(slab));
        else slabPool.release(slab);
      }
    },
    async () => {
      const prefix = joinItemPath(folder, '');
      for (const { item, size, digest, started } of sent) {
        try {
          // The answer a server gives a stored file, to the byte, needs no parsing; any other
          // (an ERR, progress lines first, fields in another order) is read as any answer is.
          const line = await conn.readLine();
          let identical = line === formatPutResult(size, checksum, digest, true);
          if (!identical && line !== formatPutResult(size, checksum, digest)) {
            const fields = await conn.readOk(line);
            const result = readPutResult(fields, checksum);
            identical = fields.get('identical') === '1';
            if (result.digest !== digest) {
              throw new ChecksumMismatchError(`the server stored '${item.rel}' with ${checksum} ${result.digest}, ours is ${digest}`);
            }
          }
          hooks.onDone(item, { path: `${prefix}${item.rel}`, size, bytes: identical ? 0 : size, checksum, digest, resumedFrom: 0, skipped: identical, seconds: (performance.now() - started) / 1000 });
        } catch (err) {
          if (!leavesStreamInStep(err)) throw err; // one item's failure; the others go on
          hooks.onDone(item, err);
        }
      }
    },
  );
}
