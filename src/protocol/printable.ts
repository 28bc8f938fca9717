/**
 * Making peer-supplied text safe to show: in our error messages, on a terminal, and inside an
 * `ERR` line, where a CR or LF would break the framing.
 */

// C0 controls, DEL, C1 controls; and lone surrogates (no UTF-8 form).
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/gu;

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
  if (char === '\n') return '\\n';
  if (char === '\r') return '\\r';
  if (char === '\t') return '\\t';
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Cuts `text` to at most `max` code points (never halving a surrogate pair), marking the cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const codePoints = Array.from(text);
  return codePoints.length <= max ? text : `${codePoints.slice(0, max).join('')}…`;
}

/** A token from the peer, quoted for an error message: control bytes escaped, length capped. */
export function quote(text: string, max = 64): string {
  return `'${truncate(text, max).replace(UNPRINTABLE, escapeChar)}'`;
}

/**
 * Bidirectional overrides and isolates: they reorder how a terminal shows the text around
 * them (a name could display as something it is not, CVE-2021-42574).
 */
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu;

/**
 * Text for a terminal: every control character (ESC, CR, LF, BEL, the C1 controls), DEL, bidi
 * controls and lone surrogates escaped (`\x1b`, `\n`, `\u202e`), so that nothing a peer
 * sends can move the cursor, clear the screen, set the title, reach the clipboard (OSC 52) or
 * forge a line. The CLI passes every line it prints through this, once, where it writes.
 */
export function forTerminal(text: string): string {
  return text.replace(TERMINAL_UNSAFE, escapeChar);
}

/** Longest `ERR` message we send, in code points (well inside the 8192-byte line limit). */
export const MAX_ERR_MESSAGE = 1000;

/**
 * Free text for the end of an `ERR` line: CR, LF and tab become spaces, other control
 * characters are escaped as `\xNN`, and the text is capped at MAX_ERR_MESSAGE code points.
 */
export function sanitizeMessage(text: string): string {
  return truncate(text, MAX_ERR_MESSAGE).replace(UNPRINTABLE, (char) =>
    char === '\r' || char === '\n' || char === '\t' ? ' ' : escapeChar(char),
  );
}
