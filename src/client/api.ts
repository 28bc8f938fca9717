/** One-call library functions: connect, do one thing with retries, close. */
import path from 'node:path';
import type { ListEntry } from '../protocol/index.js';
import type { ClientOptions } from './client.js';
import { ReconnectingClient, type RetryOptions } from './retry.js';
import type { Target } from './target.js';
import type { TransferOptions, TransferResult } from './types.js';
import type { UploadOptions } from './upload.js';

export type CallOptions = ClientOptions & RetryOptions;

async function withClient<T>(target: string | Target, options: CallOptions, fn: (c: ReconnectingClient) => Promise<T>): Promise<T> {
  const client = new ReconnectingClient(target, options);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Fetch a remote file; `localPath` defaults to its base name in the current folder. */
export function getFile(
  target: string | Target,
  remotePath: string,
  localPath: string = path.basename(remotePath),
  options: CallOptions & TransferOptions = {},
): Promise<TransferResult> {
  return withClient(target, options, (c) => c.run((client) => client.download(remotePath, localPath, options)));
}

/** Send a local file; `remotePath` defaults to its base name in the served root. */
export function putFile(
  target: string | Target,
  localPath: string,
  remotePath: string = path.basename(localPath),
  options: CallOptions & UploadOptions = {},
): Promise<TransferResult> {
  return withClient(target, options, (c) => c.run((client) => client.upload(localPath, remotePath, options)));
}

/** A remote folder's entries. */
export function listRemote(
  target: string | Target,
  remotePath = '/',
  options: CallOptions & { recursive?: boolean } = {},
): Promise<ListEntry[]> {
  return withClient(target, options, (c) => c.run((client) => client.list(remotePath, options)));
}
