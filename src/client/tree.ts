/**
 * Folders: put a local tree or get a remote one over one connection, as rsync users expect a
 * sync to behave. One recursive listing of the destination (put) or the source (get) and a
 * local walk are compared entry by entry (compare.ts): a file whose size and mtime match is
 * unchanged and neither end reads it (`checksum` compares contents instead); a file that
 * differs is replaced by the source's version, atomically; `delete` removes what the source no
 * longer has; filters leave paths out; symlinks are recreated when they stay inside the folder
 * and skipped otherwise, never followed. Transfers are pipelined (a window of operations in
 * flight), and small files go in batches (MGET, MPUT). Every entry ends with one outcome:
 * sent, replaced, unchanged, skipped (with its reason) or deleted.
 */
// Split in three: what both directions share (tree-run.ts), the folder put (tree-put.ts) and
// the folder get (tree-get.ts). Callers import from here.
export { emptySummary, type EntryDone, type Outcome, type SkipGroup, type TreeHooks, type TreeOptions, type TreeSummary } from './tree-run.js';
export { putTree } from './tree-put.js';
export { getTree, safeLocalPath } from './tree-get.js';
