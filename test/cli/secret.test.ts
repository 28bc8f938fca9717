/**
 * Carrying a secret (issue 15, items 17 and 18; issue 14, finding 16): `serve --secret` makes a
 * passphrase once, keeps it in a 0600 file and reuses it; it is printed once and never put in a
 * suggested command; weak or exposed secrets are refused or warned about on either side; a
 * missing and a wrong secret are both refusals (exit 4, no retry) that say which it was.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ndjson, removeTemps, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllCli();
  await removeTemps();
});

/** A home folder of its own, so the default secret file lands in a temp folder. */
async function home(): Promise<{ home: string; share: string; env: Record<string, string | undefined> }> {
  const h = await tempDir('tcpsend-home-');
  const share = path.join(h, 'share');
  await fsp.mkdir(share);
  await fsp.writeFile(path.join(share, 'a.txt'), 'a');
  return { home: h, share, env: { HOME: h, XDG_CONFIG_HOME: undefined } };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('serve --secret keeps its secret', () => {
  it('the first start makes a passphrase in ~/.config/tcpsend/secret (0600), prints it once, never inside a command', async () => {
    const { home: h, share, env } = await home();
    const serve = await startServe(share, { args: ['--secret'], env });
    const file = path.join(h, '.config', 'tcpsend', 'secret');
    const secret = fs.readFileSync(file, 'utf8').trim();
    await serve.waitFor(() => serve.stderr.includes('tcpsend ls '), 'the banner');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(secret).toMatch(/^[a-z]+(-[a-z]+){4}$/); // five common words
    expect(count(serve.stderr, secret)).toBe(1);
    expect(serve.stderr).toContain('kept in ~/.config/tcpsend/secret');
    const commands = serve.stderr.split('\n').filter((l) => /tcpsend (get|ls|put) /.test(l));
    expect(commands.length).toBeGreaterThan(0);
    for (const line of commands) {
      expect(line).toContain('--secret-file ~/.config/tcpsend/secret');
      expect(line).not.toContain(secret);
    }
    // A client with the file gets in.
    const r = await runCli(['ls', serve.target, '--secret-file', file], { cwd: h });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('a.txt');
  });

  it('the next start reuses it and does not print it again', async () => {
    const { home: h, share, env } = await home();
    const first = await startServe(share, { args: ['--secret'], env });
    await first.stop();
    const file = path.join(h, '.config', 'tcpsend', 'secret');
    const secret = fs.readFileSync(file, 'utf8').trim();
    const second = await startServe(share, { args: ['--secret'], env });
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(secret);
    await second.waitFor(() => second.stderr.includes('tcpsend ls '), 'the banner');
    expect(second.stderr).not.toContain(secret);
    expect(second.stderr).toContain('secret: the one in ~/.config/tcpsend/secret');
    const r = await runCli(['ls', second.target], { cwd: h, env: { TCPSEND_SECRET: secret } });
    expect(r.code).toBe(0);
  });

  it('--secret --secret-file F creates F when missing; --json says where, and the secret only when new', async () => {
    const { home: h, share, env } = await home();
    const file = path.join(h, 'keys', 'lan.secret');
    const first = await startServe(share, { args: ['--secret', '--secret-file', file], env, json: true });
    const event = ndjson(first.stdout)[0]!;
    expect(event.secret_file).toBe(file);
    expect(event.secret).toBe(fs.readFileSync(file, 'utf8').trim());
    await first.stop();
    const second = await startServe(share, { args: ['--secret-file', file], env, json: true });
    const again = ndjson(second.stdout)[0]!;
    expect(again.secret_file).toBe(file);
    expect(again.secret).toBeUndefined();
  });

  it('--secret-file F alone with no F: a usage error that says how to make one', async () => {
    const { home: h, share, env } = await home();
    const r = await runCli(['serve', share, '--port', '0', '--secret-file', path.join(h, 'nope')], { cwd: h, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no secret file .*add --secret to create one/);
  });
});

describe('weak and exposed secrets', () => {
  it('serve refuses a too-short secret (hunter2) with exit 2', async () => {
    const { home: h, share, env } = await home();
    const r = await runCli(['serve', share, '--port', '0', '--host', '127.0.0.1'], { cwd: h, env: { ...env, TCPSEND_SECRET: 'hunter2' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/7 characters is too short/);
  });

  it('serve warns about a weak one (password123)', async () => {
    const { share, env } = await home();
    const serve = await startServe(share, { env: { ...env, TCPSEND_SECRET: 'password123' } });
    await serve.waitFor(() => serve.stderr.includes('tcpsend ls '), 'the banner');
    expect(serve.stderr).toMatch(/warning: this secret is weak/);
  });

  it('a secret file other users can read is warned about on both sides', async () => {
    const { home: h, share, env } = await home();
    const file = path.join(h, 'shared.secret');
    await fsp.writeFile(file, 'orbit-velvet-candle-harbor-mint\n', { mode: 0o644 });
    await fsp.chmod(file, 0o644);
    const serve = await startServe(share, { args: ['--secret-file', file], env });
    await serve.waitFor(() => serve.stderr.includes('tcpsend ls '), 'the banner');
    expect(serve.stderr).toMatch(/can be read by other users \(mode 644\): chmod 600/);
    const r = await runCli(['ls', serve.target, '--secret-file', file], { cwd: h });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/can be read by other users \(mode 644\)/);
  });

  it('a client warns about a too-short secret', async () => {
    const { home: h, share, env } = await home();
    const serve = await startServe(share, { args: ['--secret'], env });
    const r = await runCli(['ls', serve.target, '--retries', '0'], { cwd: h, env: { TCPSEND_SECRET: 'abc' } });
    expect(r.stderr).toMatch(/3 characters is too short/);
    expect(r.code).toBe(4);
  });
});

describe('a missing and a wrong secret are both refusals', () => {
  it('same exit status 4, no retry, and each says which it was', async () => {
    const { home: h, share, env } = await home();
    const serve = await startServe(share, { args: ['--secret'], env });
    const missing = await runCli(['ls', serve.target], { cwd: h });
    const wrong = await runCli(['ls', serve.target], { cwd: h, env: { TCPSEND_SECRET: 'orbit-velvet-candle-harbor-mint' } });
    expect(missing.code).toBe(4);
    expect(wrong.code).toBe(4);
    expect(missing.stderr).toMatch(/missing secret/);
    expect(wrong.stderr).toMatch(/wrong secret/);
    for (const r of [missing, wrong]) {
      expect(r.stderr).not.toMatch(/reconnecting/);
      expect(r.ms).toBeLessThan(5000);
    }
  });
});
