/**
 * The served folder: the one confinement boundary (root.ts, folders.ts), listing, uploads
 * (whole or through a partial file), DELETE and SYMLINK, the upload locks and the hash cache.
 */
export { Root, READ_FLAGS, applyAttributes, checkAttributes, type AttributeOptions, type EntryType, type FileInfo, type OpenedFile, type RootOptions } from './root.js';
export { FolderScope, type Folder } from './folders.js';
export type { DirentLike, RootFs, StatsLike } from './fs-port.js';
export { OpenFile } from './open-file.js';
export { listFolder, MAX_LIST_DEPTH, type ListEntry, type ListOptions } from './listing.js';
export { commitPart, discardPart, openPart, storeWhole, storeWholeFiles, syncFolders, uploadTarget, type UploadTarget, type WholeFile } from './uploads.js';
export { UploadPart } from './upload-part.js';
export { removeEntry } from './delete.js';
export { checkLinkTarget, placeSymlink, type LinkDestination } from './symlinks.js';
export { UploadLocks } from './upload-locks.js';
export { DEFAULT_HASH_CACHE_ENTRIES, HashCache, type FileVersion } from './hash-cache.js';
export { errnoCode, toStorageError } from './fs-errors.js';
export { TimeSlice } from './time-slice.js';
