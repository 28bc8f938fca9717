/**
 * The server: listen and limits (server.ts), the connection loop (session.ts), one thin handler
 * per verb (handlers/), the upload pipeline (upload.ts), replies (reply.ts), and the served
 * folder itself (root/).
 */
export { TcpsendServer, serve, type ListenOptions } from './server.js';
export { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './options.js';
export type { RequestLogEntry } from './session.js';
