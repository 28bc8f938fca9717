import { describe, expect, it } from 'vitest';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { estimateBits, generatePassphrase, secretWeakness } from '../../src/transport/passphrase.js';

describe('generatePassphrase', () => {
  it('is five common words joined by hyphens, different each time', () => {
    const words = new Set(wordlist);
    const made = Array.from({ length: 50 }, () => generatePassphrase());
    for (const p of made) {
      const parts = p.split('-');
      expect(parts).toHaveLength(5);
      for (const w of parts) expect(words.has(w)).toBe(true);
      expect(secretWeakness(p)).toBeNull();
    }
    expect(new Set(made).size).toBe(50);
    expect(wordlist).toHaveLength(2048);
  });
});

describe('secretWeakness', () => {
  it.each([
    ['x', 'short'],
    ['hunter2', 'short'],
    ['password123', 'weak'],
    ['Summer2024!', 'weak'],
    ['aaaaaaaaaaaaaaaaaaaaaaaa', 'weak'],
    ['not the secret', 'weak'],
  ])('%j is %s', (secret, kind) => {
    expect(secretWeakness(secret)?.kind).toBe(kind);
  });

  it.each(['correct horse battery staple', 'orbit-velvet-candle-harbor-mint', 'GK9DBY57F3gBXrWViehZ5UUR3zzBBibtQEtyhIr5Fe0'])(
    '%j passes',
    (secret) => expect(secretWeakness(secret)).toBeNull(),
  );

  it('counts a phrase by its words, not its letters', () => {
    expect(estimateBits('carry wish joy')).toBe(33);
    expect(estimateBits('carry-wish-joy-cabin-syrup')).toBe(55);
  });
});
