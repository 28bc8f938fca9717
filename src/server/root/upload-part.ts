/**
 * A partial upload: the hidden file an upload's bytes collect in until they are verified and
 * renamed onto their name. It survives a dropped connection or a crash, so a later upload of
 * the same content resumes from `size`. It holds its folder (see folders.ts) until it is
 * committed or closed, so the rename lands in the folder the part was made in.
 */
import { BadRangeError, InternalError } from '../../errors.js';
import { quotePath } from '../../files/quote-path.js';
import { toStorageError } from './fs-errors.js';
import type { Folder, FolderScope } from './folders.js';
import type { OpenFile } from './open-file.js';

export interface UploadPartInit {
  file: OpenFile;
  folder: Folder;
  /** The scope holding `folder`; closed with the part. */
  scope: FolderScope;
  /** The destination's name in `folder`, and the part's. */
  name: string;
  partName: string;
  /** The destination as the client named it, normalised ('a/b.txt'); for messages and checks. */
  requestPath: string;
  /** Bytes already in the part when it was opened. */
  size: number;
}

export class UploadPart {
  readonly file: OpenFile;
  readonly folder: Folder;
  readonly scope: FolderScope;
  readonly name: string;
  readonly partName: string;
  readonly requestPath: string;
  #size: number;

  constructor(init: UploadPartInit) {
    this.file = init.file;
    this.folder = init.folder;
    this.scope = init.scope;
    this.name = init.name;
    this.partName = init.partName;
    this.requestPath = init.requestPath;
    this.#size = init.size;
  }

  /** Bytes in the part: what was there at open, plus what was written, after any truncate. */
  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.file.closed;
  }

  /** Cut the part to `length` bytes (0 to start over); later writes continue from there. */
  truncate(length: number): void {
    this.#checkOpen();
    if (!Number.isSafeInteger(length) || length < 0 || length > this.#size) {
      throw new BadRangeError(`cannot cut a part of ${this.#size} bytes to ${length}`);
    }
    try {
      this.file.fs.ftruncateSync(this.file.fd, length);
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
        ({ bytesWritten } = await this.file.write(chunk, offset, chunk.length - offset, this.#size));
      } catch (err) {
        throw toStorageError(err, this.requestPath);
      }
      if (bytesWritten <= 0) {
        throw new InternalError(`writing the upload of ${quotePath(this.requestPath)} made no progress`);
      }
      offset += bytesWritten;
      this.#size += bytesWritten;
    }
  }

  /**
   * Count `bytes` written at the end of the part by someone else through its descriptor (the
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
      await this.file.sync();
    } catch (err) {
      throw toStorageError(err, this.requestPath);
    }
  }

  /** Close the file and release its folder, keeping the part on disk for a later resume. Safe to call twice. */
  close(): void {
    try {
      this.file.close();
    } catch (err) {
      throw toStorageError(err, this.requestPath);
    } finally {
      this.scope.close();
    }
  }

  #checkOpen(): void {
    if (this.file.closed) {
      throw new InternalError(`the upload of ${quotePath(this.requestPath)} is already closed`);
    }
  }
}
