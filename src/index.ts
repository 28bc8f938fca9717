/** tcpsend's public library API. */
export * from './errors.js';
export * from './io/index.js';
