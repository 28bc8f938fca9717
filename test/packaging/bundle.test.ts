/**
 * scripts/bundle-cli.js: the CLI bundle, and its check of bundled modules that find files by
 * their own location (which, once bundled, is the bundle's or the single executable's); and
 * bin/tcpsend.js, which runs the bundle.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFileRelative, cliBundleOptions } from '../../scripts/bundle-cli.js';
import { codeCachePath, loadCli } from '../../bin/load-cli.cjs';
import { removeTemps, REPO, runCli, startServe, stopAllCli, tempDir } from '../helpers/cli.js';

afterAll(async () => {
  await stopAllCli();
  await removeTemps();
});

/** A metafile whose inputs are these files, named as esbuild names them: relative to the repo. */
function metafileOf(...files: string[]): Metafile {
  const inputs = Object.fromEntries(files.map((file) => [path.relative(REPO, file), { bytes: 0, imports: [] }]));
  return { inputs, outputs: {} } as Metafile;
}

describe('cliBundleOptions', () => {
  it("turns import() into require(), which a single executable with a code cache has", async () => {
    const dir = await tempDir('tcpsend-bundle-');
    const entry = path.join(dir, 'entry.js');
    await fsp.writeFile(entry, "export async function serve() { const http = await import('node:http'); return http.createServer(); }\n");
    const built = await esbuild.build({ ...cliBundleOptions({ outfile: path.join(dir, 'out.cjs'), sourcemap: false }), entryPoints: [entry], write: false });
    const text = built.outputFiles[0]!.text;
    expect(text).not.toMatch(/\bimport\s*\(/);
    expect(text).toMatch(/require\("node:http"\)/);
  });
});

describe('checkFileRelative', () => {
  it('passes modules that do not ask where they are', async () => {
    const dir = await tempDir('tcpsend-bundle-');
    const plain = path.join(dir, 'plain.js');
    await fsp.writeFile(plain, "export const x = require('node:path').join('a', 'b');\n");
    expect(() => checkFileRelative(metafileOf(plain))).not.toThrow();
  });

  it('fails the build on a module that reads a file beside itself, and names it', async () => {
    const dir = await tempDir('tcpsend-bundle-');
    const modules: [string, string][] = [
      ['page.js', "export const page = readFileSync(new URL('./page.html', import.meta.url));\n"],
      ['legacy.js', "module.exports = require('path').join(__dirname, 'page.html');\n"],
    ];
    for (const [name, source] of modules) {
      const file = path.join(dir, name);
      await fsp.writeFile(file, source);
      expect(() => checkFileRelative(metafileOf(file))).toThrow(new RegExp(`by their own location.*${name}[\\s\\S]*CHECKED_FILE_RELATIVE`));
    }
  });

  it("passes yargs' platform shim, checked, wherever npm put node_modules", () => {
    const shim = path.join(REPO, 'node_modules', 'yargs', 'lib', 'platform-shims', 'esm.mjs');
    expect(() => checkFileRelative(metafileOf(shim))).not.toThrow();
  });
});

describe('bin/tcpsend.js', () => {
  it('in a clone that was never built, says to run npm run build, in one line', async () => {
    const clone = await tempDir('tcpsend-unbuilt-');
    await fsp.cp(path.join(REPO, 'bin'), path.join(clone, 'bin'), { recursive: true });
    await fsp.writeFile(path.join(clone, 'package.json'), '{ "type": "module" }\n');
    const r = await runCli([path.join(clone, 'bin', 'tcpsend.js'), '--version'], { cwd: clone, program: process.execPath });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`tcpsend: ${path.join(clone, 'dist', 'tcpsend-cli.cjs')} is missing: run \`npm run build\` in the clone first\n`);
  });
});

describe('bin/load-cli.cjs', () => {
  it('runs a bundle, and with the code cache made from it, the same', async () => {
    const dir = await tempDir('tcpsend-cache-');
    const bundle = path.join(dir, 'cli.cjs');
    await fsp.writeFile(bundle, "exports.where = __filename; exports.add = (a, b) => a + b; exports.path = require('node:path').sep;\n");
    const first = loadCli(bundle);
    expect(first.exports).toMatchObject({ where: bundle, path: '/' });
    expect(first.cacheRejected).toBe(false);
    first.saveCodeCache();
    const again = loadCli(bundle);
    expect(again.cacheRejected).toBe(false);
    expect(again.exports.add(2, 3)).toBe(5);
  });

  it("the build's own cache is taken by a fresh node running the CLI (made under the flags the CLI starts with)", async () => {
    // main() sets a V8 flag at run time, and V8 refuses a cache made under other flags: the
    // build once made one no run could use.
    const cache = codeCachePath(path.join(REPO, 'dist', 'tcpsend-cli.cjs'));
    expect((await fsp.stat(cache)).size).toBeGreaterThan(100_000);
    const probe = "const { loadCli, CLI_BUNDLE } = require('./bin/load-cli.cjs'); process.stdout.write(String(loadCli(CLI_BUNDLE).cacheRejected));";
    const r = await runCli(['-e', probe], { cwd: REPO, program: process.execPath });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('false');
  });

  it('never uses a cache made from another bundle, even one of the same length', async () => {
    const dir = await tempDir('tcpsend-cache-');
    const bundle = path.join(dir, 'cli.cjs');
    await fsp.writeFile(bundle, 'exports.answer = 1;\n');
    loadCli(bundle).saveCodeCache();
    // V8 itself checks only the source's length: this cache would run the old code.
    await fsp.writeFile(bundle, 'exports.answer = 2;\n');
    expect(loadCli(bundle).exports.answer).toBe(2);
    // A cache file that is not one is no cache.
    await fsp.writeFile(codeCachePath(bundle), 'not a cache');
    expect(loadCli(bundle).exports.answer).toBe(2);
  });
});

describe('the bundled CLI lays out text only when it prints help', () => {
  // string-width builds an Intl.Segmenter (and Unicode regexes) as it loads, 30-60 ms; only a
  // help text or a usage error needs it (scripts/lazy-string-width.cjs), and yargs' layout of the
  // command's help after every handler is skipped (src/cli/main.ts, skipHelpCache).
  const countSegmenters = [
    '--import',
    `data:text/javascript,${encodeURIComponent(
      'let made = 0; const Real = Intl.Segmenter;' +
        'Intl.Segmenter = class extends Real { constructor(...a) { super(...a); made += 1; } };' +
        "process.on('exit', () => process.stderr.write(`segmenters: ${made}\\n`));",
    )}`,
  ];

  it('--version, and a command run to its end, build no Intl.Segmenter; --help does', async () => {
    const dir = await tempDir('tcpsend-lazy-');
    await fsp.writeFile(path.join(dir, 'a.txt'), 'a\n');
    const serve = await startServe(dir);
    const run = (args: string[]) => runCli(args, { cwd: dir, nodeArgs: countSegmenters });

    const version = await run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stderr).toBe('segmenters: 0\n');

    const ls = await run(['ls', `127.0.0.1:${serve.port}`]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('a.txt');
    expect(ls.stderr).toBe('segmenters: 0\n');

    const help = await run(['ls', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('tcpsend ls');
    expect(help.stderr).toMatch(/^segmenters: [1-9]\d*\n$/);
  });
});
