/** A disk that fills up mid-upload: a clear error, the part kept for resume, others served. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/index.js';
import { quotaFs } from '../helpers/quota-fs.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('disk full', () => {
  it('says the disk is full, keeps the part, serves others, and resumes once there is room', async () => {
    const quota = quotaFs(1_500_000);
    const s = await startServer({ allowUpload: true, fs: quota.fs });
    servers.push(s);
    await fsp.writeFile(path.join(s.root, 'other.txt'), 'still here');
    const src = await tempDir();
    const data = await writeRandomFile(path.join(src, 'big.bin'), 4_000_000, 31);

    const err = await putFile(s.target, path.join(src, 'big.bin'), 'big.bin', { retries: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TCPSEND_ERR_NO_SPACE', message: expect.stringMatching(/no space/i) });
    const names = await fsp.readdir(s.root);
    expect(names).not.toContain('big.bin');
    const part = names.find((n) => n.endsWith('.tcpsend-part'));
    expect(part).toBeDefined();
    expect((await fsp.stat(path.join(s.root, part!))).size).toBe(1_500_000);

    // The server still serves everyone else.
    const out = await tempDir();
    await getFile(s.target, 'other.txt', path.join(out, 'other.txt'));
    expect(await fsp.readFile(path.join(out, 'other.txt'), 'utf8')).toBe('still here');

    // Space freed: the same put resumes where the disk filled up.
    quota.quota = Number.POSITIVE_INFINITY;
    const done = await putFile(s.target, path.join(src, 'big.bin'));
    expect(done.resumedFrom).toBe(1_500_000);
    expect(done.digest).toBe(blake3Hex(data));
    expect((await fsp.readFile(path.join(s.root, 'big.bin'))).equals(data)).toBe(true);
  });
});
