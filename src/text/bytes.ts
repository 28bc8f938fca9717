/** Byte counts as people read them, for the CLI's output and the server's folder page. */

/** `512 B`, `1.50 KiB`, `12.3 MiB`, `200 GiB`: binary units, three significant digits or so. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}
