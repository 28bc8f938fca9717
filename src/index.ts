/** tcpsend's public library API. */
export * from './errors.js';
export * from './io/index.js';
export * from './protocol/index.js';
export * from './server/index.js';
export * from './client/index.js';
export {
  availableChecksums,
  CHECKSUM_NAMES,
  createHasher,
  httpDigestName,
  reprDigest,
  type ChecksumName,
  type Hasher,
} from './hash/index.js';
export { VERSION } from './version.js';
