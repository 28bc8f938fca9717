/** Flags and plumbing the client commands share. */
import type { Argv } from 'yargs';
import { ReconnectingClient } from '../../client/retry.js';
import { formatTarget, parseTarget, type Target } from '../../client/target.js';
import type { TreeHooks, TreeSummary } from '../../client/tree.js';
import { InterruptedError, UsageError } from '../../errors.js';
import { availableChecksums, CHECKSUM_NAMES, checksumUnavailable, type ChecksumName } from '../../hash/index.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { resolveSecret } from '../secret.js';
import type { Reporter } from '../reporter.js';

export interface ChecksumFlags {
  checksumChoice?: ChecksumName;
}

/** `--checksum-choice`, on get, put and serve (as rsync's option of that name). */
export function checksumFlag<T>(y: Argv<T>) {
  return y.option('checksum-choice', {
    choices: CHECKSUM_NAMES,
    describe: 'Check transfers with this algorithm only (default: the best both sides have, blake3 before sha256)',
  });
}

/**
 * The checksums this side offers, best first: the one `--checksum-choice` forces, or every
 * one this process has. Where BLAKE3 did not load (a platform without its prebuilt binary, a
 * single executable) transfers fall back to SHA-256, and --verbose says why.
 */
export function offeredChecksums(flags: GlobalFlags & ChecksumFlags, say: (message: string) => void): ChecksumName[] {
  if (flags.checksumChoice !== undefined) {
    const missing = checksumUnavailable(flags.checksumChoice);
    if (missing !== null) throw new UsageError(`--checksum-choice ${flags.checksumChoice}: ${missing}`);
    return [flags.checksumChoice];
  }
  const available = availableChecksums();
  if (flags.verbose) {
    for (const name of CHECKSUM_NAMES) {
      const missing = checksumUnavailable(name);
      if (missing !== null) say(`${name} unavailable: ${missing}; checking with ${available[0]}`);
    }
  }
  return available;
}

export interface ClientFlags extends GlobalFlags, ChecksumFlags {
  port: number;
  retries: number;
  timeout: number;
  secret?: string;
  secretFile?: string;
}

export function clientFlags<T>(y: Argv<T>) {
  return checksumFlag(y)
    .option('retries', {
      type: 'number',
      default: 3,
      describe: 'Reconnect and resume this many times after a dropped connection',
    })
    .option('timeout', { type: 'number', default: 30, describe: 'Seconds without progress before giving up' })
    .option('secret-file', { type: 'string', describe: "File holding the server's shared secret (or set TCPSEND_SECRET)" })
    .option('secret', { type: 'string', hidden: true, describe: 'The shared secret (visible in the process list: prefer TCPSEND_SECRET)' });
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
  const { secret, warning } = await resolveSecret(flags, process.argv, false);
  if (warning) reporter.notice(warning);
  const checksums = offeredChecksums(flags, (message) => reporter.notice(message));
  const controller = new AbortController();
  const client = new ReconnectingClient(target, {
    secret: secret ?? undefined,
    checksums,
    retries: flags.retries,
    idleTimeoutMs: flags.timeout * 1000,
    timeoutMs: Math.min(flags.timeout * 1000, 10_000),
    signal: controller.signal,
    onRetry: ({ attempt, error, delayMs }) =>
      reporter.notice(`${error.message}; retry ${attempt}/${flags.retries} in ${(delayMs / 1000).toFixed(1)} s`),
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
        checksum: r.checksum,
        digest: r.digest,
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
    return;
  }
  ctx.fail(session.signal.reason, flags, reporter);
  if (!flags.json) {
    ctx.streams.stderr.write(
      `tcpsend: interrupted: partial files are kept; run the same command again to resume (${command})\n`,
    );
  }
}
