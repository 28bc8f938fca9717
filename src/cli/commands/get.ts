/** tcpsend get HOST:PORT REMOTE [LOCAL]: fetch a file or a folder. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { emptySummary, getTree } from '../../client/tree.js';
import { statSyncOrNull } from '../../transfer/local-file.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { clientFlags, finishTree, interruptibleClient, failTransfer, targetOf, treeHooks, type ClientFlags } from './shared.js';
import { syncFlags, syncOptionsOrFail, type SyncFlags } from './sync-flags.js';

interface GetArgs extends ClientFlags, SyncFlags {
  target: string;
  remote: string;
  local?: string;
  overwrite: boolean;
}

function baseName(remote: string): string {
  return path.posix.basename(remote.replace(/\/+$/, '')) || 'download';
}

export function getCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'get <target> <remote> [local]',
    describe: 'Fetch a file or folder from a server',
    builder: (y: Argv) =>
      syncFlags(clientFlags(
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'HOST:PORT of the server' })
          .positional('remote', { type: 'string', demandOption: true, describe: 'Path on the server' })
          .positional('local', {
            type: 'string',
            describe: "Where to save it (default: the remote's base name here; a folder fills LOCAL with its contents)",
          })
          .option('overwrite', { type: 'boolean', default: false, describe: 'One file: replace a local file that differs (a folder get always does)' })
          .example('$0 get 192.168.1.20:7070 notes.txt', 'Save notes.txt in the current folder')
          .example('$0 get [fe80::1%eth0]:7070 photos ./photos-copy', 'Fetch a folder; run again to sync')
          .example('$0 get host:7070 photos ./photos --delete -n', 'Show what a mirror would change, change nothing')
          .example('$0 get host:7070 big.iso --retries 10', 'Keep resuming over a flaky link'),
      )),
    handler: async (args) => {
      const argv = args as unknown as GetArgs;
      const sync = syncOptionsOrFail(ctx, argv);
      if (sync === null) return;
      const reporter = ctx.reporter(argv);
      const target = targetOf(argv.target, argv.port);
      const session = await interruptibleClient(target, argv, reporter);
      const command = `tcpsend get ${argv.target} ${argv.remote}${argv.local ? ` ${argv.local}` : ''}`;
      try {
        const info = await session.client.run((c) => c.stat(argv.remote));
        reporter.start({ op: 'get', target: session.where, files: info.type === 'file' ? 1 : null, bytes: info.size });
        if (info.type === 'dir') {
          const local = argv.local ?? baseName(argv.remote);
          const summary = await getTree(session.client, argv.remote, local, { ...sync, ...treeHooks(reporter) });
          finishTree(ctx, reporter, summary);
          return;
        }
        let local = argv.local ?? baseName(argv.remote);
        if (statSyncOrNull(local)?.isDirectory()) local = path.join(local, baseName(argv.remote));
        if (argv.dryRun) {
          reporter.notice(`dry run: would fetch '${argv.remote}' (${info.size} bytes) into '${local}'`);
          return;
        }
        await fsp.mkdir(path.dirname(path.resolve(local)), { recursive: true });
        const result = await session.client.run((c) =>
          c.download(argv.remote, local, {
            overwrite: argv.overwrite,
            onStart: ({ size, resumedFrom }) => reporter.fileStart(local, size, resumedFrom),
            onProgress: (done, total) => reporter.progress(local, done, total),
            onNotice: (m) => reporter.notice(m),
          }),
        );
        reporter.fileDone({ ...result, path: local, outcome: result.skipped ? 'unchanged' : 'sent' });
        reporter.summary({ ...emptySummary(), files: 1, sent: result.skipped ? 0 : 1, unchanged: result.skipped ? 1 : 0, bytes: result.bytes, seconds: result.seconds });
      } catch (err) {
        failTransfer(ctx, session, err, argv, reporter, command);
      } finally {
        reporter.close();
        await session.dispose();
      }
    },
  };
}
