/** The upload pipeline (src/server/upload.ts) over real loopback sockets: the lock and its takeover. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { putFile } from '../../src/client/index.js';
import { SAME_PEER_QUIET_MS } from '../../src/server/root/upload-locks.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { randomBytesFrom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

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
    for (let i = 0; i < 100 && ((await fsp.stat(part).catch(() => null))?.size ?? 0) < 700_000; i++) await new Promise((r) => setTimeout(r, 20));
    // Quiet for a while: together with the newcomer's wait for the lock, past SAME_PEER_QUIET_MS.
    await new Promise((r) => setTimeout(r, SAME_PEER_QUIET_MS - 2000));

    const src = await tempDir();
    await fsp.writeFile(path.join(src, 'big.bin'), data);
    const started = Date.now();
    const done = await putFile(s.target, path.join(src, 'big.bin'), 'big.bin', { retries: 0 });
    expect(Date.now() - started).toBeLessThan(3500);
    expect(done.resumedFrom).toBe(700_000);
    expect(done.sha256).toBe(sha(data));
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
