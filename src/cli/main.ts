/** The tcpsend command line: yargs wiring; each command lives in its own file. */
import yargs from 'yargs';
import { DEFAULT_PORT } from '../protocol/index.js';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { getCommand } from './commands/get.js';
import { lsCommand } from './commands/ls.js';
import { putCommand } from './commands/put.js';
import { serveCommand } from './commands/serve.js';
import { CliContext, type CliStreams } from './context.js';
import { EXIT } from './exit-codes.js';

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(
  argv: string[],
  streams: CliStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const ctx = new CliContext(streams);
  const parser = yargs(argv)
    .scriptName('tcpsend')
    .usage('$0 <command> [options]\n\nMove files between machines over raw TCP, verified end to end with SHA-256.')
    // TCPSEND_PORT, TCPSEND_RETRIES, TCPSEND_QUIET ...: anything a user sets once.
    .env('TCPSEND')
    // English whatever LANG says, as tcpsend's own messages are: the bundled CLI carries no
    // yargs locale files (scripts/bundle-cli.js), and help half in one language, half in another
    // reads worse than either.
    .detectLocale(false)
    .option('port', { alias: 'p', type: 'number', default: DEFAULT_PORT, describe: 'Port to serve on, or to dial when HOST has none', global: true, coerce: portNumber })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'NDJSON events on stdout, for scripts', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Stack traces with errors', global: true })
    .command(serveCommand(ctx))
    .command(getCommand(ctx))
    .command(putCommand(ctx))
    .command(lsCommand(ctx))
    .completion('completion', 'Print a bash/zsh completion script (eval "$(tcpsend completion)")')
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
  let usage: string | null = null;
  try {
    await parser.parseAsync();
  } catch (err) {
    if (usage !== null) {
      streams.stderr.write(`tcpsend: ${usage}\nTry 'tcpsend ${commandOf(argv)}--help'.\n`);
      ctx.exitCode = EXIT.USAGE;
    } else ctx.fail(err, { quiet: false, json: false, verbose: argv.includes('--verbose') || argv.includes('-v') });
  }
  return ctx.exitCode;
}

/** `--port abc` (or TCPSEND_PORT=abc) reaches here as NaN: a usage error, not a failed connection. */
function portNumber(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('--port (or TCPSEND_PORT) must be a whole number from 0 to 65535');
  }
  return port;
}

function commandOf(argv: string[]): string {
  const first = argv.find((a) => !a.startsWith('-'));
  return first && ['serve', 'get', 'put', 'ls'].includes(first) ? `${first} ` : '';
}
