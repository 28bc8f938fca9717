/**
 * Checking a path relative to a served root.
 *
 * Pure: no I/O. The server runs every request path through `toSegments` before it touches
 * the disk, and the client runs every name a server sends it through the same checks before
 * it writes locally, so a hostile server cannot make a client write outside its target folder
 * or create names another operating system would read differently.
 */
import { BadPathError } from '../errors.js';
import { quotePath } from './quote-path.js';

/** Longest request path, in UTF-8 bytes (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest single name, in UTF-8 bytes (NAME_MAX on every common file system). */
export const MAX_NAME_BYTES = 255;

// "The server then refuses, with `ERR BAD_PATH`, any path that after decoding has a `..`
// segment, a backslash, a NUL or other control character, or a drive letter."
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /\p{Cs}/u;
const DRIVE_LETTER = /^[A-Za-z]:/;

// CON, PRN, AUX, NUL, COM0-9, LPT0-9 (and the superscript digits Windows also treats as
// digits), CONIN$, CONOUT$: Windows opens the device whatever the extension and ignores
// spaces before it, so `nul.txt` and `CON .log` are the device too.
const WINDOWS_DEVICE =
  /^(?:CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3]|CONIN\$|CONOUT\$) *(?:\..*)?$/i;

// Characters that some systems fold into '.', '/' or '\' (Unicode compatibility mappings,
// Windows "best fit" code page conversion), which would turn a harmless name into a
// traversal after our checks have passed.
const LOOKALIKES = new Map<string, string>([
  ['\u2024', 'ONE DOT LEADER'],
  ['\u2025', 'TWO DOT LEADER'],
  ['\ufe52', 'SMALL FULL STOP'],
  ['\uff0e', 'FULLWIDTH FULL STOP'],
  ['\uff0f', 'FULLWIDTH SOLIDUS'],
  ['\uff3c', 'FULLWIDTH REVERSE SOLIDUS'],
  ['\ufe68', 'SMALL REVERSE SOLIDUS'],
  ['\u2215', 'DIVISION SLASH'],
  ['\u2044', 'FRACTION SLASH'],
  ['\u29f8', 'BIG SOLIDUS'],
  ['\u29f9', 'BIG REVERSE SOLIDUS'],
]);

function codePointLabel(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function checkCharacters(path: string): void {
  if (path.includes('\0')) throw new BadPathError(`path ${quotePath(path)} holds a NUL byte`);
  const control = CONTROL_CHAR.exec(path);
  if (control) {
    throw new BadPathError(
      `path ${quotePath(path)} holds the control character ${codePointLabel(control[0])}`,
    );
  }
  if (path.includes('\\')) throw new BadPathError(`path ${quotePath(path)} holds a backslash`);
  if (LONE_SURROGATE.test(path)) {
    throw new BadPathError(`path ${quotePath(path)} is not valid Unicode (lone surrogate)`);
  }
  for (const [char, label] of LOOKALIKES) {
    if (path.includes(char)) {
      throw new BadPathError(
        `path ${quotePath(path)} holds ${codePointLabel(char)} ${label}, ` +
          `which some systems read as '.', '/' or '\\'`,
      );
    }
  }
}

/**
 * Letters, digits, '.', '_', '-' and '/' only: no control character, backslash, surrogate,
 * look-alike, drive letter or space can be there, and every name is in NFC. In such a path
 * (most of them: a listing checks every name) a name can fail checkName only by being '..',
 * ending in a dot, being too long or naming a device.
 */
const PLAIN_PATH = /^[A-Za-z0-9._\-/]*$/;

function checkName(name: string, path: string): void {
  if (name === '..') throw new BadPathError(`path ${quotePath(path)} has a '..' segment`);
  if (DRIVE_LETTER.test(name)) {
    throw new BadPathError(`path ${quotePath(path)} starts a name with a drive letter`);
  }
  if (WINDOWS_DEVICE.test(name)) {
    throw new BadPathError(
      `name ${quotePath(name)} in ${quotePath(path)} is a reserved device name on Windows`,
    );
  }
  if (name.endsWith('.') || name.endsWith(' ')) {
    throw new BadPathError(
      `name ${quotePath(name)} in ${quotePath(path)} ends in a dot or a space, which Windows drops`,
    );
  }
  if (name.normalize('NFC') !== name) {
    throw new BadPathError(
      `name ${quotePath(name)} in ${quotePath(path)} is not in Unicode normalization form C`,
    );
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new BadPathError(
      `name ${quotePath(name)} is longer than ${MAX_NAME_BYTES} bytes in UTF-8`,
    );
  }
}

/**
 * The segments of `path`, a percent-decoded path relative to a root ('' and '/' are the root
 * itself, a leading '/' means the same as none). Repeated '/' and '.' segments are dropped.
 * Throws BadPathError for anything that could leave the root or be read differently by
 * another system; every segment returned is a plain, portable name.
 */
export function toSegments(path: string): string[] {
  const plain = PLAIN_PATH.test(path) && path.length <= MAX_PATH_BYTES;
  if (!plain) {
    if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) {
      throw new BadPathError(`path is longer than ${MAX_PATH_BYTES} bytes in UTF-8`);
    }
    checkCharacters(path);
  }
  if (path.startsWith('//')) {
    throw new BadPathError(`path ${quotePath(path)} starts with '//' (a network share on Windows)`);
  }
  const segments: string[] = [];
  for (const name of path.split('/')) {
    if (name === '' || name === '.') continue;
    if (!plain || name.endsWith('.') || name.length > MAX_NAME_BYTES || WINDOWS_DEVICE.test(name)) checkName(name, path);
    segments.push(name);
  }
  return segments;
}
