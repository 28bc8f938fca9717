/** The upload pipeline (src/server/upload.ts) over real loopback sockets: the lock and its takeover. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { putFile } from '../../src/client/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { HttpFront } from '../../src/server/http/front.js';
import { resolveServerOptions } from '../../src/server/options.js';
import { HashCache, Root, UploadLocks } from '../../src/server/root/index.js';
import { uploadBody, type BodySource, type Uploader } from '../../src/server/upload.js';
import { SAME_PEER_QUIET_MS } from '../../src/server/root/upload-locks.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('an upload lock whose holder went quiet (issue 14, finding 17)', () => {
  it('a new upload of the same file from the same address takes it over and resumes, instead of BUSY', { timeout: 20_000 }, async () => {
    const s = await startServer({ allowUpload: true });
    servers.push(s);
    const data = randomBytesFrom(3, 2_000_000);
    // A client whose network went silent mid-body: its connection stays open, nothing moves.
    const silent = await peers.connect(s.port, { timeoutMs: 30_000 });
    await silent.hello();
    await silent.sendLine(`PUT big.bin size=${data.length}`);
    expect(await silent.line()).toBe('OK offset=0');
    await silent.send(Buffer.concat([Buffer.from('DATA offset=0\r\n'), data.subarray(0, 700_000)]));
    // The bytes reach the part; then nothing for a while.
    const part = path.join(s.root, '.big.bin.tcpsend-part');
    const deadline = Date.now() + 10_000;
    while (((await fsp.stat(part).catch(() => null))?.size ?? 0) < 700_000) {
      if (Date.now() > deadline) throw new Error('the first 700,000 bytes did not reach the part within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Quiet for a while: together with the newcomer's wait for the lock, past SAME_PEER_QUIET_MS.
    await new Promise((r) => setTimeout(r, SAME_PEER_QUIET_MS - 2000));

    const src = await tempDir();
    await fsp.writeFile(path.join(src, 'big.bin'), data);
    // No retries: the lock must come to it within its one wait (LOCK_WAIT_MS), else BUSY.
    const done = await putFile(s.target, path.join(src, 'big.bin'), 'big.bin', { retries: 0 });
    expect(done.resumedFrom).toBe(700_000);
    expect(done.digest).toBe(blake3Hex(data));
    expect((await fsp.readFile(path.join(s.root, 'big.bin'))).equals(data)).toBe(true);
    await silent.closed; // the quiet holder was cut
  });

  it('a holder that keeps sending is not taken over: the newcomer gets BUSY', async () => {
    const s = await startServer({ allowUpload: true });
    servers.push(s);
    const size = 5_000_000;
    const busy = await peers.connect(s.port, { timeoutMs: 30_000 });
    await busy.hello();
    await busy.sendLine(`PUT slow.bin size=${size}`);
    expect(await busy.line()).toBe('OK offset=0');
    await busy.send('DATA offset=0\r\n');
    let sending = true;
    const trickle = (async () => {
      while (sending) {
        await busy.send(Buffer.alloc(1000, 1));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const other = await peers.connect(s.port);
    await other.hello();
    await other.sendLine(`PUT slow.bin size=10 sha256=${sha('0123456789')}`);
    expect(await other.line()).toMatch(/^ERR BUSY /);
    sending = false;
    await trickle;
    expect(busy.isClosed).toBe(false);
  });
});

describe('uploadBody: the one entry point for a whole body, held or streamed (HTTP\'s PUT)', () => {
  async function context(options: { allowOverwrite?: boolean } = {}): Promise<{ ctx: ServerContext; root: string }> {
    const root = await fsp.realpath(await tempDir('tcpsend-upload-body-'));
    const resolved = resolveServerOptions({ root, allowUpload: true, ...options });
    const ctx: ServerContext = {
      root: await Root.open(root),
      options: resolved,
      hashCache: new HashCache(),
      uploadLocks: new UploadLocks(),
      readAhead: { bytes: 0 },
      shuttingDown: false,
      http: new HttpFront(resolved),
    };
    return { ctx, root };
  }
  const who: Uploader = { lockHolder: { ip: '192.0.2.1', cut: () => {} }, beforeAnswer: new AbortController().signal };
  /** A Node stream as a BodySource, the way an HTTP request body would be handed in. */
  const streamed = (data: Buffer, chunk = 65_536): BodySource => async (sink: Writable, onChunk) => {
    const parts = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
    const source = Readable.from(parts);
    if (onChunk) source.on('data', (c: Buffer) => onChunk(c));
    await pipeline(source, sink);
  };
  const request = (path: string, size: number, extra: { sha256?: string | null; overwrite?: boolean } = {}) => ({
    path,
    size,
    checksum: 'sha256' as const,
    digest: extra.sha256 ?? null,
    mtime: 1_700_000_000_000,
    mode: 0o640,
    overwrite: extra.overwrite ?? false,
  });

  it('stores a body held in memory, and a streamed one, each verified, with mode and mtime', async () => {
    const { ctx, root } = await context();
    const small = Buffer.from('held whole');
    expect(await uploadBody(ctx, who, request('a/small.txt', small.length), small, sha(small))).toEqual({ identical: false, digest: sha(small), size: small.length });
    const big = randomBytesFrom(9, 3_000_000);
    expect(await uploadBody(ctx, who, request('a/b/big.bin', big.length), streamed(big), null)).toEqual({ identical: false, digest: sha(big), size: big.length });
    expect((await fsp.readFile(path.join(root, 'a', 'b', 'big.bin'))).equals(big)).toBe(true);
    const stats = await fsp.stat(path.join(root, 'a', 'b', 'big.bin'));
    expect(stats.mode & 0o777).toBe(0o640);
    expect(Math.floor(stats.mtimeMs)).toBe(1_700_000_000_000);
    expect((await fsp.readdir(path.join(root, 'a', 'b'))).sort()).toEqual(['big.bin']);
    // The same content again: identical, nothing read from the stream is needed.
    expect(await uploadBody(ctx, who, request('a/b/big.bin', big.length, { sha256: sha(big) }), streamed(big), null)).toEqual({ identical: true, digest: sha(big), size: big.length });
  });

  it('refuses a body that hashes otherwise than declared, and a different file without consent', async () => {
    const { ctx, root } = await context();
    const data = randomBytesFrom(10, 500_000);
    await expect(uploadBody(ctx, who, request('x.bin', data.length), streamed(data), sha('other'))).rejects.toMatchObject({ code: 'TCPSEND_ERR_CHECKSUM_MISMATCH' });
    expect(await fsp.readdir(root)).toEqual([]);
    await uploadBody(ctx, who, request('x.bin', data.length), streamed(data), null);
    const other = randomBytesFrom(11, 1000);
    await expect(uploadBody(ctx, who, request('x.bin', other.length), other, null)).rejects.toMatchObject({ code: 'TCPSEND_ERR_EXISTS' });
    await expect(uploadBody(ctx, who, request('../x.bin', 1), Buffer.from('x'), null)).rejects.toMatchObject({ code: 'TCPSEND_ERR_BAD_PATH' });
  });

  it('a stream that ends early stores nothing under the name, and keeps what came in the part', async () => {
    const { ctx, root } = await context();
    const data = randomBytesFrom(12, 400_000);
    await expect(uploadBody(ctx, who, request('short.bin', 1_000_000), streamed(data), null)).rejects.toMatchObject({ code: 'TCPSEND_ERR_BAD_REQUEST' });
    expect(await fsp.readdir(root)).toEqual(['.short.bin.tcpsend-part']);
    expect((await fsp.stat(path.join(root, '.short.bin.tcpsend-part'))).size).toBe(400_000);
  });
});
