/**
 * A request path quoted for an error message. Messages travel to the peer at the end of an
 * `ERR` line and land on terminals, so control characters are escaped and the length is capped.
 */

// C0 controls, DEL, C1 controls, and lone surrogates (which have no UTF-8 form).
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/gu;
const MAX_SHOWN = 200;

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

export function quotePath(path: string): string {
  const codePoints = Array.from(path);
  const shown =
    codePoints.length > MAX_SHOWN ? `${codePoints.slice(0, MAX_SHOWN).join('')}…` : path;
  return `'${shown.replace(UNPRINTABLE, escapeChar)}'`;
}

/** A request path quoted for a message, as the client named it ('' and leading slashes: the root is '/'). */
export function quoteRequestPath(path: string): string {
  return quotePath(path.replace(/^\/+/, '') || '/');
}
