/** The served directory: safe path resolution, stat/list/open, partial uploads. */
export {
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  PART_SUFFIX,
  isPartName,
  partNameFor,
  toSegments,
} from './relative-path.js';
export { errnoCode, toStorageError } from './fs-errors.js';
export { utimesSeconds, wholeMilliseconds } from './mtime.js';
export type { DirentLike, FileHandleLike, FsPromises, FsSync, StatsLike } from './fs-promises.js';
export { quotePath } from './quote-path.js';
export { PathLocks } from './path-locks.js';
export { UploadPart, type UploadPartInit } from './upload-part.js';
export {
  ServedRoot,
  type AttributeOptions,
  type EntryType,
  type FileInfo,
  FolderCache,
  type ListEntry,
  type ListOptions,
  type OpenedFile,
  type OpenedFileSync,
  type ServedRootOptions,
  type UploadTarget,
} from './served-root.js';
export { DEFAULT_HASH_CACHE_ENTRIES, HashCache, type FileVersion } from './hash-cache.js';
