// string-width for the CLI bundle, loaded on its first call rather than when the bundle starts.
// string-width 8 builds an Intl.Segmenter and Unicode-property regular expressions (RGI_Emoji
// among them) as it loads: 30-60 ms of every run, though only a help text or a usage error
// measures a string (yargs' and cliui's layout). scripts/bundle-cli.js points every import of
// 'string-width' here (esbuild's `alias`), and `string-width-loaded` at the real one, which
// esbuild then evaluates on this first require() only.
'use strict';
let stringWidth = null;

module.exports = function lazyStringWidth(string, options) {
  stringWidth ??= require('string-width-loaded').default;
  return stringWidth(string, options);
};
