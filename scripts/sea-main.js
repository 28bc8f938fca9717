// The single executable's main script, bundled into CommonJS by scripts/build-exe.js: the same
// CLI as bin/tcpsend.js. Node's single executable passes the executable's own path as both
// argv[0] and argv[1], so the user's arguments start at argv[2] as they do under node.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
