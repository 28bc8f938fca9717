/** npm as a user runs it, for the packaging tests. */
import { runCli, type RunResult } from '../helpers/cli.js';

/**
 * `npm ARGS...` in `cwd`, without the npm_* variables that `npm test` exports (its own prefix,
 * the package under test...): npm reads its config as it would in a shell.
 */
export function npm(args: string[], cwd: string): Promise<RunResult> {
  const unset = Object.fromEntries(Object.keys(process.env).filter((key) => /^npm_/i.test(key)).map((key) => [key, undefined]));
  return runCli([...args, '--no-audit', '--no-fund'], { cwd, program: 'npm', env: unset, timeoutMs: 120_000 });
}
