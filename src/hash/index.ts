/** Checksums: the algorithms, choosing one with a peer, hashing files, the worker thread, HTTP names. */
export { CHECKSUM_NAMES, isChecksumName, LEGACY_CHECKSUM, type ChecksumName } from './names.js';
export {
  availableChecksums,
  checksumAlgorithm,
  checksumUnavailable,
  createHasher,
  type ChecksumAlgorithm,
  type Hasher,
} from './algorithms.js';
export { chooseChecksum, formatChecksumList, parseChecksumList } from './negotiate.js';
export { hashFileRange } from './file-range.js';
export { httpDigestName, reprDigest } from './http.js';
export { HashWorker, HashWorkerError, takeHashWorker, takeReceiver, WORKER_HASH_MIN_BYTES } from './worker.js';
