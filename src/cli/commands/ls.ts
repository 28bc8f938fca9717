/** tcpsend ls HOST:PORT [REMOTE]: list what a server has. */
import type { Argv, CommandModule } from 'yargs';
import { RemoteError } from '../../errors.js';
import { byUtf8 } from '../../files/utf8-order.js';
import type { ListEntry } from '../../protocol/index.js';
import type { TcpsendClient } from '../../client/client.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { formatBytes } from '../reporter.js';
import { clientFlags, failTransfer, interruptibleClient, targetHint, targetOf, type ClientFlags } from './shared.js';

interface LsArgs extends ClientFlags {
  target: string;
  remote: string;
  recursive: boolean;
  long: boolean;
}

function when(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** REMOTE's entries; a file is listed as itself, as `ls FILE` does. */
async function entriesOf(c: TcpsendClient, remote: string, recursive: boolean): Promise<ListEntry[]> {
  try {
    const entries = await c.list(remote, { recursive });
    // A server lists a folder of more than 10,000 names in the file system's order, so as not to
    // hold them all (docs/protocol.md, LIST); ls holds them anyway, and shows them sorted.
    return recursive ? entries : entries.sort((a, b) => byUtf8(a.path, b.path));
  } catch (err) {
    if (!(err instanceof RemoteError && err.code === 'TCPSEND_ERR_NOT_DIRECTORY')) throw err;
    const info = await c.stat(remote);
    if (info.type !== 'file') throw err;
    return [{ path: remote.replace(/^\/+/, ''), type: 'file', size: info.size, mtimeMs: info.mtimeMs, mode: info.mode }];
  }
}

export function lsCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'ls <target> [remote]',
    describe: 'List a folder (or one file) on a server',
    builder: (y: Argv) =>
      clientFlags(
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'HOST:PORT of the server' })
          .positional('remote', { type: 'string', default: '/', describe: 'Folder or file on the server' })
          .option('recursive', { alias: 'R', type: 'boolean', default: false, describe: 'Everything below it' })
          .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'Sizes, dates and modes' })
          .example('$0 ls 192.168.1.20:7070', 'What the server has at its root')
          .example('$0 ls host:7070 photos -lR', 'Everything under photos, with sizes'),
      ),
    handler: async (args) => {
      const argv = args as unknown as LsArgs;
      const reporter = ctx.reporter(argv);
      const target = targetOf(argv.target, argv.port);
      const command = `tcpsend ls ${argv.target} ${argv.remote}`;
      const session = await interruptibleClient(target, argv, reporter, ctx, command);
      try {
        const entries = await session.client.run((c) => entriesOf(c, argv.remote, argv.recursive));
        for (const e of entries) {
          if (argv.json) {
            ctx.json.emit('entry', { path: e.path, type: e.type, size: e.size, mtime: e.mtimeMs, mode: e.mode.toString(8) });
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
        failTransfer(ctx, session, err, argv, reporter, command, targetHint(argv.target, argv.remote));
      } finally {
        reporter.close();
        await session.dispose();
      }
    },
  };
}
