// A JSON import, not a read at run time: a bundler inlines it, so the CLI bundle and the single
// executable carry the version with them (no package.json sits next to either).
import pkg from '../package.json' with { type: 'json' };

/** The package version, from package.json so there is one source of truth. */
export const VERSION: string = pkg.version;
