export { TcpsendServer, serve, type ListenOptions } from './server.js';
export { DEFAULT_SERVER_OPTIONS, type ServerOptions } from './options.js';
export type { RequestLogEntry } from './session.js';
