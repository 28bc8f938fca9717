/** tcpsend put FILE... HOST:PORT: send files or folders (`- NAME`: standard input as NAME). */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Argv, CommandModule } from 'yargs';
import { looksLikeTarget } from '../../client/target.js';
import { putTree } from '../../client/tree.js';
import { TcpsendError, UsageError } from '../../errors.js';
import { statSyncOrNull } from '../../transfer/local-file.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { addSummary, emptySummary, type Reporter, type Summary } from '../reporter.js';
import { inputKind, spool, STDIO_ARG, typed, type Spooled } from '../stdio.js';
import { checksumFlag, clientFlags, finishTransfer, interruptibleClient, failTransfer, summaryOf, targetHint, targetOf, treeHooks, type ClientFlags, type InterruptibleClient } from './shared.js';
import { syncFlags, syncOptionsOrFail, type SyncFlags } from './sync-flags.js';

interface PutArgs extends ClientFlags, SyncFlags {
  paths: string[];
  to: string;
  overwrite: boolean;
}

/** One thing to send: a local path, or a stream (stdin, a pipe) and the name it gets. */
interface Source {
  local: string;
  /** The name on the server (under --to). */
  name: string;
  stdin: boolean;
}

/** `FILE... HOST:PORT`, where `- NAME` stands for standard input sent as NAME. */
function sourcesOf(files: string[]): Source[] {
  const out: Source[] = [];
  for (let i = 0; i < files.length; i++) {
    const local = files[i]!;
    if (local === STDIO_ARG) {
      const name = files[i + 1];
      if (name === undefined || name === STDIO_ARG) {
        throw new UsageError("'-' (standard input) needs the name to give it: tcpsend put - NAME HOST:PORT");
      }
      out.push({ local: '-', name: path.basename(name), stdin: true });
      i += 1;
    } else out.push({ local, name: path.basename(path.resolve(local)), stdin: false });
  }
  if (out.filter((s) => s.stdin).length > 1) throw new UsageError("'-' (standard input) can be given once");
  return out;
}

class NotAFileError extends TcpsendError {}

export function putCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'put <paths..>',
    describe: 'Send files or folders to a server (the last argument is HOST:PORT)',
    builder: (y: Argv) =>
      syncFlags(checksumFlag(clientFlags(
        y
          .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'FILE... HOST:PORT (- NAME: standard input, sent as NAME)' })
          .option('to', { type: 'string', default: '/', describe: 'Folder on the server to put them in' })
          .option('overwrite', { type: 'boolean', default: false, describe: 'Files: replace a file that differs (a folder put always does); the server must allow it' })
          .example('$0 put report.pdf 192.168.1.20:7070', 'Send one file to the served folder')
          .example('$0 put photos 192.168.1.20:7070 --to backup', 'Send a folder to backup/photos; run again to sync')
          .example("$0 put photos host:7070 --delete --exclude '*.tmp'", 'Mirror a folder, leaving out *.tmp')
          .example('$0 put *.log host:7070 --retries 10', 'Several files, resuming over a flaky link')
          .example('tar c photos | $0 put - photos.tar host:7070', 'Standard input, sent as photos.tar'),
      ))),
    handler: async (args) => {
      const argv = args as unknown as PutArgs;
      const sync = syncOptionsOrFail(ctx, argv);
      if (sync === null) return;
      const reporter = ctx.reporter(argv);
      const spec = argv.paths.at(-1);
      const files = argv.paths.slice(0, -1);
      if (spec === undefined || files.length === 0 || !looksLikeTarget(spec)) {
        const hint = files.length >= 2 ? targetHint(files.at(-1)!, spec) : null;
        ctx.fail(new UsageError(`put needs FILE... then HOST:PORT, e.g. tcpsend put notes.txt 192.168.1.20:7070${hint ? ` (${hint})` : ''}`), argv);
        return;
      }
      let sources: Source[];
      try {
        sources = sourcesOf(files);
      } catch (err) {
        ctx.fail(err, argv);
        return;
      }
      const target = targetOf(spec, argv.port);
      const command = `tcpsend put ${argv.paths.map(typed).join(' ')}`;
      const session = await interruptibleClient(target, argv, reporter, ctx, command);
      const total: Summary = emptySummary();
      let firstError: unknown = null;
      const started = performance.now();
      const failed = (err: unknown, local: string) => {
        reporter.error(err, local);
        total.files += 1;
        total.failed += 1;
        firstError ??= err;
      };
      try {
        const single = sources.length === 1 && (sources[0]!.stdin || inputKind(statSyncOrNull(sources[0]!.local)) !== 'dir');
        reporter.start({ op: 'put', target: session.where, files: single ? 1 : null, bytes: null });
        for (const source of sources) {
          // Relative to the served root, as folder entries are reported: 'docs/a.txt', not '/docs/a.txt'.
          const remote = [...argv.to.split('/').filter(Boolean), source.name].join('/');
          // /dev/stdin, /dev/fd/0: standard input under another name, whatever it is (a pipe, or
          // a socket when a program started us, which cannot be opened by name at all).
          if (!source.stdin && isStandardInput(statSyncOrNull(source.local))) source.stdin = true;
          const kind = source.stdin ? 'stream' : inputKind(statSyncOrNull(source.local));
          if (kind === 'missing' || kind === 'device') {
            const err =
              kind === 'missing'
                ? new UsageError(`no such file or folder: '${source.local}'`)
                : new NotAFileError(
                    `'${source.local}' is a device, not a file: to send what it gives, pipe it, e.g. head -c 1G ${source.local} | tcpsend put - NAME HOST:PORT`,
                  );
            if (sources.length === 1) throw err;
            failed(err, source.local);
            continue;
          }
          if (kind === 'dir') {
            const where = (rel: string) => `${remote}/${rel}`;
            const summary = await putTree(session.client, source.local, remote, { ...sync, ...treeHooks(reporter, where) });
            addSummary(total, summaryOf(summary, where));
            firstError ??= summary.firstError;
            if (session.signal.aborted) break;
            continue;
          }
          if (argv.dryRun) {
            total.files += 1;
            reporter.notice(`dry run: would send '${source.stdin ? 'standard input' : source.local}' to '${remote}'`);
            continue;
          }
          let spooled: Spooled | null = null;
          try {
            if (kind === 'stream') spooled = await spoolSource(source, session, reporter);
            const result = await session.client.run((c) =>
              c.upload(spooled?.path ?? source.local, remote, {
                overwrite: argv.overwrite,
                onCheck: (done, size) => reporter.checking(remote, done, size),
                onStart: ({ size, resumedFrom }) => reporter.fileStart(remote, size, resumedFrom),
                onProgress: (done, size) => reporter.progress(remote, done, size),
                onNotice: (m) => reporter.notice(m),
              }),
            );
            total.files += 1;
            reporter.fileDone({ ...result, outcome: result.skipped ? 'unchanged' : 'sent' });
            total.bytes += result.bytes;
            if (result.skipped) total.unchanged += 1;
            else total.sent += 1;
          } catch (err) {
            if (session.signal.aborted) throw err;
            // With a folder or several files, one refusal does not stop the rest.
            if (sources.length === 1) throw err;
            failed(err, source.local);
          } finally {
            await spooled?.remove();
          }
        }
        total.seconds = (performance.now() - started) / 1000;
        finishTransfer(ctx, session, reporter, total, firstError, argv, command);
      } catch (err) {
        failTransfer(ctx, session, err, argv, reporter, command);
      } finally {
        reporter.close();
        await session.dispose();
      }
    },
  };
}

function isStandardInput(stats: fs.Stats | null): boolean {
  if (stats === null || stats.isFile() || stats.isDirectory()) return false;
  try {
    const stdin = fs.fstatSync(0);
    return stdin.dev === stats.dev && stdin.ino === stats.ino;
  } catch {
    return false;
  }
}

/** Read standard input or a pipe to its end (into a temporary file), saying so if it waits. */
function spoolSource(source: Source, session: InterruptibleClient, reporter: Reporter): Promise<Spooled> {
  const what = source.stdin ? 'standard input' : `'${source.local}'`;
  // A FIFO is opened without blocking and read as a pipe (as stdin is): a blocking open would
  // wait in a thread of libuv's pool until a writer came, and hold up even process.exit.
  const stream: Readable = source.stdin
    ? process.stdin
    : new net.Socket({ fd: fs.openSync(source.local, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false });
  return spool(stream, what, session.signal, () =>
    reporter.notice(
      source.stdin
        ? `reading standard input for '${source.name}' (end it with Ctrl-D)…`
        : `waiting for something to write into '${source.local}'…`,
    ),
  );
}
