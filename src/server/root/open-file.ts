/**
 * A file the Root opened: its descriptor, with positional reads for the bytes of a reply and a
 * stat for "did it change". Close it once; a second close does nothing.
 */
import type { ReadableFile } from '../../io/sendfile.js';
import type { RootFs, StatsLike } from './fs-port.js';

export class OpenFile implements ReadableFile {
  #closed = false;

  constructor(
    readonly fs: RootFs,
    readonly fd: number,
    /**
     * The descriptor as the kernel knows it, for a worker thread to read or write (the
     * hashing worker), or null when the Root runs on an injected file system.
     */
    readonly kernelFd: number | null,
  ) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => {
      this.fs.read(this.fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })));
    });
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return new Promise((resolve, reject) => {
      this.fs.write(this.fd, buffer, offset, length, position, (err, bytesWritten) => (err ? reject(err) : resolve({ bytesWritten })));
    });
  }

  /** Read exactly `length` bytes at `position` into `into`, synchronously; fewer if the file ends. */
  readSyncInto(into: Uint8Array, position: number): number {
    let got = 0;
    for (let n = 1; got < into.length && n > 0; got += n) n = this.fs.readSync(this.fd, into, got, into.length - got, position + got);
    return got;
  }

  /** fsync, on the thread pool: a large file's flush must not hold the event loop. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  stat(): StatsLike {
    return this.fs.fstatSync(this.fd);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.fs.closeSync(this.fd);
  }
}
