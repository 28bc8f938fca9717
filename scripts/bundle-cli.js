// `npm run build`, after tsc: bundles the CLI (dist/cli/main.js and everything it imports, yargs
// included) into one CommonJS file, dist/tcpsend-cli.cjs. bin/tcpsend.js runs it, and
// `npm run build:exe` (scripts/build-exe.js) puts the same file into the single executable.
// Node 20 loads one file far faster than the CLI's ~140 ES modules one by one (docs/benchmarks.md,
// "Start-up"). The library (dist/index.js, the package's "exports") stays tsc's output.
//
// Only esbuild's ordinary options: no plugin rewrites a dependency's source.
// - string-width, which yargs and cliui import to lay out help, is loaded on its first call
//   (scripts/lazy-string-width.cjs, through esbuild's `alias`): loading it costs 30-60 ms, and a
//   run that prints no help never calls it.
// - CommonJS, because a single executable's main script must be CommonJS (Node 20).
// - ES modules that ask for their own URL (yargs' platform shim) get it from
//   scripts/import-meta-url.js, esbuild's documented `inject` + `define` recipe for import.meta
//   in CommonJS output. In the bundle that URL is the bundle's own (or, in the single executable,
//   the executable's), so yargs finds no locale files next to it: tcpsend's messages are in
//   English (src/cli/main.ts says so to yargs), as its own messages always were.
// - Native addons stay out of the bundle (NATIVE below): they are loaded at run time, where they
//   exist, and the code that uses them falls back to node:crypto where they do not load (in the
//   single executable, which carries no node_modules).
//
// The bundle is built from tsc's output, not from src/, so the CLI runs exactly the code the
// library ships, and esbuild chains tsc's source maps: dist/tcpsend-cli.cjs.map points at
// src/*.ts (`node --enable-source-maps bin/tcpsend.js ...` uses it).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { codeCachePath } from '../bin/load-cli.cjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUNDLE = path.join(REPO, 'dist', 'tcpsend-cli.cjs');

/**
 * Packages that are, or load, a compiled Node addon (`.node`): esbuild cannot put one in a
 * JavaScript file, and a single executable cannot load one from inside itself. They stay
 * `external`; the code that loads them must survive their absence.
 */
export const NATIVE = ['@napi-rs/*', '@node-rs/*', '*.node'];

/**
 * Bundled modules that find files by their own location (`import.meta.url`, `__dirname`,
 * `__filename`): in the bundle that location is the bundle's, or the executable's. Each one here
 * has been checked; a new one fails the build until someone checks it too.
 */
const CHECKED_FILE_RELATIVE = new Map([
  ['scripts/import-meta-url.js', 'it is the recipe that gives the others their location'],
  [
    'node_modules/yargs/lib/platform-shims/esm.mjs',
    'its locale folder is not found (English, as main.ts asks); it guesses a version from the nearest ' +
      'package.json (tcpsend sets its own) and require()s config files and command folders (tcpsend uses neither)',
  ],
  ['node_modules/yargs-parser/build/lib/index.js', 'only for .config() files, which tcpsend does not use'],
  ['node_modules/yargs/build/lib/utils/apply-extends.js', 'only for `extends` in config files, which tcpsend does not use'],
  [
    'dist/files/native-folder.js',
    'it looks for the native folder reader in dist/native/ beside the bundle; the single executable ' +
      'has none beside it, and reads folders the plain way',
  ],
  [
    'dist/hash/algorithms.js',
    'it resolves the native BLAKE3 module from there: from dist/ the package\'s own node_modules; from the ' +
      'single executable, the folder it sits in, where it is normally absent, and SHA-256 is used',
  ],
]);

/**
 * The string-width every bundled import of it gets, on first call (scripts/lazy-string-width.cjs):
 * the one yargs itself depends on (the lock file gives cliui the same version, package.json's
 * `overrides`). Relative to REPO, as esbuild resolves an alias from its working directory.
 */
function stringWidthPath() {
  const fromYargs = createRequire(path.join(REPO, 'node_modules', 'yargs', 'package.json')).resolve('string-width');
  return `./${path.relative(REPO, fromYargs).split(path.sep).join('/')}`;
}

/** esbuild's options for a bundle of tsc's dist/cli/main.js. */
export function cliBundleOptions({ outfile = CLI_BUNDLE, sourcemap = true } = {}) {
  return {
    absWorkingDir: REPO,
    entryPoints: [path.join(REPO, 'dist', 'cli', 'main.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: NATIVE,
    inject: [path.join(REPO, 'scripts', 'import-meta-url.js')],
    alias: { 'string-width': './scripts/lazy-string-width.cjs', 'string-width-loaded': stringWidthPath() },
    define: { 'import.meta.url': 'import_meta_url' },
    // import() becomes require(): a single executable built with a code cache has no import()
    // (Node 20 throws ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), even for `await import('node:http')`.
    supported: { 'dynamic-import': false },
    // TcpsendError names each error after its class (`this.name = new.target.name`): esbuild
    // renames classes whose names clash between modules, and keepNames puts the names back.
    keepNames: true,
    sourcemap,
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
  };
}

/** Throws if a bundled module finds files by its own location and is not in CHECKED_FILE_RELATIVE. */
export function checkFileRelative(metafile) {
  const unexpected = [];
  for (const input of Object.keys(metafile.inputs)) {
    const file = path.join(REPO, input);
    // A dependency's path is matched from its node_modules/ on: npm may hoist it to a folder
    // above this one, or node_modules may be a symlink, and esbuild names it from there.
    const at = input.lastIndexOf('node_modules/');
    const key = at === -1 ? input : input.slice(at);
    if (!fs.existsSync(file) || CHECKED_FILE_RELATIVE.has(key)) continue;
    if (/import\.meta|__dirname|__filename/.test(fs.readFileSync(file, 'utf8'))) unexpected.push(input);
  }
  if (unexpected.length > 0) {
    throw new Error(
      `these bundled modules find files by their own location, which is the bundle's once bundled: ${unexpected.join(', ')}\n` +
        'check what each reads and add it to CHECKED_FILE_RELATIVE in scripts/bundle-cli.js, or keep it out of the bundle',
    );
  }
}

async function main() {
  const result = await esbuild.build(cliBundleOptions());
  checkFileRelative(result.metafile);
  const bytes = fs.statSync(CLI_BUNDLE).size;
  const modules = Object.keys(result.metafile.inputs).length;
  console.log(`bundled the CLI: ${path.relative(REPO, CLI_BUNDLE)} (${(bytes / 1024).toFixed(0)} KiB, ${modules} modules)`);
  writeCodeCache();
}

/**
 * The bundle's V8 code cache (bin/load-cli.cjs), made by scripts/cli-code-cache.js in a fresh
 * node, then checked in another: V8 takes it only where the flags match those it was made with.
 * Without it the CLI works as well, only starts slower: a failure here is a warning.
 */
function writeCodeCache() {
  const cache = codeCachePath(CLI_BUNDLE);
  const made = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'cli-code-cache.js')], { encoding: 'utf8' });
  const check = `import(${JSON.stringify(pathToFileURL(path.join(REPO, 'bin', 'load-cli.cjs')).href)}).then((m) => process.exit(m.loadCli(${JSON.stringify(CLI_BUNDLE)}).cacheRejected ? 1 : 0))`;
  const why =
    made.status !== 0
      ? `scripts/cli-code-cache.js failed (${made.status ?? made.signal}): ${made.stderr.trim()}`
      : spawnSync(process.execPath, ['-e', check]).status !== 0
        ? 'V8 refuses the cache it made'
        : null;
  if (why === null) {
    console.log(`wrote its code cache: ${path.relative(REPO, cache)} (${(fs.statSync(cache).size / 1024).toFixed(0)} KiB)`);
    return;
  }
  fs.rmSync(cache, { force: true });
  console.warn(`warning: no code cache for the CLI (it will start slower): ${why}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
