/**
 * Secrets people can carry: a generated passphrase of common words that reads well aloud, and
 * a rough judgement of a secret a person chose.
 *
 * The words are BIP-39's English list (2,048 common words, no two sharing their first four
 * letters, so a word heard or half-typed is still unambiguous), taken from a well-kept package
 * rather than copied in. Five words drawn uniformly give 55 bits. Against someone who recorded
 * a handshake, every guess costs one scrypt (psk.ts): docs/security.md works out what that buys.
 */
import { randomInt } from 'node:crypto';
import { wordlist } from '@scure/bip39/wordlists/english.js';

export const PASSPHRASE_WORDS = 5;
export const BITS_PER_WORD = Math.log2(wordlist.length); // 11

/** A secret shorter than this is refused by `serve` and warned about by clients. */
export const MIN_SECRET_LENGTH = 8;
/** Below this estimate a secret is called weak (four common words: 44 bits). */
export const WEAK_BELOW_BITS = 44;

/** `PASSPHRASE_WORDS` words from the list, each drawn with a uniform CSPRNG, joined by '-'. */
export function generatePassphrase(words = PASSPHRASE_WORDS): string {
  return Array.from({ length: words }, () => wordlist[randomInt(wordlist.length)]!).join('-');
}

/**
 * A generous upper bound on the bits a guesser must cover for `secret`. A phrase of words counts
 * 11 bits a word (a common-word vocabulary), whatever its length in letters. Anything else is cut
 * into runs, the way people build passwords ("Summer" "2024" "!"): a run of letters counts at
 * most as one word of a large dictionary (15 bits, one more if its case is mixed), a digit 3.3
 * bits, any other character 5. People pick from far fewer choices than this assumes, so a
 * secret under the bar is surely weak; one above it is only not obviously so.
 */
export function estimateBits(secret: string): number {
  const words = secret.split(/[\s\-_.,]+/).filter((w) => w !== '');
  if (words.length >= 2 && words.every((w) => /^\p{L}+$/u.test(w))) return words.length * BITS_PER_WORD;
  let bits = 0;
  for (const [run] of secret.matchAll(/\p{L}+|\p{N}+|[^\p{L}\p{N}]+/gu)) {
    const length = [...run].length;
    if (/^\p{L}/u.test(run)) bits += Math.min(length * Math.log2(26), 15) + (run !== run.toLowerCase() && run !== run.toUpperCase() ? 1 : 0);
    else if (/^\p{N}/u.test(run)) bits += length * Math.log2(10);
    else bits += length * 5;
  }
  return bits;
}

export interface Weakness {
  /** 'short': under MIN_SECRET_LENGTH, refused by serve; 'weak': under WEAK_BELOW_BITS, warned. */
  kind: 'short' | 'weak';
  message: string;
}

/** Why `secret` is too weak to protect a server, or null when it is not obviously weak. */
export function secretWeakness(secret: string): Weakness | null {
  const length = [...secret].length;
  if (length < MIN_SECRET_LENGTH) {
    return {
      kind: 'short',
      message: `a secret of ${length} character${length === 1 ? '' : 's'} is too short to protect anything (at least ${MIN_SECRET_LENGTH})`,
    };
  }
  const bits = estimateBits(secret);
  if (bits < WEAK_BELOW_BITS) {
    return {
      kind: 'weak',
      message: `this secret is weak (about ${Math.round(bits)} bits at best: anyone who records one handshake can test guesses offline); use four or more random words, or let 'serve --secret' make one`,
    };
  }
  return null;
}
