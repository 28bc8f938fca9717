/**
 * `npm ci` refuses a lock file that lacks an entry for any optional dependency of a locked
 * package ("Missing: @napi-rs/blake-hash-darwin-x64@ from lock file"), even one for another
 * platform that would never be installed here. A lock written by `npm install` on a machine
 * whose registry lacks those packages leaves them out, and the README's `npm ci` then fails on a
 * fresh clone. This is the same check, without a network.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');

interface LockedPackage {
  version?: string;
  optionalDependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
}

describe('package-lock.json', () => {
  it('holds an entry for every optional dependency of every locked package (npm ci needs them all)', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
    const missing: string[] = [];
    for (const [where, pkg] of Object.entries(lock.packages)) {
      for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
        // npm looks the dependency up beside the package first, then up the tree.
        let dir = where;
        let found = false;
        for (;;) {
          const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
          if (lock.packages[key]) {
            found = true;
            break;
          }
          if (dir === '') break;
          const up = dir.lastIndexOf('/node_modules/');
          dir = up === -1 ? '' : dir.slice(0, up);
        }
        if (!found) missing.push(`${name} (optional dependency of ${where || 'tcpsend'})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a platform-only entry says which platform it is for, so npm ci skips it elsewhere', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
    const blake = Object.entries(lock.packages).filter(([k]) => k.startsWith('node_modules/@napi-rs/blake-hash-'));
    expect(blake.length).toBeGreaterThan(1);
    for (const [key, pkg] of blake) {
      expect(pkg.os?.length, key).toBe(1);
      expect(pkg.cpu?.length, key).toBe(1);
    }
  });
});
