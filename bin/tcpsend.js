#!/usr/bin/env node
// dist/tcpsend-cli.js is the CLI bundled into one file (scripts/bundle-cli.js): it starts in a
// fraction of the time that loading dist/cli/main.js module by module takes.
import { main } from '../dist/tcpsend-cli.js';

process.exitCode = await main(process.argv.slice(2));
