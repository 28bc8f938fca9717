// Types of bin/load-cli.cjs, for the scripts and tests that use it.
export const CLI_BUNDLE: string;
export function codeCachePath(bundle: string): string;
export function loadCli(bundle: string): { exports: any; cacheRejected: boolean; saveCodeCache(): void };
