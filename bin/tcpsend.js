#!/usr/bin/env node
// dist/tcpsend-cli.cjs is the CLI bundled into one file (scripts/bundle-cli.js): it starts in a
// fraction of the time that loading dist/cli/main.js module by module takes, and faster still
// with the code cache the build makes for it (load-cli.js).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCli } from './load-cli.js';

const bundle = fileURLToPath(new URL('../dist/tcpsend-cli.cjs', import.meta.url));
let cli;
try {
  cli = loadCli(bundle).exports;
} catch (err) {
  // Only in a clone that was never built: an installed package always has dist/.
  if (fs.existsSync(bundle)) throw err;
  process.stderr.write(`tcpsend: ${bundle} is missing: run \`npm run build\` in the clone first\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
