/** GET: a whole file or a range, with the whole file's SHA-256 in a trailer (docs/protocol.md). */
import { BadRangeError, FileChangedError, PrefixMismatchError } from '../../errors.js';
import { fileChanged } from '../../files/index.js';
import { formatErr, formatOk, type GetRequest } from '../../protocol/index.js';
import { createHasher, hashFileRange, type Hasher, type HashWorker } from '../../hash/index.js';
import type { OpenedFile } from '../root/index.js';
import type { FolderScope } from '../root/folders.js';
import type { HandlerResult, ServerContext, Session } from '../context.js';
import { layOutSmallFile, SMALL_BODY, type PreparedReply } from '../reply.js';
import { abortable, untilAborted } from '../cancel.js';
import { hashWorkerFor } from '../file-hash.js';
import { keepAlive } from '../progress.js';
import { quoteRequestPath } from '../../files/quote-path.js';

export async function handleGet(ctx: ServerContext, session: Session, req: GetRequest): Promise<HandlerResult> {
  return (await prepareGet(ctx, session, req)).send(session);
}

/** What GET answers, before any byte goes out: the checks, and a small file's whole reply. */
export async function prepareGet(ctx: ServerContext, session: Session, req: GetRequest, scope?: FolderScope): Promise<PreparedReply> {
  const opened = ctx.root.openRead(req.path, scope);
  const { file, info } = opened;
  let handedOff = false;
  try {
    // "an `offset` past the size is `ERR BAD_RANGE`"
    if (req.offset > info.size) {
      throw new BadRangeError(`offset ${req.offset} is past the end of ${quoteRequestPath(req.path)} (${info.size} bytes)`);
    }
    // "A `length` past the end is cut to the end (the reply says how many bytes follow)"
    const available = info.size - req.offset;
    const length = req.length === null ? available : Math.min(req.length, available);
    if (info.size <= SMALL_BODY) {
      let whole: Buffer | null = null;
      const used = layOutSmallFile(ctx, req.path, opened, { offset: req.offset, length, checksum: req.checksum, prefixDigest: req.prefixDigest }, (bytes) => {
        whole = Buffer.allocUnsafe(bytes);
        return { buffer: whole, at: 0 };
      });
      const reply = whole!.subarray(0, used);
      return {
        heldBytes: reply.length,
        send: async (s) => {
          await s.file.write(reply);
          return { bytes: length };
        },
        discard: () => {},
      };
    }
    // The resume check may take long (a prefix of many GB): it starts now, and is awaited at
    // this reply's turn, with progress lines for a client that takes them.
    const progress = { bytes: 0 };
    const planning = planLarge(ctx, session, req, opened, length, progress);
    planning.catch(() => {}); // awaited at its turn
    handedOff = true;
    return {
      heldBytes: 0,
      send: async (s) => {
        let plan: LargePlan;
        try {
          plan = await keepAlive(ctx, s, planning, () => ({ hashed: progress.bytes, length: req.offset }));
        } catch (err) {
          file.close();
          throw err;
        }
        return sendLarge(ctx, s, req, opened, plan);
      },
      discard: () => {
        file.close();
        void planning.then((plan) => plan.worker?.close(), () => {});
      },
    };
  } finally {
    if (!handedOff) file.close();
  }
}

interface LargePlan {
  header: string;
  length: number;
  cached: string | null;
  /** The hash of the bytes before the range, when the whole file's hash is to be computed. */
  hash: Hasher | null;
  /** A worker thread that holds that hash instead (a long prefix was hashed on it). */
  worker: HashWorker | null;
}

/**
 * The header of a large reply, after the resume check. A long prefix is hashed on a worker
 * thread (at the speed of the hash, not of a JavaScript read loop: a 10 GB prefix once took
 * longer than a client waits), and either way the hashing stops when the client leaves.
 */
async function planLarge(
  ctx: ServerContext,
  session: Session,
  req: GetRequest,
  { file, info }: OpenedFile,
  length: number,
  progress: { bytes: number },
): Promise<LargePlan> {
  const cached = ctx.hashCache.get(info, req.checksum) ?? null;
  let hash: Hasher | null = null;
  let worker: HashWorker | null = null;
  if (cached === null || req.prefixDigest !== null) {
    let prefix: string | null = null;
    worker = hashWorkerFor(file, req.offset, req.checksum);
    if (worker) {
      const running = worker;
      try {
        prefix = await untilAborted(running.hashFileRange(file.kernelFd!, 0, req.offset), session.beforeAnswer, () => running.close());
      } catch (err) {
        await running.close();
        throw err;
      }
    } else {
      hash = createHasher(req.checksum);
      if (req.offset > 0) await hashFileRange(abortable(file, session.beforeAnswer, progress), 0, req.offset, hash);
      prefix = hash.peek();
    }
    if (req.prefixDigest !== null && req.offset > 0 && prefix !== req.prefixDigest) {
      await worker?.close();
      throw new PrefixMismatchError(`the first ${req.offset} bytes of ${quoteRequestPath(req.path)} differ from the receiver's: start over`);
    }
    if (cached !== null) {
      hash = null;
      await worker?.close();
      worker = null;
    }
  }
  const header = formatOk({ size: info.size, offset: req.offset, length, mtime: info.mtimeMs, mode: info.mode, [req.checksum]: cached });
  return { header, length, cached, hash, worker };
}

async function sendLarge(ctx: ServerContext, session: Session, req: GetRequest, { file, info }: OpenedFile, plan: LargePlan): Promise<HandlerResult> {
  try {
    await session.file.writeLine(plan.header);
    await session.partway(() => sendBody(ctx, session, req, { file, info }, plan));
    return { bytes: plan.length, note: req.offset > 0 ? `from ${req.offset}` : undefined };
  } finally {
    file.close();
  }
}

/** The announced bytes, then the trailer: the whole file's SHA-256, or CHANGED. */
async function sendBody(ctx: ServerContext, session: Session, req: GetRequest, { file, info }: OpenedFile, plan: LargePlan): Promise<void> {
  const { length, cached } = plan;
  const running = plan.hash;
  const end = req.offset + length;
  // An uncached large file is hashed while it is sent: on a worker thread when the hash is
  // worth one (SHA-256), else here (BLAKE3).
  const worker = plan.worker ?? (running ? hashWorkerFor(file, length, req.checksum) : null);
  let digest = cached;
  const source = abortable(file, session.signal);
  try {
    if (worker && !plan.worker && req.offset > 0) await worker.hashFileRange(file.kernelFd!, 0, req.offset);
    const sent = await session.file.sendfile(source, req.offset, length, {
      onChunk: (chunk) => {
        if (worker) return worker.push(chunk);
        running?.update(chunk);
        return undefined;
      },
    });
    if (sent < length) {
      // The file shrank under us: the announced bytes cannot all come, so the stream cannot
      // be kept in step. The error closes the connection.
      throw new FileChangedError(`${quoteRequestPath(req.path)} shrank while it was being sent`);
    }
    if (worker) {
      if (end < info.size) await untilAborted(worker.hashFileRange(file.kernelFd!, end, info.size - end), session.signal, () => worker.close());
      digest = await worker.digest();
    } else if (running) {
      if (end < info.size) await hashFileRange(source, end, info.size - end, running);
      digest = running.digest();
    }
  } finally {
    await worker?.close();
  }
  if (fileChanged(info, file.stat())) {
    await session.file.writeLine(formatErr('CHANGED', `${quoteRequestPath(req.path)} changed while it was being sent: do not trust these bytes`));
  } else {
    if (cached === null && digest !== null) ctx.hashCache.set(info, req.checksum, digest);
    await session.file.writeLine(formatOk({ [req.checksum]: digest }));
  }
}
