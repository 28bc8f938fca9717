/** tcpsend put FILE... HOST:PORT: send files or folders. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { looksLikeTarget } from '../../client/target.js';
import { addSummary, emptySummary, putTree } from '../../client/tree.js';
import { UsageError } from '../../errors.js';
import { statSyncOrNull } from '../../transfer/local-file.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { clientFlags, finishTree, interruptibleClient, failTransfer, targetOf, treeHooks, type ClientFlags } from './shared.js';
import { syncFlags, syncOptionsOrFail, type SyncFlags } from './sync-flags.js';

interface PutArgs extends ClientFlags, SyncFlags {
  paths: string[];
  to: string;
  overwrite: boolean;
}

export function putCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'put <paths..>',
    describe: 'Send files or folders to a server (the last argument is HOST:PORT)',
    builder: (y: Argv) =>
      syncFlags(clientFlags(
        y
          .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'FILE... HOST:PORT' })
          .option('to', { type: 'string', default: '/', describe: 'Folder on the server to put them in' })
          .option('overwrite', { type: 'boolean', default: false, describe: 'Files: replace a file that differs (a folder put always does); the server must allow it' })
          .example('$0 put report.pdf 192.168.1.20:7070', 'Send one file to the served folder')
          .example('$0 put photos 192.168.1.20:7070 --to backup', 'Send a folder to backup/photos; run again to sync')
          .example("$0 put photos host:7070 --delete --exclude '*.tmp'", 'Mirror a folder, leaving out *.tmp')
          .example('$0 put *.log host:7070 --retries 10', 'Several files, resuming over a flaky link'),
      )),
    handler: async (args) => {
      const argv = args as unknown as PutArgs;
      const sync = syncOptionsOrFail(ctx, argv);
      if (sync === null) return;
      const reporter = ctx.reporter(argv);
      const spec = argv.paths.at(-1);
      const files = argv.paths.slice(0, -1);
      if (spec === undefined || files.length === 0 || !looksLikeTarget(spec)) {
        ctx.fail(new UsageError('put needs FILE... then HOST:PORT, e.g. tcpsend put notes.txt 192.168.1.20:7070'), argv);
        return;
      }
      const target = targetOf(spec, argv.port);
      const session = await interruptibleClient(target, argv, reporter);
      const total = emptySummary();
      const started = performance.now();
      try {
        reporter.start({ op: 'put', target: session.where, files: null, bytes: null });
        for (const local of files) {
          const st = statSyncOrNull(local);
          // Relative to the served root, as folder entries are reported: 'docs/a.txt', not '/docs/a.txt'.
          const remote = [...argv.to.split('/').filter(Boolean), path.basename(path.resolve(local))].join('/');
          if (st === null) {
            const err = new UsageError(`no such file or folder: '${local}'`);
            reporter.error(err);
            total.files += 1;
            total.failed += 1;
            total.firstError ??= err;
            continue;
          }
          if (st.isDirectory()) {
            addSummary(total, await putTree(session.client, local, remote, { ...sync, ...treeHooks(reporter) }));
            continue;
          }
          total.files += 1;
          if (argv.dryRun) {
            reporter.notice(`dry run: would send '${local}' (${st.size} bytes) to '${remote}'`);
            continue;
          }
          try {
            const result = await session.client.run((c) =>
              c.upload(local, remote, {
                overwrite: argv.overwrite,
                onStart: ({ size, resumedFrom }) => reporter.fileStart(remote, size, resumedFrom),
                onProgress: (done, size) => reporter.progress(remote, done, size),
                onNotice: (m) => reporter.notice(m),
              }),
            );
            reporter.fileDone({ ...result, outcome: result.skipped ? 'unchanged' : 'sent' });
            total.bytes += result.bytes;
            if (result.skipped) total.unchanged += 1;
            else total.sent += 1;
          } catch (err) {
            if (session.signal.aborted) throw err;
            // With a folder or several files, one refusal does not stop the rest.
            if (files.length === 1) throw err;
            reporter.error(err, local);
            total.failed += 1;
            total.firstError ??= err;
          }
        }
        total.seconds = (performance.now() - started) / 1000;
        finishTree(ctx, reporter, total);
      } catch (err) {
        failTransfer(ctx, session, err, argv, reporter, `tcpsend put ${argv.paths.join(' ')}`);
      } finally {
        reporter.close();
        await session.dispose();
      }
    },
  };
}
