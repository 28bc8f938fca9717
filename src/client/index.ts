/** The client: connect, one method per verb, resume and retry, folder transfers. */
export { TcpsendClient, type ClientOptions } from './client.js';
export { Connection } from './connection.js';
export { connectTcp, type ConnectOptions } from './connect.js';
export { parseTarget, formatTarget, looksLikeTarget, type Target } from './target.js';
export { ReconnectingClient, isRetriable, DEFAULT_RETRIES, type RetryOptions } from './retry.js';
export { getFile, putFile, listRemote, type CallOptions } from './api.js';
export type { TransferOptions, TransferResult } from './types.js';
export type { UploadOptions } from './upload.js';
export { putTree, getTree, safeLocalPath, type TreeOptions, type TreeSummary } from './tree.js';
