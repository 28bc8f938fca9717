// `npm run build`, after tsc: compiles native/folder.c, tcpsend's one native helper (a folder's
// names with their lstat in one call: see the file), into dist/native/folder.node, with the C
// compiler there is (`cc`, or $CC) and the Node-API headers of the node-api-headers package.
// Node-API is stable across Node versions, so this one build serves every Node the package
// supports. Where there is no compiler, or not a POSIX system, nothing is built and tcpsend
// reads folders the plain way (src/files/native-folder.ts): slower on large trees, the same
// results. `npm pack` ships what was built, for the platform that built it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = path.join(REPO, 'native', 'folder.c');
const NATIVE_FOLDER = path.join(REPO, 'dist', 'native', 'folder.node');

function main() {
  fs.rmSync(NATIVE_FOLDER, { force: true });
  if (process.platform === 'win32') {
    console.log('native folder reader: not built on Windows (folders are read the plain way)');
    return;
  }
  let headers;
  try {
    headers = path.dirname(createRequire(import.meta.url).resolve('node-api-headers/include/node_api.h'));
  } catch {
    console.log('native folder reader: not built (no node-api-headers: run npm ci); folders are read the plain way');
    return;
  }
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(path.dirname(NATIVE_FOLDER), { recursive: true });
  const flags = ['-O2', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall', '-Wextra', '-Werror', '-I', headers];
  // On macOS a Node-API module leaves its napi_* symbols to be found in the node that loads it.
  if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
  const r = spawnSync(cc, [...flags, SOURCE, '-o', NATIVE_FOLDER], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(NATIVE_FOLDER, { force: true });
    const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n').slice(0, 5).join('\n');
    console.log(`native folder reader: not built (${cc}: ${why}); folders are read the plain way`);
    return;
  }
  console.log(`built the native folder reader: ${path.relative(REPO, NATIVE_FOLDER)}`);
}

main();
