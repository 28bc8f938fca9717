/**
 * Local-disk rules shared by the client and the server: which relative paths are acceptable,
 * the name of a partial file, modification times in whole milliseconds, "this file changed",
 * folder fsync, and how a path is quoted in a message.
 */
export { MAX_NAME_BYTES, MAX_PATH_BYTES, toSegments } from './relative-path.js';
export { PART_SUFFIX, isPartName, partNameFor } from './part-name.js';
export { utimesSeconds, wholeMilliseconds } from './mtime.js';
export { fileChanged } from './file-changed.js';
export { fsyncFolder, isUnsyncableFolder, UNSYNCABLE_FOLDER, type FolderSyncFs } from './folder-sync.js';
export { quotePath, quoteRequestPath } from './quote-path.js';
export { byUtf8 } from './utf8-order.js';
export { SMALL_FILE_BYTES } from './small-file.js';
