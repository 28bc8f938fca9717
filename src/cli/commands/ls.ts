/** tcpsend ls HOST:PORT [REMOTE]: list what a server has. */
import type { Argv, CommandModule } from 'yargs';
import type { CliContext, GlobalFlags } from '../context.js';
import { formatBytes } from '../reporter.js';
import { clientFlags, interruptibleClient, targetOf, type ClientFlags } from './shared.js';

interface LsArgs extends ClientFlags {
  target: string;
  remote: string;
  recursive: boolean;
  long: boolean;
}

function when(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export function lsCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'ls <target> [remote]',
    describe: 'List a folder on a server',
    builder: (y: Argv) =>
      clientFlags(
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'HOST:PORT of the server' })
          .positional('remote', { type: 'string', default: '/', describe: 'Folder on the server' })
          .option('recursive', { alias: 'R', type: 'boolean', default: false, describe: 'Everything below it' })
          .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'Sizes, dates and modes' })
          .example('$0 ls 192.168.1.20:7070', 'What the server has at its root')
          .example('$0 ls host:7070 photos -lR', 'Everything under photos, with sizes'),
      ),
    handler: async (args) => {
      const argv = args as unknown as LsArgs;
      const reporter = ctx.reporter(argv);
      const target = targetOf(argv.target, argv.port);
      const session = await interruptibleClient(target, argv, reporter);
      try {
        const entries = await session.client.run((c) => c.list(argv.remote, { recursive: argv.recursive }));
        for (const e of entries) {
          if (argv.json) {
            ctx.streams.stdout.write(
              `${JSON.stringify({ event: 'entry', path: e.path, type: e.type, size: e.size, mtime: e.mtimeMs, mode: e.mode.toString(8) })}\n`,
            );
            continue;
          }
          const name = e.type === 'dir' ? `${e.path}/` : e.path;
          if (!argv.long) reporter.result(name);
          else {
            const size = e.type === 'dir' ? '-' : formatBytes(e.size ?? 0);
            reporter.result(`${e.type === 'dir' ? 'd' : '-'}${e.mode.toString(8).padStart(4, '0')}  ${size.padStart(10)}  ${when(e.mtimeMs)}  ${name}`);
          }
        }
      } catch (err) {
        ctx.fail(err, argv, reporter, session.where);
      } finally {
        reporter.close();
        await session.dispose();
      }
    },
  };
}
