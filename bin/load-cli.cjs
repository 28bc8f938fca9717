// Loads the CLI bundle (dist/tcpsend-cli.cjs) the way Node loads any CommonJS file, but with
// V8's code cache for it when `npm run build` made one (dist/tcpsend-cli.cjs.cache, written by
// scripts/bundle-cli.js after a run of get, put, ls and serve over loopback): V8 then neither
// parses the 1.3 MB bundle nor compiles the functions a run needs, a fifth of a no-op sync's
// start-up. Node 20 has no module.enableCompileCache; this is its documented building block,
// vm.Script's `cachedData`.
//
// The cache sits beside the bundle, made by the same build, so it is trusted as far as the
// bundle is and no further: it is used only for the very bundle it was made from (its SHA-256
// heads the file; V8 itself compares only the source's length), and V8 refuses it under another
// Node version or other V8 flags. Refused, missing or stale, the bundle simply compiles as usual.
// With --enable-source-maps, Node loads the bundle itself (stack traces then name src/*.ts).
//
// CommonJS, as the bundle is: Node loads it, and the few modules it needs, without the ES module
// loader's work per import (bin/tcpsend.js, CommonJS too, requires nothing else).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

/** Where the build puts the bundle (scripts/bundle-cli.js). */
const CLI_BUNDLE = path.join(__dirname, '..', 'dist', 'tcpsend-cli.cjs');

/** The code cache of `bundle`: the bundle's SHA-256 (32 bytes), then V8's data. */
function codeCachePath(bundle) {
  return `${bundle}.cache`;
}

/**
 * Run the CommonJS file `bundle` and return its exports, with `cacheRejected` (V8 refused the
 * cache; false when there was none) and `saveCodeCache()` (write the cache from what this
 * process has compiled of it so far).
 */
function loadCli(bundle) {
  // Node maps stack traces through the bundle's source map (--enable-source-maps) only for
  // files it loads itself.
  if (process.sourceMapsEnabled) {
    return { exports: require(bundle), cacheRejected: false, saveCodeCache() {} };
  }
  // The bytes are hashed, not the text: hashing a string first encodes it to UTF-8 again.
  const bytes = fs.readFileSync(bundle);
  const digest = crypto.createHash('sha256').update(bytes).digest();
  const source = bytes.toString('utf8');
  let cachedData;
  try {
    const file = fs.readFileSync(codeCachePath(bundle));
    if (file.subarray(0, digest.length).equals(digest)) cachedData = file.subarray(digest.length);
  } catch {
    // No cache (a build without one, or a clone built by tsc alone): compile as usual.
  }
  // Node's own CommonJS wrapper, on the first line, so line numbers stay the file's.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: bundle,
    cachedData,
  });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, require('node:module').createRequire(bundle), module, bundle, path.dirname(bundle));
  return {
    exports: module.exports,
    cacheRejected: cachedData !== undefined && script.cachedDataRejected === true,
    saveCodeCache() {
      fs.writeFileSync(codeCachePath(bundle), Buffer.concat([digest, script.createCachedData()]));
    },
  };
}

module.exports = { CLI_BUNDLE, codeCachePath, loadCli };
