/** Flags and plumbing the client commands share. */
import type { Argv } from 'yargs';
import { DEFAULT_RETRIES, isRetriable, ReconnectingClient } from '../../client/retry.js';
import { formatTarget, parseTarget, type Target } from '../../client/target.js';
import type { TreeHooks, TreeSummary } from '../../client/tree.js';
import { InterruptedError } from '../../errors.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { resolveClientSecret } from '../secret.js';
import type { Reporter } from '../reporter.js';

export interface ClientFlags extends GlobalFlags {
  port: number;
  retries: number;
  timeout: number;
  secret?: string;
  secretFile?: string;
}

export function clientFlags<T>(y: Argv<T>) {
  return y
    .option('retries', {
      type: 'number',
      default: DEFAULT_RETRIES,
      describe: 'Reconnect and resume this many times after a dropped connection (backoff 0.25 s doubling to 8 s: about 30 s by default)',
    })
    .option('timeout', { type: 'number', default: 30, describe: 'Seconds without progress before giving up' })
    .option('secret-file', { type: 'string', describe: "File holding the server's shared secret (or set TCPSEND_SECRET)" })
    .option('secret', { type: 'string', hidden: true, describe: 'The shared secret (visible in the process list: prefer TCPSEND_SECRET)' });
}

/** `reconnecting (2/8) in 4 s`: whole seconds, tenths below one. */
function formatDelay(ms: number): string {
  return ms < 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function targetOf(spec: string, port: number): Target {
  return parseTarget(spec, port);
}

/**
 * A client that stops on Ctrl-C / SIGTERM: the connection is cut, partial files stay, and the
 * command says how to resume.
 */
export interface InterruptibleClient {
  client: ReconnectingClient;
  signal: AbortSignal;
  where: string;
  dispose(): Promise<void>;
}

export async function interruptibleClient(target: Target, flags: ClientFlags, reporter: Reporter): Promise<InterruptibleClient> {
  const { secret, warnings } = await resolveClientSecret(flags, { argv: process.argv, env: process.env });
  for (const warning of warnings) reporter.notice(warning);
  const controller = new AbortController();
  const client = new ReconnectingClient(target, {
    secret: secret ?? undefined,
    retries: flags.retries,
    idleTimeoutMs: flags.timeout * 1000,
    timeoutMs: Math.min(flags.timeout * 1000, 10_000),
    signal: controller.signal,
    onRetry: ({ attempt, retries, error, delayMs }) =>
      reporter.notice(`${error.message}: reconnecting (${attempt}/${retries}) in ${formatDelay(delayMs)}`),
  });
  const onSignal = () => {
    controller.abort(new InterruptedError('interrupted'));
    client.abortNow();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    client,
    signal: controller.signal,
    where: formatTarget(target),
    async dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await client.close().catch(() => {});
    },
  };
}

export function treeHooks(reporter: Reporter): TreeHooks {
  return {
    onFileStart: (p, size, from) => reporter.fileStart(p, size, from),
    onProgress: (p, done, total) => reporter.progress(p, done, total),
    onFileDone: (r) =>
      reporter.fileDone({
        path: r.rel,
        size: r.size,
        bytes: r.bytes,
        sha256: r.sha256,
        seconds: r.seconds,
        skipped: r.skipped,
        resumedFrom: r.resumedFrom,
      }),
    onFileError: (rel, err) => reporter.error(err, rel),
    onNotice: (m) => reporter.notice(m),
  };
}

/** Fold a folder's summary into the command's exit status. */
export function finishTree(ctx: CliContext, reporter: Reporter, summary: TreeSummary): void {
  reporter.summary(summary);
  // Each failed file was reported as it failed; the status is the first failure's.
  if (summary.failed > 0) ctx.exitCode = exitCodeFor(summary.firstError);
}

/**
 * A transfer command's failure: after Ctrl-C, "interrupted" and how to resume (`command`);
 * otherwise the error, naming the server.
 */
export function failTransfer(
  ctx: CliContext,
  session: InterruptibleClient,
  err: unknown,
  flags: ClientFlags,
  reporter: Reporter,
  command: string,
): void {
  if (!session.signal.aborted) {
    ctx.fail(err, flags, reporter, session.where);
    // Retries ran out on a failure a retry could cure (a server down, a link gone): what
    // arrived so far is kept, and the same command picks it up.
    if (isRetriable(err) && session.client.hasConnected && !flags.json) {
      ctx.streams.stderr.write(
        `tcpsend: gave up after ${flags.retries} ${flags.retries === 1 ? 'retry' : 'retries'}: partial files are kept; run the same command again to resume (${command})\n`,
      );
    }
    return;
  }
  ctx.fail(session.signal.reason, flags, reporter);
  if (!flags.json) {
    ctx.streams.stderr.write(
      `tcpsend: interrupted: partial files are kept; run the same command again to resume (${command})\n`,
    );
  }
}
