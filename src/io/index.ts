/** SocketFile and its parts: a buffered reader/writer over any Duplex (chunk queue, line and byte reads, writes, sendfile). */
export { ChunkQueue } from './chunk-queue.js';
export { SlabPool } from './slab-pool.js';
export {
  SocketFile,
  DirectReads,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_READ_HIGH_WATER_MARK,
  type SocketFileOptions,
  type ReadLineOptions,
  type PipeToOptions,
  type ReceiveTarget,
} from './socket-file.js';
export {
  sendFileRange,
  DEFAULT_SENDFILE_CHUNK,
  type FileSource,
  type ReadableFile,
  type SendfileOptions,
} from './sendfile.js';
