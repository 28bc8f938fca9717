/**
 * SocketFile.pipeTo: exactly `count` bytes of a body moved from a SocketFile's read side to a
 * Writable, honouring its backpressure (the socket is held paused until the writable drains),
 * with the bytes the writable confirmed reported on failure.
 */
import type { Writable } from 'node:stream';
import { TransferInterruptedError, UnexpectedEofError } from '../errors.js';
import type { ChunkQueue } from './chunk-queue.js';
import type { PipeToOptions } from './socket-file.js';

/** What pipeTo uses of its SocketFile: the read side's buffer and flow control. */
export interface PipeHost {
  readonly queue: ChunkQueue;
  /** Bytes buffered from the peer before the socket is paused. */
  readonly highWaterMark: number;
  /** The stream errored or closed under us: the error to throw, else null. */
  failure(): Error | null;
  /** The peer ended the stream. */
  ended(): boolean;
  checkUsable(): void;
  afterConsume(): void;
  pauseSource(): void;
  resumeSource(): void;
  /** The writable asked us to wait (backpressure): only its 'drain' resumes the socket. */
  holdForWritable(held: boolean): void;
  /** Where incoming chunks go instead of the queue; null: the queue again. */
  setSink(sink: ((chunk: Buffer) => void) | null): void;
  /** Wake the SocketFile's waiting reader. */
  wake(): void;
  /** Wait for the next data, end or error event. */
  waitForData(wanted: number): Promise<void>;
}

/**
 * Move exactly `count` bytes from `host`'s stream to `writable` (see SocketFile.pipeTo).
 */
export async function pipeTo(host: PipeHost, writable: Writable, count: number, options: PipeToOptions = {}): Promise<number> {
  host.checkUsable();
  const { onChunk } = options;
  let moved = 0; // handed to the writable
  let written = 0; // confirmed by its write callback: what a failure reports
  let lastWrite: Promise<void> = Promise.resolve();
  let writableFailure: Error | null = null;
  let draining = false;

  const writeChunk = (chunk: Buffer): void => {
    onChunk?.(chunk);
    moved += chunk.length;
    lastWrite = new Promise<void>((resolve) => {
      const ok = writable.write(chunk, (err) => {
        if (err) writableFailure ??= err;
        else if (!writableFailure) written += chunk.length;
        resolve();
      });
      if (!ok && !draining) {
        draining = true;
        host.holdForWritable(true);
        host.pauseSource();
        writable.once('drain', () => {
          draining = false;
          host.holdForWritable(false);
          host.resumeSource();
          host.wake();
        });
      }
    });
  };

  // Listen from the first write to the last callback: a writable without a listener of its
  // own must not crash the process, and its failure is reported as ours.
  const onWritableError = (err: Error) => {
    writableFailure ??= err;
    host.wake();
  };
  writable.on('error', onWritableError);
  try {
    // Bytes already buffered go first, without copying.
    while (moved < count && host.queue.length > 0) {
      writeChunk(host.queue.takeChunk(count - moved));
    }
    host.afterConsume();

    if (moved < count) {
      host.setSink((chunk) => {
        const want = count - moved;
        if (chunk.length > want) {
          host.queue.unshift(chunk.subarray(want));
          chunk = chunk.subarray(0, want);
        }
        writeChunk(chunk);
        if (moved === count) {
          host.setSink(null);
          // A tail for the next reader sits in the queue now; keep the usual pause rule.
          if (host.queue.length >= host.highWaterMark) host.pauseSource();
        }
        host.wake();
      });
      try {
        while (moved < count) {
          if (writableFailure) break;
          if (host.failure()) throw host.failure();
          if (host.ended()) throw new UnexpectedEofError(count, moved);
          host.checkUsable();
          await host.waitForData(1);
        }
      } finally {
        host.setSink(null);
        if (draining) {
          host.holdForWritable(false);
          host.resumeSource();
        }
      }
    }
    await lastWrite;
  } finally {
    writable.off('error', onWritableError);
  }
  if (writableFailure) {
    throw new TransferInterruptedError(
      written,
      `writing failed after ${written} of ${count} bytes: ${(writableFailure as Error).message}`,
      { cause: writableFailure },
    );
  }
  return moved;
}
