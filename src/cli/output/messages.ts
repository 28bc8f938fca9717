/**
 * Errors in a person's terms, and the one way a line of text reaches the terminal.
 *
 * Every line the CLI prints for a person goes through `writeLine`, which escapes control
 * characters (forTerminal): names, `ERR` messages from a server and listings all come from a
 * peer, and none of them may move the cursor, retitle the window or forge a line.
 */
import type { Writable } from 'node:stream';
import { InterruptedError, RemoteError, TcpsendError } from '../../errors.js';
import { forTerminal } from '../../protocol/printable.js';

export function writeLine(stream: Writable, text: string): void {
  stream.write(`${forTerminal(text)}\n`);
}

/** A stack trace (with --verbose), each of its lines escaped like any other. */
export function writeStack(stream: Writable, err: unknown): void {
  if (!(err instanceof Error) || !err.stack) return;
  for (const line of err.stack.split('\n')) writeLine(stream, line);
}

/** Node's system and stream error codes met along `err`'s chain of causes, nearest first. */
function systemCode(err: unknown): { code: string; path?: string } | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const { code, path } = e as NodeJS.ErrnoException;
    if (typeof code === 'string' && !code.startsWith('TCPSEND_ERR_')) return { code, path };
  }
  return null;
}

/** The connection itself broke: what the user should read instead of ECONNRESET or EPIPE. */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Our errors that carry a Node error as their cause and say little beyond it. */
const WRAPPERS = new Set([
  'TCPSEND_ERR_GENERIC',
  'TCPSEND_ERR_PROTOCOL',
  'TCPSEND_ERR_TRANSFER_INTERRUPTED',
  'TCPSEND_ERR_STREAM_CLOSED',
  'TCPSEND_ERR_STREAM_UNUSABLE',
]);

function named(path: string | undefined): string {
  return path ? ` '${path}'` : '';
}

/** Local file-system failures, said plainly with what to do next. */
function localProblem(code: string, path: string | undefined): string | null {
  switch (code) {
    case 'ENOENT':
      return `no such file or folder${named(path)}`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied${named(path)}`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk is full${path ? ` (writing '${path}')` : ''}: free some space and run the same command again; what arrived is kept and the transfer resumes`;
    case 'EROFS':
      return `the file system is read-only${named(path)}`;
    case 'EISDIR':
      return `${path ? `'${path}'` : 'that'} is a folder`;
    case 'ENOTDIR':
      return `a part of the path is not a folder${named(path)}`;
    case 'ENAMETOOLONG':
      return `the name is too long for this file system${named(path)}`;
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files: raise the limit (ulimit -n) or transfer fewer files at once';
    case 'EIO':
      return `an input/output error from the disk${named(path)}`;
    default:
      return null;
  }
}

/**
 * A wrapper that only repeats what Node reported (its message holds its cause's message or
 * code): the cause
 * says it better. One that says something of its own (`HOST closed the connection during the
 * TLS handshake`) keeps its words.
 */
function onlyWraps(err: TcpsendError): boolean {
  if (!WRAPPERS.has(err.code)) return false;
  const cause = err.cause;
  if (!(cause instanceof Error)) return true;
  const code = (cause as { code?: unknown }).code;
  return err.message.includes(cause.message) || (typeof code === 'string' && err.message.includes(code));
}

/**
 * A message for a person: what happened in their terms, and what to do next. A server's refusal
 * says which server (`no such file 'x' on 10.0.0.5:7070`); a cut connection says so rather than
 * `ECONNRESET`. The technical detail is in the stack trace that --verbose adds.
 */
export function describe(err: unknown, where?: string): string {
  if (err instanceof RemoteError) return `${err.remoteMessage || err.wireToken}${where ? ` on ${where}` : ''}`;
  if (err instanceof InterruptedError) return 'interrupted';
  // Our own errors say what happened, except those that only wrap what Node reported.
  if (err instanceof TcpsendError && !onlyWraps(err)) return err.message;
  const system = systemCode(err);
  if (system && CUT.has(system.code)) {
    return `the connection${where ? ` to ${where}` : ''} was cut (the server stopped or the network dropped)`;
  }
  if (system) {
    const plain = localProblem(system.code, system.path);
    if (plain) return plain;
  }
  if (err instanceof TcpsendError || err instanceof Error) return err.message;
  return String(err);
}

/** An error for --json: its stable code and the same message a person reads. */
export function errorFields(err: unknown, where?: string): { code: string; message: string } {
  const code = err instanceof TcpsendError ? err.code : 'TCPSEND_ERR_GENERIC';
  return { code, message: describe(err, where) };
}
