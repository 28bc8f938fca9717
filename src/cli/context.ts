/** What every command gets from main: output streams, the reporter, and the exit status. */
import type { Writable } from 'node:stream';
import { RemoteError, TcpsendError } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';
import { HumanReporter, JsonReporter, type Reporter } from './reporter.js';

export interface CliStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

export interface GlobalFlags {
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

export class CliContext {
  exitCode = 0;
  /** The command line as given (without node and script): for flags whose order matters. */
  args: readonly string[] = [];
  constructor(readonly streams: CliStreams) {}

  reporter(flags: GlobalFlags): Reporter {
    return flags.json ? new JsonReporter(this.streams.stdout) : new HumanReporter(this.streams, flags.quiet);
  }

  /** One line on stderr (the stack only with --verbose), and the exit status for `err`. */
  fail(err: unknown, flags: GlobalFlags, reporter?: Reporter, where?: string): void {
    this.exitCode = exitCodeFor(err);
    if (reporter && flags.json) {
      reporter.error(err);
      return;
    }
    const message = describe(err, where);
    this.streams.stderr.write(`tcpsend: ${message}\n`);
    if (flags.verbose && err instanceof Error && err.stack) this.streams.stderr.write(`${err.stack}\n`);
  }
}

/** A message for a person: a server's refusal says which server. */
export function describe(err: unknown, where?: string): string {
  // As in "tcpsend: no such file 'x' on 10.0.0.5:7070": which server said so.
  if (err instanceof RemoteError) return `${err.remoteMessage || err.wireToken}${where ? ` on ${where}` : ''}`;
  if (err instanceof TcpsendError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `no such file or folder: ${(err as NodeJS.ErrnoException).path ?? ''}`;
    if (code === 'EACCES' || code === 'EPERM') return `permission denied: ${(err as NodeJS.ErrnoException).path ?? ''}`;
    return err.message;
  }
  return String(err);
}
