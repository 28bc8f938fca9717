/**
 * Long hashes for nobody (issue 14, finding 6): a HASH or STAT hash=1 of a large file stops
 * when its client leaves, and a server asked to stop does not wait for it.
 */
import fsp from 'node:fs/promises';
import nodeFs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { abortable, untilAborted } from '../../src/server/cancel.js';
import { wrapFs } from '../helpers/fs-wrap.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** node:fs whose positional reads take `ms` each, counted. */
function slowReads(ms: number) {
  const state = { reads: 0 };
  const fs = wrapFs({
    read: (fd, buffer, offset, length, position, done) => {
      state.reads += 1;
      setTimeout(() => nodeFs.read(fd, buffer, offset, length, position, done), ms);
    },
  });
  return { fs, state };
}

/**
 * The reads made once they have stopped (none for ten read times). A hash nobody stopped reads
 * on to the end of the file, 64 reads: the callers check for fewer. How soon the server notices
 * its client gone depends on the machine's load, so this waits for the reads to stop rather
 * than allowing a fixed time for it.
 */
async function readsStop(state: { reads: number }): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (let last = -1; state.reads !== last; ) {
    if (Date.now() > deadline) throw new Error(`still reading after 10 s (${state.reads} reads)`);
    last = state.reads;
    await new Promise((r) => setTimeout(r, 200));
  }
  return state.reads;
}

async function bigFile(): Promise<string> {
  const root = await tempDir('tcpsend-cancel-');
  // 64 MiB, sparse: 64 reads of 1 MiB to hash it.
  const handle = await fsp.open(path.join(root, 'big.bin'), 'w');
  await handle.truncate(64 * 1024 * 1024);
  await handle.close();
  return root;
}

describe('abortable and untilAborted', () => {
  it('fail with the reason once the signal is aborted, and call onAbort', async () => {
    const controller = new AbortController();
    const file = abortable({ read: async () => ({ bytesRead: 1 }) }, controller.signal);
    expect(await file.read(Buffer.alloc(1), 0, 1, 0)).toEqual({ bytesRead: 1 });
    let stopped = 0;
    const pending = untilAborted(new Promise(() => {}), controller.signal, () => (stopped += 1));
    controller.abort(new Error('gone'));
    await expect(pending).rejects.toMatchObject({ code: 'TCPSEND_ERR_TRANSFER_INTERRUPTED' });
    await expect(file.read(Buffer.alloc(1), 0, 1, 0)).rejects.toMatchObject({ code: 'TCPSEND_ERR_TRANSFER_INTERRUPTED' });
    expect(stopped).toBe(1);
  });
});

describe('a long hash', () => {
  it('HASH stops reading soon after its client leaves', async () => {
    const { fs, state } = slowReads(20);
    const s = await startServer({ root: await bigFile(), fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.sendLine('HASH big.bin');
    while (state.reads < 3) await new Promise((r) => setTimeout(r, 10));
    p.destroy();
    expect(await readsStop(state)).toBeLessThan(64);
  });

  it('STAT hash=1 too; and close() does not wait for a hash in flight', async () => {
    const { fs, state } = slowReads(20);
    const s = await startServer({ root: await bigFile(), fs });
    const p = await peers.connect(s.port);
    await p.hello();
    await p.sendLine('STAT big.bin hash=1');
    while (state.reads < 3) await new Promise((r) => setTimeout(r, 10));
    await s.server.close(100);
    // Closed before the hash could have read the whole file (64 reads of 20 ms) ...
    expect(state.reads).toBeLessThan(64);
    // ... which it then stops reading.
    expect(await readsStop(state)).toBeLessThan(64);
  });
});

describe('a ranged GET (issue 14, finding 6; gap 14-e)', () => {

  // A peer that only ends its side (FIN) may be a half-closing client still reading (nc -N):
  // the trailer's hash goes on for it until the trailer's write fails. A reset (a client killed
  // mid-reply with bytes unread, a NAT that gave up) is a peer that is gone.
  it('the rest of the file, hashed after the range for the trailer, stops being read when its client resets', async () => {
    const { fs, state } = slowReads(20);
    const s = await startServer({ root: await bigFile(), fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.sendLine('GET big.bin offset=0 length=1000');
    expect(await p.line()).toMatch(/^OK size=67108864 offset=0 length=1000 /);
    expect((await p.bytes(1000)).equals(Buffer.alloc(1000))).toBe(true);
    // The range is out; the server now reads the other 64 MiB to hash the whole file.
    const before = state.reads;
    while (state.reads < before + 3) await new Promise((r) => setTimeout(r, 10));
    p.socket.resetAndDestroy();
    expect(await readsStop(state)).toBeLessThan(64);
  });

  it('a client that leaves mid-range (bytes still unread): the range and the hash stop being read', async () => {
    const { fs, state } = slowReads(20);
    const s = await startServer({ root: await bigFile(), fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.sendLine(`GET big.bin offset=${1024 * 1024} length=${32 * 1024 * 1024}`);
    expect(await p.line()).toMatch(/^OK size=67108864 offset=1048576 length=33554432 /);
    await p.bytes(100_000);
    while (state.reads < 3) await new Promise((r) => setTimeout(r, 10));
    p.destroy();
    expect(await readsStop(state)).toBeLessThan(64);
  });

  it('the prefix before the range, hashed before the answer, stops too', async () => {
    const { fs, state } = slowReads(20);
    const s = await startServer({ root: await bigFile(), fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.sendLine(`GET big.bin offset=${60 * 1024 * 1024} length=1000`);
    while (state.reads < 3) await new Promise((r) => setTimeout(r, 10));
    p.destroy();
    expect(await readsStop(state)).toBeLessThan(60);
  });
});
