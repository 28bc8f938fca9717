/** The tcpsend command line: yargs wiring; each command lives in its own file. */
import yargs from 'yargs';
import { VERSION } from '../version.js';

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  await yargs(argv)
    .scriptName('tcpsend')
    .usage('$0 <command> [options]\n\nMove files between machines over raw TCP, verified end to end.')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'Name a command: serve, get, put or ls.')
    .help()
    .fail((msg, err) => {
      process.stderr.write(`tcpsend: ${msg ?? err?.message}\nTry 'tcpsend --help'.\n`);
      exitCode = 2;
    })
    .parseAsync();
  return exitCode;
}
