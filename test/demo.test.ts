/**
 * `npm run demo` is the README's first command on a fresh clone: it must run to its end. (It
 * once hung for good: it waited for a banner that `serve --quiet` no longer prints.)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '..');

describe('samples/demo.mjs (npm run demo)', () => {
  it('serves, lists, gets and puts, checks every file independently, and exits 0', async () => {
    const child = spawn(process.execPath, [path.join(REPO, 'samples', 'demo.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    expect(out).toMatch(/serving .* on port \d+/);
    expect(out).toContain('demo: every transfer verified end to end.');
    expect(code, out).toBe(0);
  }, 60_000);
});
