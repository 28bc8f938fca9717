/** The tcpsend command line: yargs wiring; each command lives in its own file. */
import yargs from 'yargs';
import { UsageError } from '../errors.js';
import { boundYoungGeneration } from '../io/reclaim.js';
import { VERSION } from '../version.js';
import { getCommand } from './commands/get.js';
import { lsCommand } from './commands/ls.js';
import { putCommand } from './commands/put.js';
import { serveCommand } from './commands/serve.js';
import { CliContext, type CliStreams } from './context.js';
import { EXIT } from './exit-codes.js';
import { STDIO_ARG } from './stdio.js';
import { writeLine } from './output/messages.js';

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(
  argv: string[],
  streams: CliStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  // Every command's young generation stays the size it starts at: a server's, shared by many
  // connections for a long time, and a client's, which a folder of 10,000 files grew to 16 MiB
  // (peak RSS 93 -> 76 MB, the same CPU time).
  boundYoungGeneration();
  const ctx = new CliContext(streams);
  ctx.args = argv;
  // yargs answers `completion --help` with the script itself: answer with what it does instead.
  if (argv[0] === 'completion' && argv.slice(1).some((a) => a === '--help' || a === '-h')) {
    streams.stdout.write(COMPLETION_HELP);
    return 0;
  }
  // After `--`, a `-` is a name like any other; before it, standard input or output.
  const end = argv.indexOf('--');
  const parser = yargs(argv.map((arg, i) => (arg === '-' && (end === -1 || i < end) ? STDIO_ARG : arg)))
    .scriptName('tcpsend')
    .usage('$0 <command> [options]\n\nMove files between machines over raw TCP, verified end to end (BLAKE3, or SHA-256 with older peers).')
    // TCPSEND_PORT, TCPSEND_RETRIES, TCPSEND_QUIET ...: anything a user sets once.
    .env('TCPSEND')
    // English whatever LANG says, as tcpsend's own messages are: the bundled CLI carries no
    // yargs locale files (scripts/bundle-cli.js), and help half in one language, half in another
    // reads worse than either.
    .detectLocale(false)
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'NDJSON events on stdout, for scripts', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'More detail: a line per file, stack traces with errors (serve: every request in its log)', global: true })
    .command(serveCommand(ctx))
    .command(getCommand(ctx))
    .command(putCommand(ctx))
    .command(lsCommand(ctx))
    .completion('completion', 'Print a bash/zsh completion script (eval "$(tcpsend completion)")', withoutShortAsLong)
    .demandCommand(1, 'Name a command: serve, get, put or ls.')
    .recommendCommands()
    .strict()
    .version(VERSION)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .epilogue('Exit status: 0 ok, 2 usage, 3 connection, 4 refused by the server, 5 not found, 6 integrity, 130 interrupted.\nDocs: docs/cli.md, docs/protocol.md')
    .fail((msg, err) => {
      if (err && !msg) throw err;
      // Stop at the first complaint: if this returned, yargs would go on validating (printing
      // more errors) and then run the command's handler with the arguments it just rejected.
      usage = msg ?? err?.message ?? 'invalid arguments';
      throw new UsageError(usage);
    })
    .exitProcess(false);
  skipHelpCache(parser);
  let usage: string | null = null;
  try {
    await parser.parseAsync();
  } catch (err) {
    if (usage !== null) {
      writeLine(streams.stderr, `tcpsend: ${usage}`);
      writeLine(streams.stderr, `Try 'tcpsend ${commandOf(argv)}--help'.`);
      ctx.exitCode = EXIT.USAGE;
    } else ctx.fail(err, { quiet: false, json: false, verbose: argv.includes('--verbose') || argv.includes('-v') });
  }
  return ctx.exitCode;
}

/**
 * yargs lays out the whole help text after every command handler starts, in case the handler
 * later fails and help is to be shown (yargs' command.js, `cacheHelpMessage`): 20–40 ms of
 * string widths on every run, a tenth of a no-op folder sync. tcpsend never shows help after a
 * failure (`.fail` above prints one line), and `--help` lays it out when asked, so the cache is
 * never filled. Through yargs' internal methods, checked: if a later yargs lacks them, nothing
 * changes but the time (test/packaging/bundle.test.ts notices).
 */
function skipHelpCache(parser: unknown): void {
  const usage = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

const COMPLETION_HELP = `tcpsend completion

Print a bash/zsh completion script for tcpsend. To use it in this shell:

  eval "$(tcpsend completion)"

and to keep it, add that line to ~/.bashrc or ~/.zshrc.
`;

type Completions = (err: Error | null, completions: string[] | undefined) => void;

/**
 * yargs offers each one-letter alias as if it were a long flag (`--v`, `--p`, `--q`), which
 * no one types and which complete to nothing useful: leave those out.
 */
function withoutShortAsLong(
  _current: string,
  _argv: unknown,
  defaultCompletion: (done: Completions) => void,
  done: (completions: string[]) => void,
): void {
  defaultCompletion((err, completions) => {
    if (err) throw err;
    done((completions ?? []).filter((c) => !/^--[^-](?:$|[:\t])/.test(c)));
  });
}

function commandOf(argv: string[]): string {
  const first = argv.find((a) => !a.startsWith('-'));
  return first && ['serve', 'get', 'put', 'ls'].includes(first) ? `${first} ` : '';
}
