/**
 * The checksum algorithms this process can compute: SHA-256 from node:crypto always, BLAKE3
 * from the native `@napi-rs/blake-hash` when its binary loads. It ships prebuilt binaries for
 * the common platforms in optional packages (no install step downloads anything); where none
 * loads (an unlisted platform, a single executable without node_modules) BLAKE3 is simply
 * not offered, and `checksumUnavailable('blake3')` says why for --verbose.
 */
import { createHash, type Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { CHECKSUM_NAMES, type ChecksumName } from './names.js';

/** A running hash. `digest` ends it; `peek` gives the digest so far and lets it go on. */
export interface Hasher {
  update(data: Uint8Array): this;
  /** Lower-case hex of everything hashed; the hasher is not to be used after. */
  digest(): string;
  /** Lower-case hex of everything hashed so far; more may be added after. */
  peek(): string;
}

export interface ChecksumAlgorithm {
  readonly name: ChecksumName;
  create(): Hasher;
  /** The digest of one buffer. */
  digestOf(data: Uint8Array): string;
}

class Sha256Hasher implements Hasher {
  readonly #hash: Hash = createHash('sha256');
  update(data: Uint8Array): this {
    this.#hash.update(data);
    return this;
  }
  digest(): string {
    return this.#hash.digest('hex');
  }
  peek(): string {
    return this.#hash.copy().digest('hex');
  }
}

const SHA256: ChecksumAlgorithm = {
  name: 'sha256',
  create: () => new Sha256Hasher(),
  digestOf: (data) => createHash('sha256').update(data).digest('hex'),
};

interface NativeBlake3Hasher {
  reset(): void;
  update(input: Uint8Array): unknown;
  digest(format: 'hex'): string;
}

interface Blake3Native {
  Blake3Hasher: new () => NativeBlake3Hasher;
  blake3(input: Uint8Array): Buffer;
}

class Blake3Hasher implements Hasher {
  constructor(readonly native: NativeBlake3Hasher) {}
  update(data: Uint8Array): this {
    this.native.update(data);
    return this;
  }
  // BLAKE3's finalisation does not consume the hasher: digest and peek are the same call.
  digest(): string {
    return this.native.digest('hex');
  }
  peek(): string {
    return this.native.digest('hex');
  }
}

/** Where the native module is, for the hash worker's thread to load it too. */
export let blake3ModulePath: string | null = null;
let blake3LoadError: Error | null = null;

function loadBlake3(): ChecksumAlgorithm | null {
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve('@napi-rs/blake-hash');
    const native = require(path) as Blake3Native;
    blake3ModulePath = path;
    // One buffer's digest through one hasher, reset each time: a third less than blake3(),
    // which makes a Buffer for the digest (this is per small file, on both ends).
    const oneShot = new native.Blake3Hasher();
    return {
      name: 'blake3',
      create: () => new Blake3Hasher(new native.Blake3Hasher()),
      digestOf: (data) => {
        oneShot.reset();
        oneShot.update(data);
        return oneShot.digest('hex');
      },
    };
  } catch (err) {
    blake3LoadError = err as Error;
    return null;
  }
}

const BLAKE3 = loadBlake3();

const AVAILABLE = new Map<ChecksumName, ChecksumAlgorithm>(
  [BLAKE3, SHA256].filter((a): a is ChecksumAlgorithm => a !== null).map((a) => [a.name, a]),
);

/** The names this process can compute, best first. */
export function availableChecksums(): ChecksumName[] {
  return CHECKSUM_NAMES.filter((name) => AVAILABLE.has(name));
}

/** Why `name` cannot be computed here, or null if it can. */
export function checksumUnavailable(name: ChecksumName): string | null {
  if (AVAILABLE.has(name)) return null;
  return `the native BLAKE3 module did not load (${blake3LoadError?.message.split('\n')[0] ?? 'unknown reason'})`;
}

/** The algorithm named `name`; a name this process cannot compute is a programming error here. */
export function checksumAlgorithm(name: ChecksumName): ChecksumAlgorithm {
  const algorithm = AVAILABLE.get(name);
  if (!algorithm) throw new Error(`checksum ${name} is not available: ${checksumUnavailable(name)}`);
  return algorithm;
}

export function createHasher(name: ChecksumName): Hasher {
  return checksumAlgorithm(name).create();
}
