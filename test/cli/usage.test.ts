/** tcpsend's help, version, completion and usage errors, from the built CLI. No server needed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, PACKAGE_VERSION, removeTemps, runCli, stopAllCli, tempDir, type RunResult } from '../helpers/cli.js';

let cwd: string;
beforeAll(async () => {
  assertBuilt();
  cwd = await tempDir();
});
afterAll(async () => {
  await stopAllCli();
  await removeTemps();
});

const tcpsend = (...args: string[]) => runCli(args, { cwd });

/** A usage error: exit 2, `tcpsend: <message>` and then a hint naming the right --help. */
function expectUsageError(r: RunResult, hint: string): string {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(/^tcpsend: \S/);
  expect(lines[1]).toBe(`Try '${hint}'.`);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('tcpsend --help', () => {
  it('lists every command and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await tcpsend(flag);
      expect(r.code, r.stderr).toBe(0);
      const commands = r.stdout.slice(r.stdout.indexOf('Commands:'), r.stdout.indexOf('Options:'));
      for (const command of ['serve [dir]', 'get <target> <remote> [local]', 'put <paths..>', 'ls <target> [remote]', 'completion']) {
        expect(commands).toContain(`tcpsend ${command}`);
      }
      expect(r.stdout).toMatch(/Exit status: 0 ok, 2 usage, 3 connection, 4 refused/);
    }
  });

  const perCommand: Record<string, { flags: string[]; examples: string[] }> = {
    serve: {
      flags: ['--host', '--allow-upload', '--allow-overwrite', '--max-upload', '--max-connections', '--idle-timeout', '--port', '--json'],
      examples: ['tcpsend serve ~/inbox --allow-upload --port 9000', 'tcpsend serve . --host 127.0.0.1 --json'],
    },
    get: {
      flags: ['--overwrite', '--retries', '--timeout', '--port', '--json', '--quiet', '--verbose'],
      examples: ['tcpsend get 192.168.1.20:7070 notes.txt', 'tcpsend get host:7070 big.iso --retries 10'],
    },
    put: {
      flags: ['--to', '--overwrite', '--retries', '--timeout', '--port', '--json'],
      examples: ['tcpsend put report.pdf 192.168.1.20:7070', 'tcpsend put photos 192.168.1.20:7070 --to backup'],
    },
    ls: {
      flags: ['--recursive', '-R', '--long', '-l', '--retries', '--timeout', '--json'],
      examples: ['tcpsend ls 192.168.1.20:7070', 'tcpsend ls host:7070 photos -lR'],
    },
  };
  for (const [command, { flags, examples }] of Object.entries(perCommand)) {
    it(`tcpsend ${command} --help shows its flags and an Examples: section`, async () => {
      const r = await tcpsend(command, '--help');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^tcpsend ${command}\\b`));
      const options = r.stdout.slice(r.stdout.indexOf('Options:'), r.stdout.indexOf('Examples:'));
      for (const flag of flags) expect(options).toMatch(new RegExp(`(^|[\\s,])${flag}\\b`, 'm'));
      expect(r.stdout).toContain('Examples:');
      const exampleSection = r.stdout.slice(r.stdout.indexOf('Examples:'));
      for (const example of examples) expect(exampleSection).toContain(example);
    });
  }
});

describe('tcpsend --version', () => {
  it("prints package.json's version and nothing else", async () => {
    const r = await tcpsend('--version');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${PACKAGE_VERSION}\n`);
  });
});

describe('tcpsend completion', () => {
  it('prints a bash completion script for tcpsend', async () => {
    const r = await tcpsend('completion');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('###-begin-tcpsend-completions-###');
    expect(r.stdout).toMatch(/^complete .* tcpsend$/m);
    expect(r.stdout).toContain('tcpsend --get-yargs-completions');
    expect(r.stdout).toContain('###-end-tcpsend-completions-###');
  });

  it('the script completes command names', async () => {
    const r = await tcpsend('--get-yargs-completions', 'tcpsend', '');
    expect(r.code, r.stderr).toBe(0);
    const words = r.stdout.split('\n');
    for (const command of ['serve', 'get', 'put', 'ls']) expect(words).toContain(command);
  });
});

describe('usage errors: exit 2, one line and a hint, and nothing runs', () => {
  it('an unknown flag on a command', async () => {
    const r = await tcpsend('get', '127.0.0.1:1', 'notes.txt', '--bogus');
    expect(expectUsageError(r, 'tcpsend get --help')).toBe('tcpsend: Unknown argument: bogus');
  });

  it('an unknown flag on its own', async () => {
    const r = await tcpsend('--bogus');
    expectUsageError(r, 'tcpsend --help');
  });

  it('an unknown command', async () => {
    const r = await tcpsend('fetch', 'x');
    expectUsageError(r, 'tcpsend --help');
  });

  it('no command at all', async () => {
    const r = await tcpsend();
    expect(expectUsageError(r, 'tcpsend --help')).toBe('tcpsend: Name a command: serve, get, put or ls.');
  });

  // Port 1 on loopback has nothing listening: had the command run, it would exit 3, not 2.
  it('get without the remote path', async () => {
    const r = await tcpsend('get', '127.0.0.1:1');
    expectUsageError(r, 'tcpsend get --help');
  });

  it('ls without a target', async () => {
    const r = await tcpsend('ls');
    expectUsageError(r, 'tcpsend ls --help');
  });

  it('put without HOST:PORT at the end says what it wants', async () => {
    for (const args of [['put', 'notes.txt'], ['put', '127.0.0.1:1']]) {
      const r = await tcpsend(...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe('tcpsend: put needs FILE... then HOST:PORT, e.g. tcpsend put notes.txt 192.168.1.20:7070\n');
    }
  });

  it('a port that is not a number, from a flag or from TCPSEND_PORT', async () => {
    const flag = await tcpsend('get', '127.0.0.1', 'notes.txt', '--port', 'abc');
    expect(expectUsageError(flag, 'tcpsend get --help')).toMatch(/port/);
    const env = await runCli(['ls', '127.0.0.1'], { cwd, env: { TCPSEND_PORT: '70000' } });
    expect(expectUsageError(env, 'tcpsend ls --help')).toMatch(/TCPSEND_PORT/);
  });
});

describe('option values are checked (issue 14.15): exit 2 and what is wanted, before any connection', () => {
  // Port 1 on loopback has nothing listening: had a command run, it would exit 3, not 2.
  for (const [flag, value, wanted] of [
    ['--retries', 'abc', /--retries .*whole number from 0/],
    ['--retries', '-1', /--retries .*whole number from 0/],
    ['--retries', '2.5', /--retries .*whole number/],
    ['--timeout', '-1', /--timeout .*above 0/],
    ['--timeout', '0', /--timeout .*above 0/],
    ['--timeout', '1e9', /--timeout .*at most 86400/],
    ['--timeout', 'abc', /--timeout/],
  ] as const) {
    it(`${flag} ${value}`, async () => {
      const r = await tcpsend('get', '127.0.0.1:1', 'notes.txt', flag, value);
      expect(expectUsageError(r, 'tcpsend get --help')).toMatch(wanted);
    });
  }

  it('from the environment too: TCPSEND_RETRIES=abc', async () => {
    const r = await runCli(['ls', '127.0.0.1:1'], { cwd, env: { TCPSEND_RETRIES: 'abc' } });
    expect(expectUsageError(r, 'tcpsend ls --help')).toMatch(/TCPSEND_RETRIES/);
  });

  it("a target with an unclosed '[' is a usage error, with the right form", async () => {
    for (const target of ['[::1', '[::1:7070', '::1]:7070']) {
      const r = await tcpsend('ls', target);
      expect(r.code, `${target}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/\[::1\]:7070/);
    }
  });
});

describe('hints for likely typos (issue 15.7)', () => {
  it('an IPv6 address and port without brackets: the bracketed form is suggested', async () => {
    // ::1:1 is a valid IPv6 address (port 7070 then), where nothing listens: the hint comes with the failure.
    const r = await runCli(['ls', '::1:1', '--timeout', '2'], { cwd, env: { TCPSEND_PORT: '1' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/did you mean \[::1\]:1\?/);
  });

  it('a space where the colon goes: HOST:PORT is suggested', async () => {
    const r = await runCli(['get', '127.0.0.1', '1', 'x.txt'], { cwd, env: { TCPSEND_PORT: '1' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/did you mean 127\.0\.0\.1:1\?/);
    const put = await tcpsend('put', 'notes.txt', '127.0.0.1', '1');
    expect(put.code).toBe(2);
    expect(put.stderr).toMatch(/did you mean 127\.0\.0\.1:1\?/);
  });
});

describe('help and completion (issue 15.13)', () => {
  it('--port is described as the port to dial in get, put and ls, and to serve on in serve', async () => {
    for (const command of ['get', 'put', 'ls']) {
      const r = await tcpsend(command, '--help');
      const line = r.stdout.split('\n').find((l) => /--port\b/.test(l))!;
      expect(line, command).toMatch(/dial/i);
      expect(line, command).not.toMatch(/serve on/i);
    }
    const serve = await tcpsend('serve', '--help');
    expect(serve.stdout.split('\n').find((l) => /--port\b/.test(l))).toMatch(/serve on/i);
  });

  it('completion --help describes the command instead of printing the script', async () => {
    const r = await tcpsend('completion', '--help');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('###-begin-tcpsend-completions-###');
    expect(r.stdout).toMatch(/eval "\$\(tcpsend completion\)"/);
  });

  it('completion offers long flags, never a one-letter alias as --v, --p or --q', async () => {
    const r = await tcpsend('--get-yargs-completions', 'tcpsend', 'get', '--');
    expect(r.code, r.stderr).toBe(0);
    const words = r.stdout.split('\n').filter(Boolean);
    expect(words).toContain('--verbose');
    expect(words).toContain('--retries');
    for (const short of ['--v', '--p', '--q', '--h']) expect(words).not.toContain(short);
  });
});
