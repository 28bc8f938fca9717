// Types of scripts/bundle-cli.js, for the tests that import it (test/packaging/bundle.test.ts).
import type { BuildOptions, Metafile } from 'esbuild';

export const CLI_BUNDLE: string;
export const NATIVE: string[];
export function cliBundleOptions(options?: { outfile?: string; sourcemap?: boolean }): BuildOptions;
export function checkFileRelative(metafile: Metafile): void;
