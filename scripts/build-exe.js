// `npm run build:exe`: writes dist/tcpsend, one executable file that runs tcpsend where no Node
// is installed, with Node's single executable applications (Node 20: a CommonJS main script,
// `--experimental-sea-config` to make the blob, postject to put it into a copy of node).
// It is the node that runs this script, with the CLI bundled as scripts/bundle-cli.js bundles
// it (entry: scripts/sea-main.js). Run `npm run build` first (build:exe does).
//
// What the executable carries: the CLI and every JavaScript dependency, bundled; Node's own
// modules. What it does not: native addons (scripts/bundle-cli.js `NATIVE`): it cannot load a
// `.node` file from inside itself, so code that uses one falls back where it does not load
// (a faster checksum falls back to SHA-256 from node:crypto). yargs' locale files: messages
// are in English. The executable needs the C libraries node itself links (glibc, libstdc++).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { checkFileRelative, cliBundleOptions } from './bundle-cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(REPO, 'dist', 'sea');
export const EXECUTABLE = path.join(REPO, 'dist', 'tcpsend');
// The fuse Node's single executable support looks for in its own binary (see Node's docs,
// "Single executable applications"): postject flips it to say a blob is there.
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export async function buildExecutable({ node = process.execPath, output = EXECUTABLE } = {}) {
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  }
  const nodeBinary = fs.readFileSync(node);
  if (!nodeBinary.includes(`${FUSE}:0`)) {
    throw new Error(`${node} cannot make a single executable: it has no ${FUSE}:0 (already one, or built without it)`);
  }
  fs.mkdirSync(WORK, { recursive: true });
  const main = path.join(WORK, 'tcpsend.cjs');
  const blob = path.join(WORK, 'tcpsend.blob');
  const config = path.join(WORK, 'sea-config.json');
  const bundled = await esbuild.build({
    ...cliBundleOptions({ outfile: main, sourcemap: false }),
    entryPoints: [path.join(REPO, 'scripts', 'sea-main.js')],
  });
  checkFileRelative(bundled.metafile);
  fs.writeFileSync(
    config,
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2) + '\n',
  );
  const made = spawnSync(node, ['--experimental-sea-config', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`node --experimental-sea-config failed (${made.status}):\n${made.stderr}${made.stdout}`);

  // Made in the work folder and renamed, so a failed build leaves no half-made dist/tcpsend (and
  // `npm pack`, which leaves dist/sea out, never packs one).
  const partial = path.join(WORK, 'tcpsend.partial');
  fs.writeFileSync(partial, nodeBinary, { mode: 0o755 });
  try {
    inject(node, partial, blob);
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, output);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
  return output;
}

/**
 * postject's own command, in a child process: LIEF, inside it, warns once per ELF note of node
 * it cannot name (`warning: Can't find string offset for section name '.note.100'`), which says
 * nothing about the result. Its output is shown only when it fails, without those lines.
 */
function inject(node, executable, blob) {
  const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('postject/package.json')), 'dist', 'cli.js');
  const run = spawnSync(node, [cli, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE], { encoding: 'utf8' });
  const said = `${run.stdout}${run.stderr}`
    .split('\n')
    .filter((line) => line !== '' && !/^warning: Can't find string offset for section name/.test(line))
    .join('\n');
  if (run.status !== 0) throw new Error(`postject failed (${run.status ?? run.signal}):\n${said}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = performance.now();
  const output = await buildExecutable();
  const mib = fs.statSync(output).size / 2 ** 20;
  console.log(`built ${path.relative(REPO, output)} (${mib.toFixed(1)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
