/**
 * Ctrl-C in the middle of `tcpsend get`: the command stops at once with status 130, keeps the
 * partial file, says so and says how to resume; the same command, run again, finishes it.
 */
import { readdirSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startServer, tempDir } from '../helpers/server.js';
import { BIG_SIZE, partOf, sameBytes, sha256File, sizeOrZero, writeBigRandomFile, type BigFile } from './big-file.js';
import { assertBuilt, killAll, runCli, until } from './cli-child.js';

let big: BigFile;
let bigDir: string;
let cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  assertBuilt();
  bigDir = await tempDir('tcpsend-faults-src-');
  big = await writeBigRandomFile(path.join(bigDir, 'big.bin'));
});

afterAll(async () => {
  await fsp.rm(bigDir, { recursive: true, force: true });
});

afterEach(async () => {
  await killAll();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('Ctrl-C', () => {
  it('SIGINT mid-get: exit 130, the part kept and a word on how to resume; the same command then completes', async () => {
    const s = await startServer({ root: bigDir });
    cleanup.push(() => s.close());
    // The first connection stalls after a third of the file: the command is surely mid-transfer.
    const proxy = await startFaultProxy(s.port, (i) => (i === 0 ? { cutAfter: BIG_SIZE / 3, direction: 'down', stall: true } : {}));
    cleanup.push(() => proxy.close());
    const out = await tempDir('tcpsend-faults-sigint-');
    cleanup.push(() => fsp.rm(out, { recursive: true, force: true }));
    const target = `127.0.0.1:${proxy.port}`;
    const args = ['get', target, 'big.bin', 'copy.bin'];
    const part = partOf(out, 'copy.bin');

    const first = runCli(args, out);
    await until(() => (sizeOrZero(part) >= BIG_SIZE / 3 - 64 * 1024 ? true : undefined), first, 20_000, 'a third of the file');
    const interruptedAt = Date.now();
    first.child.kill('SIGINT');
    expect(await first.exited, first.stderr).toEqual({ code: 130, signal: null });
    expect(Date.now() - interruptedAt).toBeLessThan(5_000); // not the 30 s idle timeout
    expect(first.stderr).toMatch(/partial files? (is|are) kept/);
    expect(first.stderr).toContain(`run the same command again to resume (tcpsend get ${target} big.bin copy.bin)`);
    expect(await fsp.readdir(out)).toEqual(['.copy.bin.tcpsend-part']);
    const held = sizeOrZero(part);
    expect(held).toBeGreaterThan(0);

    const second = runCli(args, out);
    expect(await second.exited, second.stderr).toEqual({ code: 0, signal: null });
    expect(second.stderr).toMatch(/resuming copy\.bin from/);
    expect(second.stderr).toMatch(/copy\.bin: 64\.0 MiB, resumed at .*verified/);
    const dest = path.join(out, 'copy.bin');
    expect(await sha256File(dest)).toBe(big.sha256);
    expect(await sameBytes(dest, big.path)).toBe(true);
    expect(await fsp.readdir(out)).toEqual(['copy.bin']);
  });
});

/** Partial files directly in `dir` (0 while it does not exist). */
function partsIn(dir: string): number {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.tcpsend-part')).length;
  } catch {
    return 0;
  }
}

describe('Ctrl-C mid-folder (issue 11.8)', () => {
  for (const op of ['get', 'put'] as const) {
    it(`${op} DIR: one line, exit 130, no per-file errors, partial files kept; the same command then finishes`, async () => {
      const src = await tempDir('tcpsend-faults-tree-');
      cleanup.push(() => fsp.rm(src, { recursive: true, force: true }));
      const tree = path.join(src, 'tree');
      await fsp.mkdir(path.join(tree, 'sub'), { recursive: true });
      const { randomBytes } = await import('node:crypto');
      for (let i = 0; i < 4; i++) await fsp.writeFile(path.join(tree, `big-${i}.bin`), randomBytes(6 * 1024 * 1024));
      for (let i = 0; i < 30; i++) await fsp.writeFile(path.join(tree, 'sub', `small-${i}.txt`), `small ${i}\n`);
      const root = op === 'get' ? src : await tempDir('tcpsend-faults-root-');
      const s = await startServer({ root, allowUpload: true });
      cleanup.push(() => s.close());
      // The first connection stalls part way into the big files: the command is surely mid-transfer.
      const proxy = await startFaultProxy(s.port, (i) => (i === 0 ? { cutAfter: 9 * 1024 * 1024, direction: op === 'get' ? 'down' : 'up', stall: true } : {}));
      cleanup.push(() => proxy.close());
      const cwd = op === 'get' ? await tempDir('tcpsend-faults-out-') : src;
      const target = `127.0.0.1:${proxy.port}`;
      const args = op === 'get' ? ['get', target, 'tree', 'copy'] : ['put', 'tree', target];
      const dest = op === 'get' ? path.join(cwd, 'copy') : path.join(root, 'tree');

      const first = runCli(args, cwd);
      await until(() => (proxy.faults > 0 ? true : undefined), first, 20_000, 'the stall');
      // A get's child may still be megabytes (socket buffers) behind the proxy: until it has a
      // partial file on disk, which the interrupt must then keep.
      if (op === 'get') await until(() => (partsIn(dest) > 0 ? true : undefined), first, 20_000, 'a partial file');
      else await new Promise((resolve) => setTimeout(resolve, 200));
      first.child.kill('SIGINT');
      expect(await first.exited, first.stderr).toEqual({ code: 130, signal: null });
      const complaints = first.stderr.split('\n').filter((l) => l.startsWith('tcpsend: '));
      expect(complaints, first.stderr).toEqual([
        `tcpsend: interrupted: partial files are kept; run the same command again to resume (tcpsend ${args.join(' ')})`,
      ]);
      expect(first.stderr).not.toMatch(/stream closed|ECONNRESET|connection/i);
      if (op === 'get') expect(partsIn(dest)).toBeGreaterThan(0);

      const second = runCli(args, cwd);
      expect(await second.exited, second.stderr).toEqual({ code: 0, signal: null });
      for (let i = 0; i < 4; i++) {
        expect(await sameBytes(path.join(dest, `big-${i}.bin`), path.join(tree, `big-${i}.bin`)), `big-${i}.bin`).toBe(true);
      }
      expect((await fsp.readdir(path.join(dest, 'sub'))).sort()).toEqual((await fsp.readdir(path.join(tree, 'sub'))).sort());
      expect((await fsp.readdir(dest)).filter((n) => n.endsWith('.tcpsend-part'))).toEqual([]);
    });
  }
});
