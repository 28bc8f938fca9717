/** The folder-sync flags get and put share, and the tree options they make. */
import type { Argv } from 'yargs';
import type { TreeOptions } from '../../client/tree.js';
import { UsageError } from '../../errors.js';
import { filterRulesFromArgs, type FilterRule } from '../../transfer/filter.js';
import type { CliContext, GlobalFlags } from '../context.js';

export interface SyncFlags {
  checksum: boolean;
  ignoreExisting: boolean;
  delete: boolean;
  dryRun: boolean;
  exclude?: string | string[];
  include?: string | string[];
}

export function syncFlags<T>(y: Argv<T>) {
  return y
    .option('checksum', { alias: 'c', type: 'boolean', default: false, describe: 'Folders: compare the contents of same-size files (with the transfer checksum), not their size and mtime' })
    .option('ignore-existing', { type: 'boolean', default: false, describe: 'Folders: keep files already at the destination, even when they differ' })
    .option('delete', { type: 'boolean', default: false, describe: 'Folders: remove what the source no longer has (put: serve --allow-delete)' })
    .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'Folders: print what would be sent, replaced and deleted; change nothing' })
    // Not `array: true`: that would swallow the positional arguments after it.
    .option('exclude', { type: 'string', describe: 'Folders: leave out paths matching this glob (repeatable; rsync rules)' })
    .option('include', { type: 'string', describe: 'Folders: keep paths matching this glob despite a later --exclude (repeatable)' });
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * The --include/--exclude rules in the order given (rsync: the first match decides). yargs
 * hands the two flags back as separate lists, so the order comes from the raw arguments; when
 * they do not account for every pattern (some came from the environment), the includes go
 * first.
 */
export function filterRules(flags: SyncFlags, rawArgs: readonly string[]): FilterRule[] {
  const includes = list(flags.include);
  const excludes = list(flags.exclude);
  for (const pattern of [...includes, ...excludes]) {
    if (pattern.trim() === '') throw new UsageError('--exclude and --include need a pattern, e.g. --exclude "*.tmp"');
  }
  const ordered = filterRulesFromArgs(rawArgs);
  if (ordered.length === includes.length + excludes.length) return ordered;
  return [
    ...includes.map((pattern) => ({ kind: 'include' as const, pattern })),
    ...excludes.map((pattern) => ({ kind: 'exclude' as const, pattern })),
  ];
}

/** The tree options the flags ask for; null (the failure said, exit 2) when they are bad. */
export function syncOptionsOrFail(ctx: CliContext, flags: SyncFlags & GlobalFlags): TreeOptions | null {
  try {
    return treeOptionsFrom(flags, ctx.args);
  } catch (err) {
    ctx.fail(err, flags);
    return null;
  }
}

export function treeOptionsFrom(flags: SyncFlags, rawArgs: readonly string[]): TreeOptions {
  return {
    checksum: flags.checksum,
    ignoreExisting: flags.ignoreExisting,
    delete: flags.delete,
    dryRun: flags.dryRun,
    filter: filterRules(flags, rawArgs),
  };
}
