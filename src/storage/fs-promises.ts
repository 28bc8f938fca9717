/**
 * The part of `node:fs/promises` the storage layer uses, typed loosely enough that memfs's
 * `fs.promises` fits as well as Node's own, so unit tests can inject an in-memory file system.
 * (memfs types numbers as `number | bigint` and names as `string | Buffer`; we convert.)
 */

export interface StatsLike {
  dev: number | bigint;
  ino: number | bigint;
  size: number | bigint;
  mode: number | bigint;
  mtimeMs: number | bigint;
  ctimeMs: number | bigint;
  nlink: number | bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export interface DirentLike {
  name: string | Buffer;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** An open file: Node's FileHandle, memfs's, or a test double. */
export interface FileHandleLike {
  readonly fd: number;
  stat(): Promise<StatsLike>;
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }>;
  truncate(length?: number): Promise<void>;
  datasync(): Promise<void>;
  /** fsync(2); memfs has it at run time but not in its types, hence optional. */
  sync?(): Promise<void>;
  chmod(mode: number): Promise<void>;
  /** Times as Dates or as seconds since the epoch (see utimesSeconds). */
  utimes(atime: number | Date, mtime: number | Date): Promise<void>;
  close(): Promise<void>;
}

export interface FsPromises {
  open(path: string, flags?: string | number, mode?: number): Promise<FileHandleLike>;
  stat(path: string): Promise<StatsLike>;
  lstat(path: string): Promise<StatsLike>;
  realpath(path: string): Promise<string | Buffer>;
  readdir(
    path: string,
    options: { withFileTypes: true },
  ): Promise<ReadonlyArray<DirentLike | string | Buffer>>;
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<unknown>;
  rename(oldPath: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options?: { force?: boolean; recursive?: boolean }): Promise<void>;
  utimes(path: string, atime: number | Date, mtime: number | Date): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  readlink(path: string): Promise<string | Buffer>;
}

/**
 * The synchronous calls the batch verbs use (MGET, MPUT, and a listing's walk): for many small
 * files, a thread-pool round trip per call costs several times the call itself. Node's
 * `node:fs` fits, and so does a memfs volume.
 */
export interface FsSync {
  openSync(path: string, flags: number | string, mode?: number): number;
  closeSync(fd: number): void;
  fstatSync(fd: number): StatsLike;
  /** With `throwIfNoEntry: false`, undefined where nothing is (no error to build). */
  lstatSync(path: string, options?: { throwIfNoEntry?: boolean }): StatsLike | undefined;
  statSync(path: string): StatsLike;
  realpathSync(path: string): string | Buffer;
  readlinkSync(path: string): string | Buffer;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  fsyncSync(fd: number): void;
  fchmodSync(fd: number, mode: number): void;
  futimesSync(fd: number, atime: number | Date, mtime: number | Date): void;
  renameSync(oldPath: string, newPath: string): void;
  unlinkSync(path: string): void;
  mkdirSync(path: string): unknown;
}
