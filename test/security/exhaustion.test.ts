/**
 * Resource exhaustion: floods of idle connections, the per-address cap, slow loris, two
 * uploads racing for one path, and many downloads beside an upload. Idle connections come from
 * 127.0.0.2–127.0.0.21 (all of 127/8 is loopback on Linux), so the per-address cap is not hit.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpsendClient } from '../../src/client/client.js';
import { RemoteError } from '../../src/errors.js';
import { PeerPool, type RawPeer } from '../helpers/raw-peer.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const MB = 1024 * 1024;

const pool = new PeerPool();
const servers: TestServer[] = [];
const clients: TcpsendClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  pool.destroyAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  dirs.push(s.root);
  await fsp.writeFile(path.join(s.root, 'good.txt'), 'good\n');
  return s;
}

async function scratch(): Promise<string> {
  const dir = await tempDir('tcpsend-exhaust-');
  dirs.push(dir);
  return dir;
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `count` idle connections, `perAddress` from each of 127.0.0.2, 127.0.0.3, ... */
async function idleFlood(port: number, count: number, perAddress = 25): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  for (let i = 0; i < count; i += perAddress) {
    const localAddress = `127.0.0.${2 + i / perAddress}`;
    const batch = Math.min(perAddress, count - i);
    peers.push(...(await Promise.all(Array.from({ length: batch }, () => pool.connect(port, { localAddress })))));
  }
  return peers;
}

/** A client from 127.0.0.1 connects and downloads good.txt: how long it took. */
async function timedGet(s: TestServer): Promise<number> {
  const dest = path.join(await scratch(), 'good.txt');
  const started = performance.now();
  const client = await TcpsendClient.connect(s.target, { idleTimeoutMs: 5000 });
  clients.push(client);
  const result = await client.download('good.txt', dest);
  const ms = performance.now() - started;
  expect(result.digest).toBe(blake3Hex('good\n'));
  expect(await fsp.readFile(dest, 'utf8')).toBe('good\n');
  return ms;
}

describe('idle connection floods', () => {
  it('source addresses 127.0.0.2 and up can be bound (the tests below rely on it)', async () => {
    const s = await server();
    const peer = await pool.connect(s.port, { localAddress: '127.0.0.2' });
    expect(peer.socket.localAddress).toBe('127.0.0.2');
    await peer.hello();
  });

  it('500 idle connections (25 from each of 20 addresses): a new client is still served within 2 s', async () => {
    const s = await server({ maxConnections: 512 });
    const peers = await idleFlood(s.port, 500);
    await until(() => s.server.connectionCount === 500, 5000, '500 accepted connections');
    expect(await timedGet(s)).toBeLessThan(2000);
    // Nobody was pushed out to make room: the server had room.
    expect(peers.filter((p) => p.isClosed)).toHaveLength(0);
  });

  it('at the connection cap, idle connections are evicted to make room for a new client', async () => {
    const s = await server({ maxConnections: 100 });
    const peers = await idleFlood(s.port, 150);
    await until(() => peers.filter((p) => p.isClosed).length >= 50, 5000, '50 evictions');
    expect(s.server.connectionCount).toBeLessThanOrEqual(100);
    expect(await timedGet(s)).toBeLessThan(2000);
    // The oldest were the ones evicted (the last to arrive are still connected).
    expect(peers.slice(-25).filter((p) => p.isClosed)).toHaveLength(0);
  });

  it('busy connections are not evicted: at the cap with every connection busy, a newcomer is refused', async () => {
    const s = await server({ maxConnections: 4, allowUpload: true });
    const bodies = [0, 1, 2, 3].map((i) => Buffer.alloc(64 * 1024, 0x61 + i));
    // Four uploads stopped in the middle of their bodies: the server is busy with each.
    const busy: RawPeer[] = [];
    for (const [i, body] of bodies.entries()) {
      const peer = await pool.connect(s.port);
      await peer.hello();
      await peer.sendLine(`PUT busy${i}.bin size=${body.length}`);
      expect(await peer.line()).toBe('OK offset=0');
      await peer.send(Buffer.concat([Buffer.from('DATA offset=0\r\n'), body.subarray(0, 1000)]));
      busy.push(peer);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await pool.connect(s.port, { localAddress: '127.0.0.2' });
    expect(await late.line()).toMatch(/^ERR TOO_MANY_CONNECTIONS /);
    expect((await late.untilClosed()).length).toBe(0);
    // Each busy upload then completes.
    for (const [i, peer] of busy.entries()) {
      await peer.send(Buffer.concat([bodies[i]!.subarray(1000), Buffer.from(`END sha256=${sha(bodies[i]!)}\r\n`)]));
      expect(await peer.line()).toBe(`OK size=${bodies[i]!.length} sha256=${sha(bodies[i]!)}`);
      expect((await fsp.readFile(path.join(s.root, `busy${i}.bin`))).equals(bodies[i]!)).toBe(true);
    }
  });
});

describe('the per-address cap', () => {
  it('the 65th connection from one address gets ERR TOO_MANY_CONNECTIONS and a close; another address is fine', async () => {
    const s = await server();
    const peers = await Promise.all(Array.from({ length: 64 }, () => pool.connect(s.port)));
    await until(() => s.server.connectionCount === 64, 5000, '64 accepted connections');
    const extra = await pool.connect(s.port);
    expect(await extra.line()).toMatch(/^ERR TOO_MANY_CONNECTIONS \S/);
    expect((await extra.untilClosed()).length).toBe(0);
    // The 64 are untouched and work; another address is not held to this address's cap.
    expect(peers.filter((p) => p.isClosed)).toHaveLength(0);
    await peers[0]!.hello();
    const other = await pool.connect(s.port, { localAddress: '127.0.0.2' });
    await other.hello();
  });
});

describe('slow loris and idle peers', () => {
  it('a request line dripped one byte every 100 ms is cut by the 500 ms line deadline', async () => {
    const s = await server({ idleTimeoutMs: 300, lineDeadlineMs: 500 });
    const peer = await pool.connect(s.port);
    await peer.hello();
    const line = Buffer.from('GET good.txt offset=0\r\n');
    let sent = 0;
    let cutAt = 0;
    const started = Date.now();
    const answer = peer.line().then((text) => {
      cutAt = Date.now() - started;
      return text;
    });
    while (sent < line.length && cutAt === 0 && !peer.isClosed) {
      peer.socket.write(line.subarray(sent, sent + 1));
      sent += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await answer).toMatch(/^ERR TIMEOUT /);
    expect(sent).toBeLessThan(line.length); // cut before the line ended
    expect(cutAt).toBeGreaterThanOrEqual(450);
    expect(cutAt).toBeLessThan(1000);
    expect((await peer.untilClosed()).length).toBe(0);
  });

  it('an idle connection is closed after the 300 ms idle timeout', async () => {
    const s = await server({ idleTimeoutMs: 300, lineDeadlineMs: 500 });
    const peer = await pool.connect(s.port);
    await peer.hello();
    const started = Date.now();
    expect(await peer.line()).toMatch(/^ERR TIMEOUT /);
    expect((await peer.untilClosed()).length).toBe(0);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('uploads racing for one path', () => {
  it('a second upload to a path being written gets BUSY; the file is exactly the first', async () => {
    const s = await server({ allowUpload: true });
    const a = await writeRandomFile(path.join(await scratch(), 'a.bin'), 5 * MB, 1);
    const b = await writeRandomFile(path.join(await scratch(), 'b.bin'), 5 * MB, 2);
    const first = await pool.connect(s.port);
    const second = await pool.connect(s.port);
    await first.hello();
    await second.hello();
    await first.sendLine(`PUT same.bin size=${a.length}`);
    expect(await first.line()).toBe('OK offset=0');
    await first.send(Buffer.concat([Buffer.from('DATA offset=0\r\n'), a.subarray(0, MB)]));
    await second.sendLine(`PUT same.bin size=${b.length}`);
    expect(await second.line()).toMatch(/^ERR BUSY /);
    await first.send(Buffer.concat([a.subarray(MB), Buffer.from(`END sha256=${sha(a)}\r\n`)]));
    expect(await first.line()).toBe(`OK size=${a.length} sha256=${sha(a)}`);
    // The refused one stays in step, and now finds a different file there.
    await second.sendLine(`PUT same.bin size=${b.length}`);
    expect(await second.line()).toMatch(/^ERR EXISTS /);
    expect(sha(await fsp.readFile(path.join(s.root, 'same.bin')))).toBe(sha(a));
  });

  it('two clients uploading different 5 MB files to one path at once: the result is exactly one of them', async () => {
    const s = await server({ allowUpload: true, allowOverwrite: true });
    const work = await scratch();
    const a = await writeRandomFile(path.join(work, 'a.bin'), 5 * MB, 3);
    const b = await writeRandomFile(path.join(work, 'b.bin'), 5 * MB, 4);
    const [ca, cb] = await Promise.all([TcpsendClient.connect(s.target), TcpsendClient.connect(s.target)]);
    clients.push(ca, cb);
    const results = await Promise.allSettled([
      ca.upload(path.join(work, 'a.bin'), 'race.bin', { overwrite: true }),
      cb.upload(path.join(work, 'b.bin'), 'race.bin', { overwrite: true }),
    ]);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(RemoteError);
        expect((r.reason as RemoteError).code).toBe('TCPSEND_ERR_BUSY');
      }
    }
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    const stored = sha(await fsp.readFile(path.join(s.root, 'race.bin')));
    expect([sha(a), sha(b)]).toContain(stored);
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i === 0 ? sha(a) : sha(b)] : []));
    if (winners.length === 1) expect(stored).toBe(winners[0]);
    expect((await fsp.readdir(s.root)).filter((n) => n.endsWith('.tcpsend-part'))).toEqual([]);
  });
});

describe('many at once', () => {
  it('30 clients download one 5 MB file while another uploads: every copy verified', async () => {
    const s = await server({ allowUpload: true });
    const big = await writeRandomFile(path.join(s.root, 'big.bin'), 5 * MB, 5);
    const work = await scratch();
    const upload = await writeRandomFile(path.join(work, 'up.bin'), 5 * MB, 6);
    const downloaders = await Promise.all(Array.from({ length: 30 }, () => TcpsendClient.connect(s.target, { idleTimeoutMs: 20_000 })));
    const uploader = await TcpsendClient.connect(s.target, { idleTimeoutMs: 20_000 });
    clients.push(...downloaders, uploader);
    const [uploaded, ...downloaded] = await Promise.all([
      uploader.upload(path.join(work, 'up.bin'), 'up.bin'),
      ...downloaders.map((c, i) => c.download('big.bin', path.join(work, `copy${i}.bin`))),
    ]);
    expect(uploaded.digest).toBe(blake3Hex(upload));
    expect(sha(await fsp.readFile(path.join(s.root, 'up.bin')))).toBe(sha(upload));
    for (const [i, result] of downloaded.entries()) {
      expect(result.digest).toBe(blake3Hex(big));
      expect(sha(await fsp.readFile(path.join(work, `copy${i}.bin`)))).toBe(sha(big));
    }
  });
});

describe('a client that stops reading', () => {
  it('a batch download to a peer that never reads is cut by the idle timeout, and its slot is freed', async () => {
    const s = await server({ idleTimeoutMs: 500, lineDeadlineMs: 500 });
    await fsp.mkdir(path.join(s.root, 'd'));
    await fsp.writeFile(path.join(s.root, 'd', 'f'), Buffer.alloc(10 * 1024, 7));
    const peer = await pool.connect(s.port);
    peer.socket.pause(); // never reads a byte of the answers
    peer.socket.write('HELLO\r\nMGET d count=10000\r\n');
    // One item at a time, so each answer is written on its own, below the socket's high-water
    // mark: the server must still notice that nothing is taken.
    for (let i = 0; i < 1500 && s.server.connectionCount > 0; i++) {
      peer.socket.write('f\r\n');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await until(() => s.server.connectionCount === 0, 5000, 'the server to drop the connection');
    expect(s.log.some((entry) => entry.verb === 'MGET' && entry.result === 'TIMEOUT')).toBe(true);
  });
});
