/** Flags and plumbing the client commands share. */
import type { Argv } from 'yargs';
import { DEFAULT_PORT } from '../../protocol/index.js';
import { DEFAULT_RETRIES, isRetriable, ReconnectingClient } from '../../client/retry.js';
import { formatTarget, parseTarget, type Target } from '../../client/target.js';
import type { TreeHooks, TreeSummary } from '../../client/tree.js';
import { InterruptedError, UsageError } from '../../errors.js';
import { availableChecksums, CHECKSUM_NAMES, checksumUnavailable, type ChecksumName } from '../../hash/index.js';
import { portNumber, retriesValue, timeoutValue } from '../options.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import { resolveClientSecret } from '../secret.js';
import type { FileDone, FileOutcome, Reporter, Summary } from '../reporter.js';

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
    .option('port', {
      alias: 'p',
      type: 'number',
      default: DEFAULT_PORT,
      describe: 'Port to dial when HOST has none (or TCPSEND_PORT)',
      coerce: portNumber,
    })
    .option('retries', {
      type: 'number',
      default: DEFAULT_RETRIES,
      describe: 'Reconnect and resume this many times after a dropped connection (backoff 0.25 s doubling to 8 s: about 30 s by default)',
      coerce: retriesValue,
    })
    .option('timeout', { type: 'number', default: 30, describe: 'Seconds without progress before giving up', coerce: timeoutValue })
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
 * A likely typo behind a failure, and its fix: `::1:7070` (an IPv6 address with a port needs
 * brackets), or `host 7070` (a space where the colon goes).
 */
export function targetHint(spec: string, next?: string): string | null {
  if (!spec.startsWith('[') && (spec.match(/:/g)?.length ?? 0) > 1) {
    const m = /^(.*):(\d{1,5})$/.exec(spec);
    if (m && Number(m[2]) > 0 && Number(m[2]) <= 65535) {
      return `an IPv6 address with a port needs brackets: did you mean [${m[1]}]:${m[2]}?`;
    }
  }
  if (next !== undefined && !spec.includes(':') && /^\d{1,5}$/.test(next) && Number(next) > 0 && Number(next) <= 65535) {
    return `did you mean ${spec}:${next}? (HOST:PORT has a colon, not a space)`;
  }
  return null;
}

/**
 * A client that stops on Ctrl-C / SIGTERM: the connection is cut, partial files stay, the
 * progress display goes, and the command says one line on how to resume.
 */
export interface InterruptibleClient {
  client: ReconnectingClient;
  signal: AbortSignal;
  where: string;
  dispose(): Promise<void>;
}

/**
 * After Ctrl-C the command normally ends within moments: the connection is cut and every
 * operation in flight fails. Something the cut cannot reach (opening a FIFO that no writer ever
 * opens, blocked in the kernel) must not keep it running: after this long it exits anyway.
 */
const FORCED_EXIT_MS = 2_000;

export async function interruptibleClient(
  target: Target,
  flags: ClientFlags,
  reporter: Reporter,
  ctx: CliContext,
  command: string,
): Promise<InterruptibleClient> {
  const { secret, warnings } = await resolveClientSecret(flags, { argv: process.argv, env: process.env });
  for (const warning of warnings) reporter.notice(warning);
  const controller = new AbortController();
  const checksums = offeredChecksums(flags, (message) => reporter.notice(message));
  const client = new ReconnectingClient(target, {
    checksums,
    secret: secret ?? undefined,
    retries: flags.retries,
    idleTimeoutMs: flags.timeout * 1000,
    timeoutMs: Math.min(flags.timeout * 1000, 10_000),
    signal: controller.signal,
    onRetry: ({ attempt, retries, error, delayMs }) =>
      reporter.notice(`${error.message}: reconnecting (${attempt}/${retries}) in ${formatDelay(delayMs)}`),
  });
  const onSignal = () => {
    reporter.interrupt();
    controller.abort(new InterruptedError('interrupted'));
    client.abortNow();
    setTimeout(() => {
      sayInterrupted(ctx, flags, reporter, command);
      process.exit(EXIT.INTERRUPTED);
    }, FORCED_EXIT_MS).unref();
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

/** Tree hooks that report each file; `where` turns a path in the tree into the one shown. */
export function treeHooks(reporter: Reporter, where: (rel: string) => string = (rel) => rel): TreeHooks {
  return {
    onFileStart: (p, size, from) => reporter.fileStart(where(p), size, from),
    onProgress: (p, done, total) => reporter.progress(where(p), done, total),
    onFileDone: (r) => {
      // Fields set one by one, not spread: this runs for every file of a folder.
      const done: FileDone = { path: where(r.rel), size: r.size, bytes: r.bytes, checksum: r.checksum, digest: r.digest, seconds: r.seconds, resumedFrom: r.resumedFrom, outcome: r.outcome };
      if (r.reason !== undefined) done.reason = r.reason;
      if (r.dryRun) done.dryRun = true;
      reporter.fileDone(done);
    },
    onFileError: (rel, err) => reporter.error(err, where(rel)),
    onNotice: (m) => reporter.notice(m),
    onPlan: (totals) => reporter.plan(totals),
  };
}

/**
 * A folder's TreeSummary as the reporter counts it (without its first error); `where` names
 * skipped paths as treeHooks names the files.
 */
export function summaryOf(tree: TreeSummary, where: (rel: string) => string = (rel) => rel): Summary {
  const { firstError: _firstError, skips, ...counts } = tree;
  return { ...counts, skips: skips.map((group) => ({ ...group, paths: group.paths.map(where) })) };
}

/** Fold a transfer's summary into the command's exit status; after Ctrl-C, say that instead. */
export function finishTransfer(
  ctx: CliContext,
  session: InterruptibleClient,
  reporter: Reporter,
  summary: Summary,
  firstError: unknown,
  flags: ClientFlags,
  command: string,
): void {
  if (session.signal.aborted) {
    failTransfer(ctx, session, session.signal.reason, flags, reporter, command);
    return;
  }
  reporter.summary(summary);
  // Each failed file was reported as it failed; the status is the first failure's. Files the
  // server refused to replace (or a conflict kept out) are a refusal too; policy skips are not.
  if (summary.failed > 0) ctx.exitCode = exitCodeFor(firstError);
  else if (summary.skips?.some((group) => group.refused)) ctx.exitCode = EXIT.REFUSED;
}

/** Commands that said they were interrupted: the line comes once, whoever gets there first. */
const saidInterrupted = new WeakSet<CliContext>();

function sayInterrupted(ctx: CliContext, flags: ClientFlags, reporter: Reporter, command: string): void {
  if (saidInterrupted.has(ctx)) return;
  saidInterrupted.add(ctx);
  ctx.exitCode = EXIT.INTERRUPTED;
  reporter.interrupt();
  if (flags.json) reporter.error(new InterruptedError('interrupted'));
  // A listing has nothing to resume.
  else if (command.startsWith('tcpsend ls ')) ctx.say('interrupted');
  else ctx.say(`interrupted: partial files are kept; run the same command again to resume (${command})`);
}

/**
 * A transfer command's failure: after Ctrl-C, one line that says how to resume (`command`);
 * otherwise the error, naming the server, with a hint when the target looks like a typo.
 */
export function failTransfer(
  ctx: CliContext,
  session: InterruptibleClient,
  err: unknown,
  flags: ClientFlags,
  reporter: Reporter,
  command: string,
  hint: string | null = null,
): void {
  if (session.signal.aborted) {
    ctx.exitCode = EXIT.INTERRUPTED;
    sayInterrupted(ctx, flags, reporter, command);
    return;
  }
  reporter.close(); // the progress display goes before the message
  ctx.fail(err, flags, reporter, session.where);
  if (flags.json) return;
  // Retries ran out on a failure a retry could cure (a server down, a link gone): what
  // arrived so far is kept, and the same command picks it up.
  if (isRetriable(err) && session.client.hasConnected) {
    ctx.say(`gave up after ${flags.retries} ${flags.retries === 1 ? 'retry' : 'retries'}: partial files are kept; run the same command again to resume (${command})`);
  }
  if (hint) ctx.say(hint);
}
