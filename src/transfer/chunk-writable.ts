/**
 * A Writable that hands each chunk to an async `write` function, so SocketFile.pipeTo can
 * stream a body into a file handle or an upload part with backpressure. Chunks that queue up
 * while a write is in flight go down together in one write.
 *
 * (FileHandle.createWriteStream would do, but with autoClose off it keeps the handle
 * referenced and a later close() never resolves.)
 */
import { Writable } from 'node:stream';

export function chunkWritable(write: (chunk: Buffer) => Promise<void>): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      write(chunk).then(() => callback(), callback);
    },
    writev(chunks, callback) {
      const joined = Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer));
      write(joined).then(() => callback(), callback);
    },
  });
}

/** A file with positional writes: a FileHandle, or the OpenFile of a part. */
export interface PositionalWrites {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
}

/** Positional writes into `handle` from `start` on. */
export function fileWritable(handle: PositionalWrites, start: number): Writable {
  let position = start;
  return chunkWritable(async (chunk) => {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position);
      done += bytesWritten;
      position += bytesWritten;
    }
  });
}
