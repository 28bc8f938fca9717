// Injected into the CommonJS bundle by scripts/bundle-cli.js (esbuild's `inject`, with
// `define: { 'import.meta.url': 'import_meta_url' }`): what an ES module reads as its own URL.
// In the bundle that is the bundle file's URL; in the single executable, the executable's
// (Node sets __filename to process.execPath there).
export const import_meta_url = require('node:url').pathToFileURL(__filename).href;
