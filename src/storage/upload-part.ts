/**
 * A partial upload: the hidden file an upload's bytes collect in until they are verified and
 * renamed onto their name. It survives a dropped connection or a crash, so a later upload of
 * the same content resumes from `size`.
 */
import { BadRangeError, InternalError } from '../errors.js';
import type { FileHandleLike } from './fs-promises.js';
import { toStorageError } from './fs-errors.js';
import { quotePath } from './quote-path.js';

export interface UploadPartInit {
  handle: FileHandleLike;
  /** Absolute path of the part file on the server. Never shown to a client. */
  partPath: string;
  /** Absolute path the part becomes on finalisation. */
  destinationPath: string;
  /** The destination as the client named it, normalised ('a/b.txt'); for messages and checks. */
  requestPath: string;
  /** Bytes already in the part when it was opened. */
  size: number;
}

export class UploadPart {
  readonly handle: FileHandleLike;
  readonly partPath: string;
  readonly destinationPath: string;
  readonly requestPath: string;
  #size: number;
  #closed = false;

  constructor(init: UploadPartInit) {
    this.handle = init.handle;
    this.partPath = init.partPath;
    this.destinationPath = init.destinationPath;
    this.requestPath = init.requestPath;
    this.#size = init.size;
  }

  /** Bytes in the part: what was there at open, plus what was written, after any truncate. */
  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Cut the part to `length` bytes (0 to start over); later writes continue from there. */
  async truncate(length: number): Promise<void> {
    this.#checkOpen();
    if (!Number.isSafeInteger(length) || length < 0 || length > this.#size) {
      throw new BadRangeError(`cannot cut a part of ${this.#size} bytes to ${length}`);
    }
    try {
      await this.handle.truncate(length);
    } catch (err) {
      throw toStorageError(err, this.requestPath);
    }
    this.#size = length;
  }

  /**
   * Append `chunk` at the end of the part. On a full disk this throws NoSpaceError, and `size`
   * counts exactly the bytes that did reach the file, which are kept for resume.
   */
  async write(chunk: Uint8Array): Promise<void> {
    this.#checkOpen();
    let offset = 0;
    while (offset < chunk.length) {
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await this.handle.write(
          chunk,
          offset,
          chunk.length - offset,
          this.#size,
        ));
      } catch (err) {
        throw toStorageError(err, this.requestPath);
      }
      if (bytesWritten <= 0) {
        throw new InternalError(
          `writing the upload of ${quotePath(this.requestPath)} made no progress`,
        );
      }
      offset += bytesWritten;
      this.#size += bytesWritten;
    }
  }

  /**
   * Count `bytes` written at the end of the part by someone else through `handle.fd` (the
   * hashing worker of a large upload), so that `size` stays true.
   */
  noteWritten(bytes: number): void {
    this.#checkOpen();
    this.#size += bytes;
  }

  /** Flush the part's data and metadata to the disk (fsync). */
  async sync(): Promise<void> {
    this.#checkOpen();
    try {
      if (this.handle.sync) await this.handle.sync();
      else await this.handle.datasync();
    } catch (err) {
      throw toStorageError(err, this.requestPath);
    }
  }

  /** Close the file, keeping the part on disk for a later resume. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.handle.close();
    } catch (err) {
      throw toStorageError(err, this.requestPath);
    }
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new InternalError(`the upload of ${quotePath(this.requestPath)} is already closed`);
    }
  }
}
