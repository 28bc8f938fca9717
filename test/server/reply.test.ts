/** The small-file reply builder (src/server/reply.ts), over memfs with faults injected. */
import { memfs } from 'memfs';
import { describe, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/context.js';
import { layOutSmallFile } from '../../src/server/reply.js';
import { HashCache, Root, type FolderScope, type RootFs } from '../../src/server/root/index.js';
import { wrapFs } from '../helpers/fs-wrap.js';

type Vol = ReturnType<typeof memfs>['fs'];

async function setUp(
  files: Record<string, string | null> = {},
  overrides: (vol: Vol) => Partial<RootFs> = () => ({}),
): Promise<{ root: Root; vol: Vol; folders: FolderScope }> {
  const { fs: vol } = memfs({ '/srv/data': null, ...files });
  const root = await Root.open('/srv/data', { fs: wrapFs(overrides(vol), vol as unknown as RootFs) });
  return { root, vol, folders: root.newScope() };
}

/** A small file's whole GET answer, as the server lays it out. */
function readWhole(root: Root, folders: FolderScope, path: string, range?: { offset: number; length: number; prefixSha256: string | null }): Buffer {
  const opened = root.openRead(path, folders);
  try {
    let out = Buffer.alloc(0);
    const ctx = { hashCache: new HashCache() } as unknown as ServerContext;
    const used = layOutSmallFile(ctx, path, opened, range
      ? { offset: range.offset, length: range.length, checksum: 'sha256', prefixDigest: range.prefixSha256 }
      : { offset: 0, length: opened.info.size, checksum: 'sha256', prefixDigest: null }, (bytes) => {
      out = Buffer.alloc(bytes);
      return { buffer: out, at: 0 };
    });
    return out.subarray(0, used);
  } finally {
    opened.file.close();
  }
}

describe('openRead in a scope, and a small file read whole', () => {
  it('reads a file whole, and names what is missing or a folder', async () => {
    const { root, folders } = await setUp({ '/srv/data/s/a.txt': 'hello', '/srv/data/s/d': null });
    const { file, info } = root.openRead('s/a.txt', folders);
    try {
      expect(info).toMatchObject({ type: 'file', size: 5 });
      const body = Buffer.alloc(5);
      expect(file.readSyncInto(body, 0)).toBe(5);
      expect(body.toString()).toBe('hello');
    } finally {
      file.close();
    }
    expect(readWhole(root, folders, 's/a.txt').toString('latin1')).toMatch(/^OK size=5 offset=0 length=5 mtime=\d+ mode=\d+\r\nhelloOK sha256=[0-9a-f]{64}\r\n$/);
    expect(() => root.openRead('s/missing.txt', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_NOT_FOUND' }));
    expect(() => root.openRead('s/d', folders)).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_IS_DIRECTORY' }));
  });

  it('a file that grows while it is read is CHANGED, not a mix of two versions', async () => {
    let grown = false;
    const { root, folders } = await setUp({ '/srv/data/g.txt': 'abc' }, (vol) => ({
      readSync: (fd, buffer, offset, length, position) => {
        if (!grown) {
          grown = true;
          vol.appendFileSync('/srv/data/g.txt', 'more');
        }
        return vol.readSync(fd, buffer, offset, length, position);
      },
    }));
    expect(() => readWhole(root, folders, 'g.txt')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_CHANGED' }));
  });
});

describe('a range of a small file', () => {
  it('answers the range with the whole file\'s SHA-256, after checking the prefix it resumes', async () => {
    const { root, folders } = await setUp({ '/srv/data/r.txt': 'hello world' });
    const { createHash } = await import('node:crypto');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const answer = readWhole(root, folders, 'r.txt', { offset: 6, length: 5, prefixSha256: sha('hello ') }).toString('latin1');
    expect(answer).toBe(`${answer.split('\r\n')[0]}\r\nworldOK sha256=${sha('hello world')}\r\n`);
    expect(answer).toMatch(/^OK size=11 offset=6 length=5 /);
    expect(() => readWhole(root, folders, 'r.txt', { offset: 6, length: 5, prefixSha256: sha('HELLO ') })).toThrow(
      expect.objectContaining({ code: 'TCPSEND_ERR_PREFIX_MISMATCH' }),
    );
  });
});
