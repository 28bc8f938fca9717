#!/usr/bin/env node
// dist/tcpsend-cli.cjs is the CLI bundled into one file (scripts/bundle-cli.js): it starts in a
// fraction of the time that loading dist/cli/main.js module by module takes, and faster still
// with the code cache the build makes for it (load-cli.cjs).
//
// CommonJS, as bin/package.json makes every file here: Node then starts without its ES module
// loader, 4 ms sooner (tcpsend --version, 90 instead of 94 ms).
'use strict';
const { CLI_BUNDLE, loadCli } = require('./load-cli.cjs');

let cli;
try {
  cli = loadCli(CLI_BUNDLE).exports;
} catch (err) {
  // Only in a clone that was never built: an installed package always has dist/.
  if (require('node:fs').existsSync(CLI_BUNDLE)) throw err;
  process.stderr.write(`tcpsend: ${CLI_BUNDLE} is missing: run \`npm run build\` in the clone first\n`);
  process.exit(1);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
