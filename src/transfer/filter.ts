/**
 * --exclude and --include, as rsync reads them: the rules are tried in the order they were
 * given and the first that matches decides; a path no rule matches is included. The globs are
 * picomatch's (`*` and `?` stop at `/`, `**` crosses it, `[...]` classes, dotfiles matched like
 * any name); how a pattern is anchored is rsync's:
 *
 * - a pattern with no `/` (not counting a trailing one) matches the last name of a path, at
 *   any depth: `*.log`, `.git`, `node_modules`;
 * - a pattern that starts with `/` is anchored at the top of the folder being synced:
 *   `/build` is only the `build` at the top;
 * - any other pattern with a `/` matches the end of the path at a folder boundary: `cache/*.tmp`
 *   matches `cache/a.tmp` and `x/cache/a.tmp`;
 * - a trailing `/` makes the pattern match folders only: `tmp/`.
 *
 * An excluded folder is not entered, so nothing below it is included (rsync's rule too: to
 * keep only the `.txt` files of every folder, first include every folder: a lone `*` with a
 * trailing `/`).
 * The same rules protect destination paths from --delete: an excluded path is never removed.
 */
import picomatch from 'picomatch';

export interface FilterRule {
  kind: 'include' | 'exclude';
  pattern: string;
}

interface CompiledRule {
  include: boolean;
  dirOnly: boolean;
  /** Match against the last name only (a pattern without `/`). */
  lastName: boolean;
  test: (subject: string) => boolean;
}

export class PathFilter {
  private readonly rules: CompiledRule[];
  /** Folders already judged (a listing asks about the same parents over and over). */
  private readonly folders = new Map<string, boolean>();

  constructor(rules: readonly FilterRule[]) {
    this.rules = rules.map(compile);
  }

  /** No rules: everything is included (the walk then need not ask). */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * Whether `rel` ('/'-separated, relative to the synced folder) is left out: by its own rule,
   * or because a folder above it is.
   */
  excludes(rel: string, isDir: boolean): boolean {
    if (this.rules.length === 0) return false;
    const slash = rel.lastIndexOf('/');
    if (slash > 0 && this.excludesFolder(rel.slice(0, slash))) return true;
    return isDir ? this.excludesFolder(rel) : this.judge(rel, false);
  }

  private excludesFolder(rel: string): boolean {
    let verdict = this.folders.get(rel);
    if (verdict === undefined) {
      const slash = rel.lastIndexOf('/');
      verdict = (slash > 0 && this.excludesFolder(rel.slice(0, slash))) || this.judge(rel, true);
      this.folders.set(rel, verdict);
    }
    return verdict;
  }

  /** The first matching rule's verdict for `rel` itself. */
  private judge(rel: string, isDir: boolean): boolean {
    const lastName = rel.slice(rel.lastIndexOf('/') + 1);
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.test(rule.lastName ? lastName : rel)) return !rule.include;
    }
    return false;
  }
}

function compile(rule: FilterRule): CompiledRule {
  let pattern = rule.pattern;
  const dirOnly = pattern.length > 1 && pattern.endsWith('/');
  if (dirOnly) pattern = pattern.replace(/\/+$/, '');
  const anchored = pattern.startsWith('/');
  if (anchored) pattern = pattern.replace(/^\/+/, '');
  const lastName = !anchored && !pattern.includes('/') && !pattern.includes('**');
  const options = { dot: true };
  // Unanchored with a '/': the pattern may start at any folder boundary.
  const globs = anchored || lastName ? [pattern] : [pattern, `**/${pattern}`];
  return { include: rule.kind === 'include', dirOnly, lastName, test: picomatch(globs, options) };
}

/**
 * The rules in command-line order from the raw arguments: yargs gives `--exclude` and
 * `--include` back as two separate lists, and rsync's first-match rule needs their order.
 * Takes `--exclude X`, `--exclude=X` and the same for `--include`; stops at `--`.
 */
export function filterRulesFromArgs(args: readonly string[]): FilterRule[] {
  const rules: FilterRule[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    const m = /^--(exclude|include)(?:=(.*))?$/s.exec(arg);
    if (!m) continue;
    const pattern = m[2] ?? args[++i];
    if (pattern !== undefined) rules.push({ kind: m[1] as 'include' | 'exclude', pattern });
  }
  return rules;
}
