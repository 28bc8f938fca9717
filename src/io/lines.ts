/**
 * Line framing over the bytes a SocketFile holds (a ChunkQueue): a line ends in LF or CRLF and
 * holds at most `maxLength` bytes before its terminator (the limit checked as CPython does, by
 * looking at max + 2 bytes). Pure functions: the SocketFile takes the bytes they measure, and
 * makes itself unusable when they say TOO_LONG.
 */
import type { ChunkQueue } from './chunk-queue.js';

export const LF = 0x0a;
export const CR = 0x0d;
/** A line past its limit: the stream has lost its place. */
export const TOO_LONG = 'too long';

/** The first whole line buffered: its bytes with their terminator (`whole`) and without (`content`); undefined if none is whole yet. */
export function firstLine(queue: ChunkQueue, maxLength: number): { whole: number; content: number } | undefined | typeof TOO_LONG {
  const at = queue.indexOf(LF, maxLength + 2);
  if (at === -1) return undefined;
  const content = at > 0 && queue.byteAt(at - 1) === CR ? at - 1 : at;
  return content > maxLength ? TOO_LONG : { whole: at + 1, content };
}

/**
 * Whether the bytes buffered, which hold no LF yet, are already too long for a line: past
 * `maxLength` bytes only a CR right at `maxLength` (the start of a CRLF) can still end one that
 * fits, so a reader says so at once rather than wait for bytes the peer may never send.
 */
export function tooLongAlready(queue: ChunkQueue, maxLength: number): boolean {
  return queue.length >= maxLength + 2 || (queue.length > maxLength && queue.byteAt(maxLength) !== CR);
}

/**
 * The whole lines in `chunk` (which holds a LF), decoded as one piece, up to and including the
 * first that is `last`: the lines, without terminators, and the bytes they took.
 */
export function linesOf(chunk: Buffer, last: string, maxLength: number): { lines: string[]; took: number } | typeof TOO_LONG {
  const end = chunk.lastIndexOf(LF);
  // A LF is never inside a multi-byte character: the text decodes alone.
  const text = chunk.toString('utf8', 0, end + 1);
  const lines = text.split('\n');
  lines.length -= 1; // what follows the last LF
  let took = end + 1;
  let chars = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // A UTF-16 unit is 1 to 3 bytes of UTF-8: only a long line needs counting.
    if (line.length > maxLength || (line.length * 3 > maxLength && Buffer.byteLength(line) > maxLength)) return TOO_LONG;
    lines[i] = line;
    chars += raw.length + 1;
    if (line === last) {
      lines.length = i + 1;
      if (chars < text.length) took = Buffer.byteLength(text.slice(0, chars));
      break;
    }
  }
  return { lines, took };
}
