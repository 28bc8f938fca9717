/** What every command gets from main: output streams, the reporter, and the exit status. */
import type { Writable } from 'node:stream';
import { exitCodeFor } from './exit-codes.js';
import { HumanReporter } from './output/human.js';
import { JsonEmitter } from './output/json.js';
import { JsonReporter } from './output/json-reporter.js';
import { describe, writeLine, writeStack } from './output/messages.js';
import type { Reporter } from './reporter.js';

export { describe } from './output/messages.js';

export interface CliStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
}

export interface GlobalFlags {
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

export class CliContext {
  exitCode = 0;
  /** The one writer of --json events, for every command. */
  readonly json: JsonEmitter;
  /** The command line as given (without node and script): for flags whose order matters. */
  args: readonly string[] = [];

  constructor(readonly streams: CliStreams) {
    this.json = new JsonEmitter(streams.stdout);
  }

  reporter(flags: GlobalFlags): Reporter {
    if (flags.json) return new JsonReporter(this.json);
    const live = Boolean(this.streams.stderr.isTTY) && !flags.quiet && !process.env.CI;
    return new HumanReporter({ stdout: this.streams.stdout, stderr: this.streams.stderr }, { quiet: flags.quiet, verbose: flags.verbose, live });
  }

  /** One line on stderr (the stack only with --verbose), and the exit status for `err`. */
  fail(err: unknown, flags: GlobalFlags, reporter?: Reporter, where?: string): void {
    this.exitCode = exitCodeFor(err);
    if (reporter && flags.json) {
      reporter.error(err);
      return;
    }
    this.say(describe(err, where));
    if (flags.verbose) writeStack(this.streams.stderr, err);
  }

  /** `tcpsend: <message>` on stderr. */
  say(message: string): void {
    writeLine(this.streams.stderr, `tcpsend: ${message}`);
  }
}
