#!/usr/bin/env node
// dist/tcpsend-cli.cjs is the CLI bundled into one file (scripts/bundle-cli.js): it starts in a
// fraction of the time that loading dist/cli/main.js module by module takes.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
let cli;
try {
  cli = require('../dist/tcpsend-cli.cjs');
} catch (err) {
  // Only in a clone that was never built: an installed package always has dist/.
  if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('tcpsend-cli.cjs')) throw err;
  process.stderr.write(`tcpsend: ${fileURLToPath(new URL('../dist/tcpsend-cli.cjs', import.meta.url))} is missing: run \`npm run build\` in the clone first\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
