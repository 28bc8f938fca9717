/**
 * Where a secret comes from: TCPSEND_SECRET, --secret-file, or (discouraged, since other users
 * can read the process list) --secret VALUE. `serve --secret` alone generates one.
 */
import fsp from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { generateSecret } from '../transport/psk.js';

export interface SecretFlags {
  secret?: string;
  secretFile?: string;
}

export interface ResolvedSecret {
  secret: string | null;
  generated: boolean;
  warning: string | null;
}

/** Did the secret come on the command line itself (not from the environment)? */
function givenInArgv(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg.startsWith('--secret=') || (arg === '--secret' && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')));
}

export async function resolveSecret(flags: SecretFlags, argv: readonly string[], canGenerate: boolean): Promise<ResolvedSecret> {
  if (flags.secretFile) {
    let text: string;
    try {
      text = await fsp.readFile(flags.secretFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the secret file '${flags.secretFile}': ${(err as Error).message}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '') throw new UsageError(`the secret file '${flags.secretFile}' is empty`);
    return { secret, generated: false, warning: null };
  }
  if (flags.secret === undefined) return { secret: null, generated: false, warning: null };
  if (flags.secret === '') {
    if (!canGenerate) throw new UsageError('--secret needs a value here (or set TCPSEND_SECRET, or use --secret-file)');
    return { secret: generateSecret(), generated: true, warning: null };
  }
  return {
    secret: flags.secret,
    generated: false,
    warning: givenInArgv(argv)
      ? 'a secret given on the command line can be seen by other users in the process list; prefer TCPSEND_SECRET or --secret-file'
      : null,
  };
}
