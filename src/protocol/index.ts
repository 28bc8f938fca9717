/**
 * The tcpsend wire protocol: pure parse and format of lines, no I/O. docs/protocol.md is the
 * contract this module implements.
 */

export { decodePath, decodeValue, encodePath, encodeValue } from './encoding.js';
export {
  digestKey,
  formatChecksum,
  formatDigest,
  formatMode,
  formatUint,
  namedDigest,
  optionalChecksum,
  optionalDigest,
  optionalFlag,
  optionalMode,
  optionalString,
  optionalUint,
  parseChecksumName,
  parseDigest,
  parseFlag,
  parseMode,
  parseUint,
  requireDigest,
  requireMode,
  requireString,
  requireUint,
  type Fields,
} from './fields.js';
export {
  formatFields,
  parseFields,
  splitTokens,
  type FieldValue,
  type FieldValues,
} from './tokens.js';
export { MAX_ERR_MESSAGE, quote, sanitizeMessage } from './printable.js';
export {
  VERBS,
  formatRequest,
  firstLineKind,
  parseRequest,
  selectorPath,
  type AbortRequest,
  type DataRequest,
  type DeleteRequest,
  type SymlinkRequest,
  type EndRequest,
  type FirstLineKind,
  type GetRequest,
  type HashRequest,
  type HelloRequest,
  type ListRequest,
  type MgetRequest,
  type MkdirRequest,
  type MputRequest,
  type PutRequest,
  type QuitRequest,
  type Request,
  type StatRequest,
  type Verb,
} from './request.js';
export { formatErr, formatOk, formatProgress, isProgressLine, parseResponse, type Response } from './response.js';
export {
  DEFAULT_PORT,
  GREETING_WORD,
  PROTOCOL_VERSION,
  formatGreeting,
  greetingCaps,
  greetingChecksums,
  parseGreeting,
  type Greeting,
} from './greeting.js';
export { END_OF_LIST, formatEntry, parseEntry, type ListEntry } from './entry.js';
export {
  parseFormattedGetHeader,
  parseFormattedGetTrailer,
  readGetHeader,
  readGetTrailer,
  readHashResult,
  readHelloReply,
  readPutOffer,
  formatPutResult,
  readPutResult,
  readStat,
  type GetHeader,
  type HashResult,
  type PutOffer,
  type StatInfo,
} from './replies.js';
export {
  MAX_BATCH_ITEMS,
  MAX_MPUT_ITEM_BYTES,
  formatMgetItem,
  formatMputItem,
  joinItemPath,
  parseMgetItem,
  parseMputItem,
  type MputItem,
  type ParsedMputItem,
} from './batch.js';
