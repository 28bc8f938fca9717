/**
 * The file-system calls the Root makes, as one port: node:fs fits it, and so does a memfs
 * volume, so unit tests run the same Root on an in-memory disk, and fault tests wrap node:fs
 * to fail one call. Metadata calls are synchronous: for the many small files of a folder
 * transfer, a thread-pool round trip costs several times the call (docs/benchmarks.md,
 * "Metadata calls", from bench/metadata.js: 10,000 lstats took 24–38 ms synchronously and
 * 208–435 ms awaited one at a time, 105–181 ms all at once);
 * the bytes of large files move through the asynchronous read, write and fsync.
 */

/** An open folder, read an entry at a time (node:fs's Dir). */
export interface DirLike {
  readSync(): { name: string | Buffer } | null;
  closeSync(): void;
}

/** A stat result; memfs types its numbers as `number | bigint`. */
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

type Done<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

export interface RootFs {
  openSync(path: string, flags: number | string, mode?: number): number;
  closeSync(fd: number): void;
  fstatSync(fd: number): StatsLike;
  /** With `throwIfNoEntry: false`, undefined where nothing is (no error to build). */
  lstatSync(path: string, options?: { throwIfNoEntry?: boolean }): StatsLike | undefined;
  statSync(path: string): StatsLike;
  realpathSync(path: string): string | Buffer;
  readlinkSync(path: string): string | Buffer;
  /** Without options, names only: no Dirent to build per entry (a listing lstats each name anyway). */
  readdirSync(path: string, options?: { withFileTypes: true }): ReadonlyArray<DirentLike | string | Buffer>;
  /**
   * A folder read a few names at a time, so that a listing of a huge folder never holds all
   * its names (listing.ts); a port without it has its folders read whole.
   */
  opendirSync?(path: string, options?: { bufferSize?: number }): DirLike;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  ftruncateSync(fd: number, length: number): void;
  fsyncSync(fd: number): void;
  fchmodSync(fd: number, mode: number): void;
  futimesSync(fd: number, atime: number | Date, mtime: number | Date): void;
  renameSync(oldPath: string, newPath: string): void;
  unlinkSync(path: string): void;
  mkdirSync(path: string): unknown;
  rmdirSync(path: string): void;
  symlinkSync(target: string, path: string): void;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number, done: Done<number>): void;
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number, done: Done<number>): void;
  fsync(fd: number, done: (err: NodeJS.ErrnoException | null) => void): void;
}
