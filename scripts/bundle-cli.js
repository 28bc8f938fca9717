// `npm run build`, after tsc: bundles the CLI (dist/cli/main.js and everything it imports, yargs
// included) into one ES module, dist/tcpsend-cli.js, which bin/tcpsend.js loads. Node 20 loads
// the CLI's ~140 modules one by one (resolve, read, compile, link each) in about 70 ms, and the
// one file in under 20: that was most of `tcpsend --version`, and every `tcpsend get` that a
// script runs pays it. The library (dist/index.js, the package's "exports") stays tsc's output.
//
// The bundle is built from tsc's output, not from src/, so the CLI runs exactly the code the
// library ships, and esbuild chains tsc's source maps: dist/tcpsend-cli.js.map points at
// src/*.ts (`node --enable-source-maps bin/tcpsend.js ...` uses it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTFILE = path.join(REPO, 'dist', 'tcpsend-cli.js');
const LOCALES = path.join(REPO, 'dist', 'yargs-locales');
const YARGS_SHIM = /[\\/]node_modules[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;

/**
 * Bundled modules that look for files next to themselves (`import.meta.url`, `__dirname`): in
 * the bundle that is next to dist/tcpsend-cli.js. Each one here has been checked; a new one
 * fails the build until someone checks it too.
 */
const CHECKED_FILE_RELATIVE = new Set([
  // ../package.json is the same file from dist/version.js and from dist/tcpsend-cli.js.
  'dist/version.js',
  // Resolves the native BLAKE3 module (@napi-rs/blake-hash) from its own URL with
  // createRequire: from dist/tcpsend-cli.js that finds the same node_modules. Where it finds
  // none (a single executable), BLAKE3 is not offered and transfers check with SHA-256.
  'dist/hash/algorithms.js',
  // yargs' platform shim: its locale folder is handled below (`yargsLocales`); otherwise it
  // uses its URL only to guess a version from the nearest package.json (tcpsend sets its own)
  // and to require() config files and command folders (tcpsend uses neither).
  'node_modules/yargs/lib/platform-shims/esm.mjs',
  // Both only load a config file, for `.config()` and `extends`, which tcpsend does not use.
  'node_modules/yargs-parser/build/lib/index.js',
  'node_modules/yargs/build/lib/utils/apply-extends.js',
]);

/**
 * yargs finds its locale files (y18n: --help and its error messages in German under
 * LANG=de_DE.UTF-8...) next to its platform shim, by the shim's own URL; in the bundle that is
 * the bundle's URL. The bundle carries the locale files of the yargs it bundles, in
 * dist/yargs-locales/, and the shim is pointed there: nothing to look up at run time, wherever
 * npm put (or hoisted) yargs.
 */
const yargsLocales = {
  name: 'yargs-locales',
  setup(build) {
    build.onLoad({ filter: YARGS_SHIM }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const directory = "resolve(__dirname, '../../../locales')";
      if (source.split(directory).length !== 2) {
        throw new Error(`${args.path}: expected ${directory} once: check how this yargs version finds its locales`);
      }
      await fs.promises.rm(LOCALES, { recursive: true, force: true });
      await fs.promises.cp(path.resolve(path.dirname(args.path), '..', '..', 'locales'), LOCALES, { recursive: true });
      const prelude =
        "import { fileURLToPath as bundledLocalesPath } from 'node:url';\n" +
        "const bundledLocales = bundledLocalesPath(new URL('./yargs-locales', import.meta.url));\n";
      return { contents: prelude + source.replace(directory, 'bundledLocales'), loader: 'js' };
    });
  },
};

/**
 * cliui and string-width, as the yargs shim imports them, load on first use. Importing them
 * compiles Unicode property regular expressions (\p{RGI_Emoji}) and starts an Intl.Segmenter:
 * about 15 ms, for something only --help and the error messages use. In a bundle, a module
 * reached through require() is evaluated when the require() runs, not at start-up.
 */
const DEFERRED = new Set(['cliui', 'string-width']);
const deferYargsLayout = {
  name: 'defer-yargs-layout',
  setup(build) {
    build.onResolve({ filter: /^(cliui|string-width)$/ }, (args) => {
      if (!YARGS_SHIM.test(args.importer) || args.kind !== 'import-statement') return undefined;
      return { path: args.path, namespace: 'deferred', pluginData: { resolveDir: path.dirname(args.importer) } };
    });
    build.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => {
      if (!DEFERRED.has(args.path)) throw new Error(`not a deferred module: ${args.path}`);
      return {
        contents: `export default function deferred(...args) { return require(${JSON.stringify(args.path)}).default(...args); }\n`,
        resolveDir: args.pluginData.resolveDir,
        loader: 'js',
      };
    });
  },
};

const result = await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: [path.join(REPO, 'dist', 'cli', 'main.js')],
  outfile: OUTFILE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // TcpsendError names each error after its class (`this.name = new.target.name`): esbuild
  // renames classes whose names clash between modules, and keepNames puts the names back.
  keepNames: true,
  sourcemap: true,
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  // cli-progress is CommonJS and require()s Node's own modules: an ES module has no require.
  banner: {
    js: "import { createRequire as bundleCreateRequire } from 'node:module';\nconst require = bundleCreateRequire(import.meta.url);",
  },
  plugins: [yargsLocales, deferYargsLayout],
});

const unexpected = [];
for (const input of Object.keys(result.metafile.inputs)) {
  const file = path.join(REPO, input);
  // A dependency's path is matched from its node_modules/ on: npm may hoist it to a folder
  // above this one, or node_modules may be a symlink, and esbuild names it from there.
  const at = input.lastIndexOf('node_modules/');
  const key = at === -1 ? input : input.slice(at);
  if (!fs.existsSync(file) || CHECKED_FILE_RELATIVE.has(key)) continue;
  if (/import\.meta|__dirname|__filename/.test(fs.readFileSync(file, 'utf8'))) unexpected.push(input);
}
if (unexpected.length > 0) {
  throw new Error(
    `these bundled modules look for files next to themselves, which the bundle moves: ${unexpected.join(', ')}\n` +
      'check what each reads and add it to CHECKED_FILE_RELATIVE in scripts/bundle-cli.js, or keep it out of the bundle',
  );
}
const bytes = fs.statSync(OUTFILE).size;
console.log(`bundled the CLI: ${path.relative(REPO, OUTFILE)} (${(bytes / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} modules)`);
