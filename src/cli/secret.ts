/**
 * Where a secret comes from, and the checks on it (docs/cli.md, "Shared secret"):
 * TCPSEND_SECRET, --secret-file, or (discouraged, since other users can read the process list)
 * --secret VALUE. `serve --secret` alone keeps a generated passphrase in a file of mode 0600
 * (~/.config/tcpsend/secret, or the --secret-file named) and reuses it at the next start.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { generatePassphrase, secretWeakness } from '../transport/passphrase.js';

export interface SecretFlags {
  secret?: string;
  secretFile?: string;
}

export interface ResolvedSecret {
  secret: string | null;
  /** Made just now (and saved to `file`): the one time it is shown. */
  generated: boolean;
  /** The file it was read from or saved to. */
  file: string | null;
  warnings: string[];
}

export interface SecretEnvironment {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
}

/** Where `serve --secret` keeps its secret when no --secret-file is named. */
export function defaultSecretFile(env: NodeJS.ProcessEnv): string {
  const config = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(config, 'tcpsend', 'secret');
}

/** `~/…` for a path in the home folder: shorter in a banner, and the same on the other machine. */
export function displayPath(file: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || os.homedir();
  return file.startsWith(`${home}${path.sep}`) ? `~${file.slice(home.length)}` : file;
}

/** Did the secret come on the command line itself (not from the environment)? */
function givenInArgv(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg.startsWith('--secret=') || (arg === '--secret' && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')));
}

async function readSecretFile(file: string, warnings: string[]): Promise<string> {
  let text: string;
  let mode: number;
  try {
    const handle = await fsp.open(file, 'r');
    try {
      mode = (await handle.stat()).mode;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new UsageError(`cannot read the secret file '${file}': ${(err as Error).message}`);
  }
  // "warn on a world/group-readable secret file on either side"
  if ((mode & 0o077) !== 0) {
    warnings.push(`the secret file '${file}' can be read by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 '${file}'`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new UsageError(`the secret file '${file}' is empty`);
  return secret;
}

/** A new passphrase in a new file of mode 0600 (its folder 0700 if made here). */
async function createSecretFile(file: string): Promise<string> {
  const secret = generatePassphrase();
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': never over a file that appeared meanwhile; mode 0600 from the first byte.
    await fsp.writeFile(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    throw new UsageError(`cannot save a new secret to '${file}': ${(err as Error).message}`);
  }
  return secret;
}

const exists = (file: string) =>
  fsp.lstat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
  );

/** The secret `serve` runs with. A weak one given by hand is refused or warned about. */
export async function resolveServeSecret(flags: SecretFlags, where: SecretEnvironment): Promise<ResolvedSecret> {
  const warnings: string[] = [];
  if (flags.secret === '' || flags.secretFile !== undefined) {
    // `--secret` alone, or `--secret-file F` (which wins over TCPSEND_SECRET): the file's
    // secret, made on the first start when --secret asks for one.
    const file = path.resolve(flags.secretFile ?? defaultSecretFile(where.env));
    if (await exists(file)) {
      const secret = await readSecretFile(file, warnings);
      const weak = secretWeakness(secret);
      if (weak) warnings.push(`${weak.message} (in '${file}')`);
      return { secret, generated: false, file, warnings };
    }
    if (flags.secret !== '') {
      throw new UsageError(`no secret file '${file}' (add --secret to create one there)`);
    }
    return { secret: await createSecretFile(file), generated: true, file, warnings };
  }
  if (flags.secret === undefined) return { secret: null, generated: false, file: null, warnings };
  const weak = secretWeakness(flags.secret);
  if (weak?.kind === 'short') throw new UsageError(`${weak.message}; 'serve --secret' alone makes a strong one`);
  if (weak) warnings.push(weak.message);
  if (givenInArgv(where.argv)) warnings.push(argvWarning);
  return { secret: flags.secret, generated: false, file: null, warnings };
}

const argvWarning =
  'a secret given on the command line can be seen by other users in the process list; prefer TCPSEND_SECRET or --secret-file';

/** The secret a client offers (get, put, ls). It is never generated, only warned about. */
export async function resolveClientSecret(flags: SecretFlags, where: SecretEnvironment): Promise<ResolvedSecret> {
  const warnings: string[] = [];
  if (flags.secretFile) {
    const secret = await readSecretFile(flags.secretFile, warnings);
    return { secret, generated: false, file: flags.secretFile, warnings };
  }
  if (flags.secret === undefined) return { secret: null, generated: false, file: null, warnings };
  if (flags.secret === '') throw new UsageError('--secret needs a value here (or set TCPSEND_SECRET, or use --secret-file)');
  // The server judges; a client only says what it sees.
  const weak = secretWeakness(flags.secret);
  if (weak?.kind === 'short') warnings.push(weak.message);
  if (givenInArgv(where.argv)) warnings.push(argvWarning);
  return { secret: flags.secret, generated: false, file: null, warnings };
}
