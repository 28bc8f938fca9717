/** Names in UTF-8 byte order: how listings and local walks order the names of a folder. */

/**
 * Order by UTF-8 bytes (the same on every platform and locale) without encoding: UTF-8 byte
 * order is code point order, which differs from UTF-16 code unit order only where a
 * surrogate meets a unit in U+E000..U+FFFF.
 */
export function byUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    return codePointKey(x) - codePointKey(y);
  }
  return a.length - b.length;
}

function codePointKey(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
