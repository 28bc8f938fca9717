/**
 * The operator's view of a running server: one line when a transfer starts (once it has run a
 * second: a small file's would only double the log), one when it ends
 * (bytes, time, rate, verified or not), one per refusal with its reason. Session chatter
 * (HELLO, QUIT) and quick lookups (STAT, LIST, HASH, MKDIR) only with --verbose. On a terminal,
 * a status line under the log says how many transfers are running.
 */
import type { RequestLogEntry, TransferStart } from '../server/session.js';
import { formatBytes, formatDuration } from './output/progress.js';
import { writeLine } from './output/messages.js';
import { StatusLine, type TtyStream } from './output/status-line.js';

/** A transfer still running after this long gets its start line. */
const START_DELAY_MS = 1_000;
// A browser's or curl's request and a bare selector move files too (src/server/http, selector.ts).
const TRANSFERS = new Set(['GET', 'PUT', 'MGET', 'MPUT', 'HTTP GET', 'HTTP HEAD', 'HTTP PUT', 'HTTP POST', 'SELECTOR']);
/** Verbs whose answer is checked against its checksum on this side before the file appears. */
const VERIFIED_HERE = new Set(['PUT', 'MPUT', 'HTTP PUT', 'HTTP POST']);

/**
 * `127.0.0.1:5000` for an IPv4 client of a dual-stack listener, which Node reports as the
 * IPv4-mapped `[::ffff:127.0.0.1]:5000`.
 */
export function peerName(peer: string): string {
  return peer.replace(/^\[::ffff:(\d{1,3}(?:\.\d{1,3}){3})\]/i, '$1');
}

function what(verb: string, path: string | null): string {
  return path === null ? verb : `${verb} ${JSON.stringify(path)}`;
}

function duration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms / 1000);
}

/** The log line for a finished request; null for one that only --verbose shows. */
export function endLine(e: RequestLogEntry, verbose: boolean, at = new Date()): string | null {
  const head = `${at.toISOString()} ${peerName(e.peer)} ${what(e.verb, e.path)}`;
  // A transfer cut part way: what did arrive (its part is kept for a resume).
  if (e.result !== 'OK') return `${head}${e.bytes > 0 ? ` ${formatBytes(e.bytes)} ${duration(e.ms)}` : ''} ERR ${e.result}: ${e.message ?? ''}`;
  if (!TRANSFERS.has(e.verb) && !verbose) return null;
  const rate = e.bytes >= 1024 * 1024 && e.ms > 0 ? ` ${formatBytes(e.bytes / (e.ms / 1000))}/s` : '';
  const verified = VERIFIED_HERE.has(e.verb) && e.note !== 'identical' ? ' verified' : '';
  return `${head} ${formatBytes(e.bytes)} ${duration(e.ms)}${rate} OK${verified}${e.note ? ` (${e.note})` : ''}`;
}

export function startLine(s: TransferStart, at = new Date()): string {
  return `${at.toISOString()} ${peerName(s.peer)} ${what(s.verb, s.path)} started`;
}

export class ServerLog {
  private readonly status: StatusLine | null;
  private running = 0;
  private done = 0;
  /** Start lines not yet printed, by `peer verb path`, oldest first. */
  private readonly pending = new Map<string, NodeJS.Timeout[]>();

  constructor(
    private readonly out: TtyStream,
    private readonly verbose: boolean,
    live: boolean,
  ) {
    this.status = live ? new StatusLine(out, 250) : null;
  }

  private line(text: string): void {
    this.status?.clear();
    writeLine(this.out, text);
    this.drawStatus();
  }

  private drawStatus(): void {
    // Worth a line of its own only when several run at once.
    if (!this.status) return;
    if (this.running < 2) return this.status.clear();
    this.status.draw(`${this.running} transfers running, ${this.done} done`, true);
  }

  started(s: TransferStart): void {
    this.running += 1;
    const key = `${s.peer} ${s.verb} ${s.path}`;
    const at = new Date();
    const timer = setTimeout(() => {
      this.forget(key, timer);
      this.line(startLine(s, at));
    }, START_DELAY_MS);
    timer.unref();
    this.pending.set(key, [...(this.pending.get(key) ?? []), timer]);
    this.drawStatus();
  }

  private forget(key: string, timer?: NodeJS.Timeout): void {
    const timers = this.pending.get(key) ?? [];
    const gone = timer === undefined ? timers.shift() : timers.splice(timers.indexOf(timer) >>> 0, 1)[0];
    if (gone) clearTimeout(gone);
    if (timers.length === 0) this.pending.delete(key);
  }

  ended(e: RequestLogEntry): void {
    if (TRANSFERS.has(e.verb)) {
      this.running = Math.max(0, this.running - 1);
      this.done += 1;
      this.forget(`${e.peer} ${e.verb} ${e.path}`);
    }
    const text = endLine(e, this.verbose);
    if (text !== null) this.line(text);
    else this.drawStatus();
  }

  refused(peer: string, reason: string): void {
    // OpenSSL's own words ("error:0A000418:SSL routines::tlsv1 alert ...") only with --verbose.
    const plain = this.verbose ? reason : reason.replace(/:\s*(?:[0-9A-F]+:)?error:[0-9A-F]+:SSL routines:.*$/i, '');
    this.line(`${new Date().toISOString()} ${peerName(peer)} refused: ${plain}`);
  }

  /** A plain line (shutting down) under the same status line. */
  say(text: string): void {
    this.line(text);
  }

  stop(): void {
    this.status?.stop();
  }
}
