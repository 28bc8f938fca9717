/** tcpsend get HOST:PORT REMOTE [LOCAL]: fetch a file or a folder (LOCAL `-`: to stdout). */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { getTree } from '../../client/tree.js';
import { UsageError } from '../../errors.js';
import { statSyncOrNull } from '../../transfer/local-file.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { copyToOutput, STDIO_ARG, tempFolder, typed } from '../stdio.js';
import { checksumFlag, clientFlags, finishTransfer, summaryOf, interruptibleClient, failTransfer, targetHint, targetOf, treeHooks, type ClientFlags } from './shared.js';
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
      syncFlags(checksumFlag(clientFlags(
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'HOST:PORT of the server' })
          .positional('remote', { type: 'string', demandOption: true, describe: 'Path on the server' })
          .positional('local', {
            type: 'string',
            describe: "Where to save it (default: the remote's base name here; a folder fills LOCAL with its contents; - for standard output)",
          })
          .option('overwrite', { type: 'boolean', default: false, describe: 'One file: replace a local file that differs (a folder get always does)' })
          .example('$0 get 192.168.1.20:7070 notes.txt', 'Save notes.txt in the current folder')
          .example('$0 get [fe80::1%eth0]:7070 photos ./photos-copy', 'Fetch a folder; run again to sync')
          .example('$0 get host:7070 photos ./photos --delete -n', 'Show what a mirror would change, change nothing')
          .example('$0 get host:7070 big.iso --retries 10', 'Keep resuming over a flaky link')
          .example('$0 get host:7070 backup.tar - | tar x', 'To standard output, verified before a byte is written'),
      ))),
    handler: async (args) => {
      const argv = args as unknown as GetArgs;
      const sync = syncOptionsOrFail(ctx, argv);
      if (sync === null) return;
      const toStdout = argv.local === STDIO_ARG;
      if (toStdout && argv.json) {
        ctx.fail(new UsageError("--json writes its events to standard output, which '-' takes for the file: use one or the other"), argv);
        return;
      }
      const reporter = ctx.reporter(argv);
      const target = targetOf(argv.target, argv.port);
      const command = `tcpsend get ${argv.target} ${argv.remote}${argv.local ? ` ${typed(argv.local)}` : ''}`;
      const session = await interruptibleClient(target, argv, reporter, ctx, command);
      let temp: Awaited<ReturnType<typeof tempFolder>> | null = null;
      try {
        const info = await session.client.run((c) => c.stat(argv.remote));
        if (info.type === 'dir' && toStdout) throw new UsageError(`'${argv.remote}' is a folder: only a file can go to standard output`);
        reporter.start({ op: 'get', target: session.where, files: info.type === 'file' ? 1 : null, bytes: info.size });
        if (info.type === 'dir') {
          const local = argv.local ?? baseName(argv.remote);
          const summary = await getTree(session.client, argv.remote, local, { ...sync, ...treeHooks(reporter) });
          finishTransfer(ctx, session, reporter, summaryOf(summary), summary.firstError, argv, command);
          return;
        }
        let local = argv.local ?? baseName(argv.remote);
        if (toStdout) {
          temp = await tempFolder();
          local = path.join(temp.dir, baseName(argv.remote));
        } else if (statSyncOrNull(local)?.isDirectory()) local = path.join(local, baseName(argv.remote));
        if (argv.dryRun) {
          reporter.notice(`dry run: would fetch '${argv.remote}' (${info.size} bytes) into '${toStdout ? 'standard output' : local}'`);
          return;
        }
        await fsp.mkdir(path.dirname(path.resolve(local)), { recursive: true });
        const existed = statSyncOrNull(local) !== null;
        const shown = toStdout ? `${baseName(argv.remote)} (to standard output)` : local;
        const result = await session.client.run((c) =>
          c.download(argv.remote, local, {
            overwrite: argv.overwrite,
            onCheck: (done, total) => reporter.checking(shown, done, total),
            onStart: ({ size, resumedFrom }) => reporter.fileStart(shown, size, resumedFrom),
            onProgress: (done, total) => reporter.progress(shown, done, total),
            onNotice: (m) => reporter.notice(m),
          }),
        );
        if (toStdout) await copyToOutput(local, ctx.streams.stdout);
        const outcome = result.skipped ? 'unchanged' : existed ? 'replaced' : 'sent';
        reporter.fileDone({ ...result, path: shown, outcome });
        reporter.summary({
          files: 1,
          sent: outcome === 'sent' ? 1 : 0,
          replaced: outcome === 'replaced' ? 1 : 0,
          unchanged: outcome === 'unchanged' ? 1 : 0,
          skipped: 0,
          deleted: 0,
          failed: 0,
          bytes: result.bytes,
          seconds: result.seconds,
        });
      } catch (err) {
        failTransfer(ctx, session, err, argv, reporter, command, targetHint(argv.target, argv.remote));
      } finally {
        reporter.close();
        await temp?.remove();
        await session.dispose();
      }
    },
  };
}
