/**
 * Percent-encoding of paths and field values on the wire (docs/protocol.md, "Paths").
 *
 * Encoding works on UTF-8 bytes, decoding gives them back; neither judges what a path means
 * (`..`, control characters, drive letters): that is the served root's job (src/server/root).
 */

import { BadPathError, BadRequestError, TcpsendError, UsageError } from '../errors.js';

// "every byte outside `A-Z a-z 0-9 - . _ ~ / !$&'()*+,;:@` is written as `%XX` (upper-case hex)"
const UNRESERVED = /^[A-Za-z0-9\-._~/!$&'()*+,;:@]$/;
const ALLOWED_BYTE: readonly boolean[] = Array.from({ length: 256 }, (_, byte) =>
  UNRESERVED.test(String.fromCharCode(byte)),
);

const HEX = '0123456789ABCDEF';

/** In a `u` regex a surrogate pair is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /\p{Cs}/u;

const utf8Encoder = new TextEncoder();
// `ignoreBOM` keeps a leading U+FEFF: without it the decoder would silently drop it.
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why a token could not be decoded; the caller picks the error class. */
type DecodeFailure = (reason: string) => TcpsendError;

/** Text that percent-encoding leaves as it is (most paths, every hash and number): no work to do. */
const NOTHING_TO_ENCODE = /^[A-Za-z0-9\-._~/!$&'()*+,;:@]*$/;

/**
 * `text` percent-encoded; `loneSurrogate` makes the error for text with a lone UTF-16
 * surrogate (it has no UTF-8 form), which the fast path cannot hold (it is ASCII).
 */
function percentEncode(text: string, loneSurrogate: () => TcpsendError): string {
  if (NOTHING_TO_ENCODE.test(text)) return text;
  if (LONE_SURROGATE.test(text)) throw loneSurrogate();
  let out = '';
  for (const byte of utf8Encoder.encode(text)) {
    out += ALLOWED_BYTE[byte]
      ? String.fromCharCode(byte)
      : `%${HEX[byte >> 4] ?? ''}${HEX[byte & 0x0f] ?? ''}`;
  }
  return out;
}

function hexDigitValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10; // A-F
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10; // a-f (lenient: we only send A-F)
  return -1;
}

/**
 * Turns a wire token back into text. `%XX` gives one byte; a raw ASCII character gives its
 * byte; a raw non-ASCII character gives its UTF-8 bytes ("A receiver also accepts raw non-ASCII
 * UTF-8 (handy with `nc`)"). The bytes must then be valid UTF-8.
 */
export function percentDecode(token: string, fail: DecodeFailure): string {
  if (!token.includes('%')) {
    // Fast path: nothing escaped; the text came off the wire as UTF-8 already.
    if (LONE_SURROGATE.test(token)) throw fail('is not valid UTF-8');
    return token;
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code === 0x25 /* % */) {
      // "A `%` not followed by two hex digits ... [is] `ERR BAD_PATH`."
      const high = hexDigitValue(token.charCodeAt(i + 1));
      const low = hexDigitValue(token.charCodeAt(i + 2));
      if (high < 0 || low < 0) {
        throw fail(`has a bad percent escape '${token.slice(i, i + 3)}'`);
      }
      bytes.push(high * 16 + low);
      i += 2;
    } else if (code < 0x80) {
      bytes.push(code);
    } else {
      const codePoint = token.codePointAt(i) ?? code;
      const char = String.fromCodePoint(codePoint);
      if (LONE_SURROGATE.test(char)) throw fail('is not valid UTF-8');
      bytes.push(...utf8Encoder.encode(char));
      i += char.length - 1;
    }
  }
  try {
    // "bytes that are not valid UTF-8 (overlong forms included), are `ERR BAD_PATH`": the
    // WHATWG decoder in fatal mode rejects overlong forms, surrogates and code points > U+10FFFF.
    return strictUtf8Decoder.decode(new Uint8Array(bytes));
  } catch {
    throw fail('is not valid UTF-8 once decoded');
  }
}

/**
 * Percent-encodes a path for the wire. A leading `/` is kept as it is; nothing is added or
 * removed. Throws BadPathError if the text holds a lone surrogate (it has no UTF-8 form).
 */
export function encodePath(path: string): string {
  return percentEncode(path, () => new BadPathError('path holds a lone UTF-16 surrogate and has no UTF-8 form'));
}

/** Decodes a path token (`%XX` escapes and raw UTF-8). Bad escapes and bad UTF-8: BadPathError. */
export function decodePath(token: string): string {
  // "path = 1*pchar"
  if (token === '') throw new BadPathError('empty path');
  return percentDecode(token, (reason) => new BadPathError(`path ${reason}`));
}

/** Percent-encodes a field value; it may be empty. Lone surrogates: UsageError. */
export function encodeValue(value: string): string {
  return percentEncode(value, () => new UsageError('field value holds a lone UTF-16 surrogate and has no UTF-8 form'));
}

/** Decodes a field value ("value = *pchar ; percent-encoded like a path"): BadRequestError. */
export function decodeValue(token: string): string {
  return percentDecode(token, (reason) => new BadRequestError(`field value ${reason}`));
}
