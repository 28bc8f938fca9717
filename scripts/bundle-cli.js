// `npm run build`, after tsc: bundles the CLI (dist/cli/main.js and everything it imports, yargs
// included) into one CommonJS file, dist/tcpsend-cli.cjs. bin/tcpsend.js runs it, and
// `npm run build:exe` (scripts/build-exe.js) puts the same file into the single executable.
// Node 20 loads one file far faster than the CLI's ~140 ES modules one by one (docs/benchmarks.md,
// "Start-up"). The library (dist/index.js, the package's "exports") stays tsc's output.
//
// Only esbuild's ordinary options: no plugin rewrites a dependency's source.
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
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUNDLE = path.join(REPO, 'dist', 'tcpsend-cli.cjs');

/**
 * Packages that are, or load, a compiled Node addon (`.node`): esbuild cannot put one in a
 * JavaScript file, and a single executable cannot load one from inside itself. They stay
 * `external`; the code that loads them must survive their absence.
 */
export const NATIVE = ['@napi-rs/*', '@node-rs/*', '*.node'];

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
    define: { 'import.meta.url': 'import_meta_url' },
    // TcpsendError names each error after its class (`this.name = new.target.name`): esbuild
    // renames classes whose names clash between modules, and keepNames puts the names back.
    keepNames: true,
    sourcemap,
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
  };
}

async function main() {
  const result = await esbuild.build(cliBundleOptions());
  const bytes = fs.statSync(CLI_BUNDLE).size;
  const modules = Object.keys(result.metafile.inputs).length;
  console.log(`bundled the CLI: ${path.relative(REPO, CLI_BUNDLE)} (${(bytes / 1024).toFixed(0)} KiB, ${modules} modules)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
