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
  type GetHeader,
} from '../protocol/index.js';
import { checksumAlgorithm, createHasher, type ChecksumName } from '../hash/index.js';
import { readWholeFileSync, type FileFacts, type LocalPlace } from '../transfer/local-file.js';
import type { WalkedFile } from '../transfer/walked-file.js';
import { SlabPool } from '../io/index.js';
import { leavesStreamInStep, type Connection } from './connection.js';
import { checkReplyHeader, checkTrailer, getHeaderOf, getTrailerOf, isWholeBody, receiveIntoPart } from './download.js';
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
  /** The file a folder walk found there: the file read must be that one (walked-file.ts), and the read is checked against its size, mtime and mode. */
  walked?: WalkedFile<FileFacts>;
}

export interface BatchHooks<Item> {
  onStart?: (item: Item, size: number) => void;
  /** Each item's outcome, in order: a result, or the error that refused it (the others go on). */
  onDone: (item: Item, outcome: TransferResult | Error) => void;
}

/**
 * MGET `folder` for `items`. Resolves once every item has its outcome; rejects only if the
 * connection failed (the items not yet reported are then still to do).
 *
 * Small files arrive whole and are verified as they come; they are written to the disk
 * together (LocalFolder.storeWholeFiles) when the answers read so far run out, before a large
 * file streams in, and at the end, so a folder of many small files costs little per file.
 * What arrived verified is stored even if the connection then fails.
 */
export async function fetchMany(
  conn: Connection,
  folder: string,
  items: readonly FetchItem[],
  hooks: BatchHooks<FetchItem>,
): Promise<void> {
  const { checksum } = conn;
  const lines = [formatRequest({ verb: 'MGET', path: folder, count: items.length, checksum }), ...items.map((item) => formatMgetItem(item.rel))];
  const algorithm = checksumAlgorithm(checksum);
  await conn.exchange(
    (file) => file.write(`${lines.join('\r\n')}\r\n`),
    async (file) => {
      const arrived = new ArrivedFiles(checksum, hooks);
      // The answers that have arrived are read without a promise or an await each
      // (takeBufferedAnswer, takeBuffered); only when the next line is still on its way do the
      // files in hand go to the disk (store), and the read waits for it.
      const headerOf = getHeaderOf(checksum);
      const trailerOf = getTrailerOf(checksum);
      const waitFor = <T>(read: (line: string) => T) => {
        arrived.store();
        return conn.readAnswer(read);
      };
      try {
        for (const item of items) {
          const started = performance.now();
          const remotePath = joinItemPath(folder, item.rel);
          try {
            const header = checkReplyHeader(conn.takeBufferedAnswer(headerOf) ?? (await waitFor(headerOf)), remotePath, 0);
            hooks.onStart?.(item, header.size);
            if (isWholeBody(header)) {
              const body = file.takeBuffered(header.length) ?? (await file.readExactly(header.length));
              const expected = conn.takeBufferedAnswer(trailerOf) ?? (await waitFor(trailerOf));
              const digest = checkTrailer(checksum, expected, remotePath, header, algorithm.digestOf(body));
              arrived.add(item, body, header, digest, started);
              if (arrived.bytes >= ARRIVED_BYTES) arrived.store();
              continue;
            }
            arrived.store();
            const to = { place: item.dest, prefix: createHasher(checksum), offset: 0 };
            const { size, digest } = await receiveIntoPart(conn, file, remotePath, header, to, { syncDirectory: false });
            hooks.onDone(item, { path: item.dest.path, size, bytes: size, checksum, digest, resumedFrom: 0, skipped: false, seconds: (performance.now() - started) / 1000 });
          } catch (err) {
            if (!leavesStreamInStep(err)) throw err; // one item's failure; the others go on
            item.dest.removePart(); // bytes that did not verify
            arrived.refused(item, err);
          }
        }
      } finally {
        arrived.store();
      }
    },
  );
}

/** Small files that arrived are written once they hold this many bytes, if not before: memory stays bounded. */
const ARRIVED_BYTES = 4 * 1024 * 1024;

/**
 * An MGET's small files that arrived verified, waiting to be written together, and the
 * outcomes that wait with them so that every item is reported in order.
 */
class ArrivedFiles {
  private files: { item: FetchItem; body: Buffer; header: GetHeader; digest: string; started: number }[] = [];
  /** In item order: a file above (its index), or an item's refusal. */
  private outcomes: ({ file: number } | { item: FetchItem; error: Error })[] = [];
  /** The bytes of `files`. */
  bytes = 0;

  constructor(
    private readonly checksum: ChecksumName,
    private readonly hooks: BatchHooks<FetchItem>,
  ) {}

  add(item: FetchItem, body: Buffer, header: GetHeader, digest: string, started: number): void {
    this.outcomes.push({ file: this.files.length });
    this.files.push({ item, body, header, digest, started });
    this.bytes += body.length;
  }

  refused(item: FetchItem, error: Error): void {
    if (this.outcomes.length === 0) this.hooks.onDone(item, error);
    else this.outcomes.push({ item, error });
  }

  /** Write the files in hand together, then report every outcome held, in order. */
  store(): void {
    if (this.outcomes.length === 0) return;
    const { files, outcomes, checksum } = this;
    this.files = [];
    this.outcomes = [];
    this.bytes = 0;
    // A run of files bound for one destination folder is one batch (a tree's are all one).
    const errors: (Error | null)[] = [];
    for (let from = 0, to = 1; from < files.length; from = to, to = from + 1) {
      const { folder } = files[from]!.item.dest;
      while (to < files.length && files[to]!.item.dest.folder === folder) to++;
      const run = files.slice(from, to).map(({ item, body, header }) => ({ place: item.dest, body, meta: { mtimeMs: header.mtimeMs, mode: header.mode } }));
      errors.push(...folder.storeWholeFiles(run));
    }
    for (const outcome of outcomes) {
      if (!('file' in outcome)) {
        this.hooks.onDone(outcome.item, outcome.error);
        continue;
      }
      const { item, header, digest, started } = files[outcome.file]!;
      const { size } = header;
      this.hooks.onDone(item, errors[outcome.file] ?? { path: item.dest.path, size, bytes: size, checksum, digest, resumedFrom: 0, skipped: false, seconds: (performance.now() - started) / 1000 });
    }
  }
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
            item.walked,
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
