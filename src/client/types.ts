/** What transfers take and give back. */
import type { ChecksumName } from '../hash/index.js';

export interface TransferOptions {
  /** Replace a destination that holds different content. */
  overwrite?: boolean;
  /** Called as bytes move: bytes of the file done so far (resumed part included), and its size. */
  onProgress?: (done: number, total: number) => void;
  /** Called once the size is known and the transfer starts. */
  onStart?: (info: { size: number; resumedFrom: number }) => void;
  /**
   * Called while a partial file already held is checked before a resume (its bytes hashed):
   * bytes checked so far, and the part's size. Can take a while for a large part.
   */
  onCheck?: (done: number, total: number) => void;
  /** Things a person should hear about (a partial file discarded, a retry). */
  onNotice?: (message: string) => void;
}

export interface TransferResult {
  /** The destination (a local path for get, a remote path for put). */
  path: string;
  size: number;
  /** Bytes that crossed the network this time. */
  bytes: number;
  /** The checksum algorithm the two ends agreed on. */
  checksum: ChecksumName;
  /** The whole file's digest in that algorithm (hex), verified on both ends. */
  digest: string;
  /** Where this transfer resumed (0 for a fresh one). */
  resumedFrom: number;
  /** The destination already held this exact content: nothing was sent. */
  skipped: boolean;
  seconds: number;
}
