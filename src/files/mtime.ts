/**
 * Modification times on the wire are whole milliseconds ("mtime = uint ; milliseconds since the
 * Unix epoch"); file systems keep more (nanoseconds) or less (2 s on FAT). These two functions
 * are the one way in and out, so a time written and read back is the time that was sent.
 */

/** A stat's `mtimeMs` as whole milliseconds: floored, as `Math.trunc` is for times after 1970. */
export function wholeMilliseconds(mtimeMs: number): number {
  return Math.floor(mtimeMs);
}

/**
 * The value to give `utimes` (seconds) for an mtime of `mtimeMs`. Seconds travel as a double
 * and libuv truncates them to nanoseconds, so 1700000000.123 s lands as …122.999906 ms and
 * would read back a millisecond early. A quarter of a millisecond more lands well inside the
 * intended millisecond, whether the reader floors, truncates or rounds.
 */
export function utimesSeconds(mtimeMs: number): number {
  return (mtimeMs + 0.25) / 1000;
}
