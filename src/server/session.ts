/**
 * One connection, from accept to close: setup (the first line decides between a bare
 * selector and the protocol), then a loop of request → handler → reply, then finish. This is
 * the one place that catches: a request's error becomes `ERR <code> <message>` and the loop
 * goes on, unless the stream lost its place, in which case the connection is closed.
 */
import type { Socket } from 'node:net';
import {
  BadRequestError,
  InternalError,
  LineTooLongError,
  ShuttingDownError,
  TcpsendError,
  TimeoutError,
  TransferInterruptedError,
  UnexpectedEofError,
} from '../errors.js';
import { SocketFile } from '../io/index.js';
import {
  formatErr,
  formatGreeting,
  firstLineKind,
  parseRequest,
  PROTOCOL_VERSION,
  splitTokens,
  type Request,
} from '../protocol/index.js';
import { VERSION } from '../version.js';
import { formatChecksumList } from '../hash/index.js';
import { checkChecksum } from './checksum.js';
import type { HandlerResult, ServerContext, Session } from './context.js';
import { handleDelete } from './handlers/delete.js';
import { handleGet, prepareGet } from './handlers/get.js';
import { handleHash } from './handlers/hash.js';
import { handleList } from './handlers/list.js';
import { handleMget } from './handlers/mget.js';
import { handleMkdir } from './handlers/mkdir.js';
import { handleMput } from './handlers/mput.js';
import { handlePut, isSmallEagerPut, prepareSmallPut } from './handlers/put.js';
import { handleSelector, selectorError } from './handlers/selector.js';
import { handleHello, handleQuit } from './handlers/session-verbs.js';
import { handleStat } from './handlers/stat.js';
import { handleSymlink } from './handlers/symlink.js';
import type { PreparedReply } from './reply.js';
import { NO_SECRET_ALERT, startsTls } from '../transport/records.js';

export const CAPS = ['range', 'sha256', 'resume', 'hash', 'list', 'mkdir', 'selector', 'mget', 'mput', 'symlink'];

/** The greeting's capabilities on a server with `options` (`delete` only where it is allowed). */
export function capsFor(ctx: ServerContext): string[] {
  return ctx.options.allowDelete ? [...CAPS, 'delete'] : CAPS;
}

/** One line of the request log. */
export interface RequestLogEntry {
  peer: string;
  verb: string;
  path: string | null;
  bytes: number;
  ms: number;
  /** 'OK' or the error's wire code. */
  result: string;
  message?: string;
  note?: string;
}

/** A transfer (GET, PUT, MGET, MPUT) about to run: for a log line when it starts. */
export interface TransferStart {
  peer: string;
  verb: string;
  path: string | null;
}

export type RequestLogger = ((entry: RequestLogEntry) => void) & { started?: (start: TransferStart) => void };

const TRANSFER_VERBS = new Set(['GET', 'PUT', 'MGET', 'MPUT']);

async function dispatch(ctx: ServerContext, session: Session, req: Request): Promise<HandlerResult> {
  // A PUT's own checks come before its body, which a one-step PUT must read past when refused.
  if (req.verb !== 'PUT') checkChecksum(ctx, req);
  switch (req.verb) {
    case 'HELLO':
      return handleHello(ctx, session, req);
    case 'STAT':
      return handleStat(ctx, session, req);
    case 'LIST':
      return handleList(ctx, session, req);
    case 'GET':
      return handleGet(ctx, session, req);
    case 'HASH':
      return handleHash(ctx, session, req);
    case 'PUT':
      return handlePut(ctx, session, req);
    case 'MKDIR':
      return handleMkdir(ctx, session, req);
    case 'QUIT':
      return handleQuit(ctx, session);
    case 'MGET':
      return handleMget(ctx, session, req);
    case 'MPUT':
      return handleMput(ctx, session, req);
    case 'DELETE':
      return handleDelete(ctx, session, req);
    case 'SYMLINK':
      return handleSymlink(ctx, session, req);
    default:
      // DATA, END and ABORT only make sense inside a PUT.
      throw new BadRequestError(`${req.verb} is only valid inside an upload, right after PUT`);
  }
}

/** Errors after which the stream's position is unknown: answer if possible, then close. */
function losesPlace(err: unknown): boolean {
  return err instanceof LineTooLongError || err instanceof TimeoutError;
}

export function asTcpsendError(err: unknown): TcpsendError {
  if (err instanceof TcpsendError) return err;
  return new InternalError(`internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Replies prepared ahead of their turn, at most, per connection. */
const READ_AHEAD = 16;
/**
 * Bytes those replies may hold in memory, per connection and for all connections together: a
 * client that pipelines and never reads must not make the server hold megabytes for it.
 */
export const READ_AHEAD_BYTES = 1024 * 1024;
export const READ_AHEAD_BYTES_ALL = 64 * 1024 * 1024;

/** The verb a line starts with, for routing a line that did not parse. */
function verbWord(line: string): string {
  return line.split(' ', 1)[0] ?? '';
}

/** A line that did not parse, but asks for a one-step PUT: a body we cannot measure follows it. */
function isOneStepPut(line: string): boolean {
  return verbWord(line) === 'PUT' && splitTokens(line).includes('offset=0');
}

/** GETs and small one-step PUTs run ahead: a later request cannot depend on what they do. */
function preparable(req: Request): boolean {
  return req.verb === 'GET' || isSmallEagerPut(req);
}

/**
 * Run the request on `line`, and with it any GETs and small one-step PUTs the client has
 * already pipelined behind it: their file-system work starts at once, and their replies go
 * out in order. `stop` when the connection must close; `rest`, a line read ahead that is
 * still to be run.
 */
async function runRequests(
  ctx: ServerContext,
  session: Session,
  log: RequestLogger,
  line: string,
): Promise<{ stop: boolean; rest: string | null }> {
  const { file } = session;
  const shuttingDown = () => {
    if (ctx.shuttingDown) throw new ShuttingDownError('the server is shutting down: try again shortly');
  };
  let parsed: Request | null = null;
  let parseError: unknown = null;
  try {
    parsed = parseRequest(line);
  } catch (err) {
    parseError = err;
  }
  const parse = (): Request => {
    if (parsed === null) throw parseError;
    return parsed;
  };
  const batchVerb = (verb: string) => verb === 'MGET' || verb === 'MPUT';
  if (parsed === null || !preparable(parsed)) {
    // A batch request's items follow its line: until its handler has read them all, an
    // error (a malformed line, a server shutting down) leaves the stream out of step. So does
    // a one-step PUT whose line is malformed: its body cannot be measured.
    if (batchVerb(parsed?.verb ?? verbWord(line)) || (parsed === null && isOneStepPut(line))) session.markOutOfStep();
    const result = await runOne(ctx, session, log, parse, async () => {
      shuttingDown();
      return dispatch(ctx, session, parse());
    }, line);
    return { stop: Boolean(result.close || session.outOfStep), rest: null };
  }
  // closeAfter: the stream lost its place at this request; answer it, then close.
  const batch: { line: string; parse: () => Request; prepared: Promise<PreparedReply>; closeAfter?: boolean }[] = [];
  let held = 0;
  const budget = ctx.readAhead;
  /** Start `req`'s work (a GET, or a small one-step PUT whose body is read now). */
  const prepare = async (text: string, req: Request): Promise<void> => {
    const parseIt = () => req;
    if (req.verb === 'PUT') {
      // Its body is read now, in turn; only the storing runs ahead.
      const { stored, closeAfter } = await prepareSmallPut(ctx, session, req);
      batch.push({ line: text, parse: parseIt, prepared: stored, closeAfter });
      held += req.size;
      return;
    }
    const prepared = (async () => {
      shuttingDown();
      if (req.verb !== 'GET') throw new BadRequestError('expected GET');
      checkChecksum(ctx, req);
      const reply = await prepareGet(ctx, session, req);
      held += reply.heldBytes;
      budget.bytes += reply.heldBytes;
      return reply;
    })();
    prepared.catch(() => {}); // awaited in turn below; never an unhandled rejection meanwhile
    batch.push({ line: text, parse: parseIt, prepared });
  };
  await prepare(line, parsed);
  let rest: string | null = null;
  const roomAhead = () => batch.length < READ_AHEAD && held < READ_AHEAD_BYTES && budget.bytes < READ_AHEAD_BYTES_ALL;
  while (roomAhead() && !batch.at(-1)?.closeAfter && file.hasBufferedLine()) {
    const next = await file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
    if (next === null) break;
    let req: Request | null = null;
    try {
      req = parseRequest(next);
    } catch {
      // Not run ahead: it is answered (or refused) in its turn.
    }
    if (req === null || !preparable(req)) {
      rest = next;
      break;
    }
    await prepare(next, req);
  }
  let index = 0;
  try {
    for (; index < batch.length; index++) {
      const { line: text, parse: parseIt, prepared, closeAfter } = batch[index]!;
      const result = await runOne(ctx, session, log, parseIt, async () => {
        const reply = await prepared;
        budget.bytes -= reply.heldBytes;
        return reply.send(session);
      }, text);
      if (result.close || session.outOfStep || closeAfter) return { stop: true, rest: null };
    }
  } finally {
    // Replies whose turn never came still hold open files, and their share of the budget.
    for (const { prepared } of batch.slice(index + 1)) {
      void prepared.then((p) => {
        budget.bytes -= p.heldBytes;
        p.discard();
      }, () => {});
    }
  }
  return { stop: false, rest };
}

/** A TLS record of type handshake (0x16), version 3.x: a client that expects a secret. */
async function looksLikeTls(file: SocketFile): Promise<boolean> {
  const head = await file.peek(2);
  return head.length === 2 && startsTls(head);
}

export async function runSession(
  ctx: ServerContext,
  socket: Socket,
  session: Session,
  log: RequestLogger,
): Promise<void> {
  const { file } = session;
  let first = true;
  // Work still running for this connection (a long hash) stops once it is gone.
  socket.once('close', () => session.end(new TransferInterruptedError(0, 'the connection closed')));
  socket.once('end', () => session.peerEnded(new TransferInterruptedError(0, 'the client ended the connection')));
  try {
    for (;;) {
      session.busy = false;
      session.lastActive = Date.now();
      if (first && (await looksLikeTls(file))) {
        log({ peer: session.peer, verb: 'TLS', path: null, bytes: 0, ms: 0, result: 'AUTH', message: 'a TLS handshake, but this server has no secret' });
        await file.write(NO_SECRET_ALERT).catch(() => {});
        break;
      }
      const line = await file.readLine({ deadlineMs: ctx.options.lineDeadlineMs });
      if (line === null) break;
      session.lastActive = Date.now();
      // The first line tells the client apart (docs/protocol.md, "Telling the first line apart").
      const kind = first ? firstLineKind(line) : 'request';
      if (kind === 'http') {
        await ctx.http.adopt(ctx, session, log, line);
        break;
      }
      if (kind === 'selector') {
        await runOne(ctx, session, log, null, () => handleSelector(ctx, session, line), line, selectorError);
        break;
      }
      if (first) {
        first = false;
        await file.writeLine(
          formatGreeting({
            version: PROTOCOL_VERSION,
            fields: {
              server: `tcpsend/${VERSION}`,
              caps: capsFor(ctx).join(','),
              upload: ctx.options.allowUpload,
              checksums: formatChecksumList(ctx.options.checksums),
            },
          }),
        );
      }
      session.busy = true;
      let next: string | null = line;
      let stop = false;
      while (next !== null && !stop) ({ stop, rest: next } = await runRequests(ctx, session, log, next));
      if (stop) break;
    }
  } catch (err) {
    // Reading the next line failed: a timeout, an over-long line, or the peer went away.
    if (losesPlace(err) && !file.closed) {
      const e = err as TcpsendError;
      log({ peer: session.peer, verb: '-', path: null, bytes: 0, ms: 0, result: e.wireCode, message: e.message });
      await file.writeLine(formatErr(e.wireCode, e.message)).catch(() => {});
    }
  } finally {
    if (!file.closed) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([file.end().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer); // or a server asked to stop would wait for it
      // Lingering close: a peer still sending a body we refused must get to read our ERR
      // line. Closing with its bytes unread would send an RST, which can destroy that line
      // in the peer's receive buffer. So read and drop its bytes for a moment first.
      if (session.outOfStep) await drainBriefly(file);
      file.close();
    }
    socket.destroy();
    session.end(new TransferInterruptedError(0, 'the connection closed'));
  }
}

const LINGER_MS = 2000;
const LINGER_BYTES = 256 * 1024 * 1024;

async function drainBriefly(file: SocketFile): Promise<void> {
  const until = Date.now() + LINGER_MS;
  let dropped = 0;
  file.setTimeout(LINGER_MS);
  try {
    while (Date.now() < until && dropped < LINGER_BYTES) {
      const chunk = await file.read(1024 * 1024);
      if (chunk === null) return;
      dropped += chunk.length;
    }
  } catch {
    // Timed out or reset: either way, done.
  }
}

/** The body bytes a transfer moved before it broke (the log says them, not 0 B). */
function bytesBefore(err: TcpsendError): number {
  if (err instanceof TransferInterruptedError) return err.bytesSent;
  if (err instanceof UnexpectedEofError && err.expected !== null) return err.received;
  return 0;
}

/** Run one request; turn its failure into an ERR line; log it either way. */
async function runOne(
  ctx: ServerContext,
  session: Session,
  log: RequestLogger,
  parse: (() => Request) | null,
  handle: () => Promise<HandlerResult>,
  line: string,
  errorLine: (e: TcpsendError, session: Session) => string | null = (e) => formatErr(e.wireCode, e.message),
): Promise<HandlerResult> {
  const started = performance.now();
  let verb = parse ? line.split(' ', 1)[0]!.slice(0, 16) : 'SELECTOR';
  let path: string | null = parse ? null : line.slice(0, 200);
  try {
    if (parse) {
      const req = parse();
      verb = req.verb;
      path = 'path' in req ? req.path : null;
    }
    if (TRANSFER_VERBS.has(verb)) log.started?.({ peer: session.peer, verb, path });
    const result = await handle();
    log({ peer: session.peer, verb, path, bytes: result.bytes ?? 0, ms: performance.now() - started, result: 'OK', note: result.note });
    return result;
  } catch (err) {
    const e = asTcpsendError(err);
    log({ peer: session.peer, verb, path, bytes: bytesBefore(e), ms: performance.now() - started, result: e.wireCode, message: e.message });
    const close = session.outOfStep || losesPlace(err) || session.file.closed;
    // Always say why, even mid-body, where the answer cannot be in step and the connection
    // closes after it: the peer (or a person reading) still learns the reason.
    const answer = errorLine(e, session);
    if (!session.file.closed && answer !== null) await session.file.writeLine(answer).catch(() => {});
    return { close };
  }
}
