/**
 * Checksum negotiation end to end: BLAKE3 when both sides have it, SHA-256 when either side
 * forces it or is older, a clear refusal when there is none in common, and the hash cache
 * keeping one digest per algorithm.
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/api.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree, putTree } from '../../src/client/tree.js';
import { TcpsendClient } from '../../src/client/client.js';
import { SocketFile } from '../../src/io/index.js';
import { blake3Hex, sha256Hex } from '../helpers/digests.js';
import { startLegacyProxy, type LegacyProxy } from '../helpers/legacy-proxy.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const proxies: LegacyProxy[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer({ allowUpload: true, ...options });
  servers.push(s);
  return s;
}

async function raw(port: number): Promise<SocketFile> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new SocketFile(socket, { timeoutMs: 5000 });
}

describe('the greeting and HELLO list the checksums; the best common one is used', () => {
  it('lists blake3,sha256 in the greeting and uses BLAKE3 by default, on get and put', async () => {
    const s = await serve();
    const f = await raw(s.port);
    await f.writeLine('HELLO version=1 checksums=blake3,sha256');
    expect(await f.readLine()).toMatch(/ checksums=blake3,sha256$/);
    expect(await f.readLine()).toBe('OK version=1');

    const data = await writeRandomFile(path.join(s.root, 'a.bin'), 300_000, 3);
    const out = await tempDir();
    const got = await getFile(s.target, 'a.bin', path.join(out, 'a.bin'));
    expect(got).toMatchObject({ checksum: 'blake3', digest: blake3Hex(data) });
    const put = await putFile(s.target, path.join(out, 'a.bin'), 'b.bin');
    expect(put).toMatchObject({ checksum: 'blake3', digest: blake3Hex(data) });
    expect((await fsp.readFile(path.join(s.root, 'b.bin'))).equals(data)).toBe(true);
  });

  it('a server forced to sha256 offers only it, and a client with both follows', async () => {
    const s = await serve({ checksums: ['sha256'] });
    const data = await writeRandomFile(path.join(s.root, 'a.bin'), 10_000_000, 4); // on a worker thread
    const out = await tempDir();
    const got = await getFile(s.target, 'a.bin', path.join(out, 'a.bin'));
    expect(got).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
    const put = await putFile(s.target, path.join(out, 'a.bin'), 'b.bin');
    expect(put).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
  });

  it('a client forced to sha256 gets SHA-256 from a server that has both', async () => {
    const s = await serve();
    const data = await writeRandomFile(path.join(s.root, 'a.bin'), 10_000, 5);
    const got = await getFile(s.target, 'a.bin', path.join(await tempDir(), 'a.bin'), { checksums: ['sha256'] });
    expect(got).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
  });

  it('no checksum in common is a clear error before any transfer', async () => {
    const s = await serve({ checksums: ['sha256'] });
    await expect(TcpsendClient.connect(s.target, { checksums: ['blake3'] })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_USAGE',
      message: expect.stringContaining('the server checks with sha256 only'),
    });
  });

  it('a server refuses a request naming a checksum it does not offer, and the connection goes on', async () => {
    const s = await serve({ checksums: ['sha256'] });
    await fsp.writeFile(path.join(s.root, 'n.txt'), 'hello\n');
    const f = await raw(s.port);
    await f.writeLine('GET n.txt checksum=blake3');
    expect(await f.readLine()).toMatch(/^TCPSEND 1 .* checksums=sha256$/);
    expect(await f.readLine()).toBe('ERR BAD_REQUEST this server does not offer checksum blake3 (it offers sha256)');
    await f.writeLine('STAT n.txt hash=1');
    expect(await f.readLine()).toBe(`OK type=file size=6 mtime=${Math.trunc((await fsp.stat(path.join(s.root, 'n.txt'))).mtimeMs)} mode=644 sha256=${sha256Hex('hello\n')}`);
    // A one-step PUT naming it is refused too, and its body read past.
    await f.write(`PUT x.txt size=2 checksum=blake3 offset=0\r\nhiEND blake3=${blake3Hex('hi')}\r\nQUIT\r\n`);
    expect(await f.readLine()).toMatch(/^ERR BAD_REQUEST this server does not offer checksum blake3/);
    expect(await f.readLine()).toBe('OK');
  });
});

describe('older peers, which only speak SHA-256', () => {
  it('a new client through an older greeting (no checksums=) uses SHA-256, for files and folders', async () => {
    const s = await serve();
    const proxy = await startLegacyProxy(s.port, { server: true });
    proxies.push(proxy);
    const target = `127.0.0.1:${proxy.port}`;
    const src = await tempDir();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) files[`d/f${i}.bin`] = await writeRandomFile(path.join(src, 'd', `f${i}.bin`), 1000 + i, 10 + i);
    const big = await writeRandomFile(path.join(src, 'big.bin'), 9_000_000, 20);

    const put = await putFile(target, path.join(src, 'big.bin'), 'big.bin');
    expect(put).toMatchObject({ checksum: 'sha256', digest: sha256Hex(big) });
    const client = new ReconnectingClient(target);
    try {
      const up = await putTree(client, path.join(src, 'd'), 'd');
      expect(up).toMatchObject({ failed: 0, sent: 5 });
      const out = await tempDir();
      const down = await getTree(client, 'd', path.join(out, 'd'));
      expect(down).toMatchObject({ failed: 0, sent: 5 });
      for (const [rel, data] of Object.entries(files)) expect((await fsp.readFile(path.join(out, rel))).equals(data)).toBe(true);
    } finally {
      await client.close();
    }
    const got = await getFile(target, 'big.bin', path.join(await tempDir(), 'big.bin'));
    expect(got).toMatchObject({ checksum: 'sha256', digest: sha256Hex(big) });
    // What an older server would have had to read: no field it does not know.
    const requests = proxy.upstream().split('\r\n').filter((line) => /^(?:STAT|GET|HASH|PUT|END|MGET|MPUT) /.test(line));
    for (const verb of ['PUT big.bin', 'MPUT d', 'MGET d']) expect(requests.some((line) => line.startsWith(`${verb} `))).toBe(true);
    expect(requests.filter((line) => /checksum=|blake3/.test(line))).toEqual([]);
  });

  it('an older client (HELLO without checksums=, no checksum= on requests) gets SHA-256 from a new server', async () => {
    const s = await serve();
    const proxy = await startLegacyProxy(s.port, { client: true });
    proxies.push(proxy);
    const data = await writeRandomFile(path.join(s.root, 'a.bin'), 50_000, 6);
    const got = await getFile(`127.0.0.1:${proxy.port}`, 'a.bin', path.join(await tempDir(), 'a.bin'), { checksums: ['sha256'] });
    expect(got).toMatchObject({ checksum: 'sha256', digest: sha256Hex(data) });
    expect(proxy.upstream()).toMatch(/^HELLO version=1 client=tcpsend\/\S+ progress=1\r\n/);
    expect(proxy.upstream()).not.toMatch(/checksum|blake3/);
  });
});

describe('the hash cache keeps a digest per algorithm', () => {
  it('a file hashed once with each algorithm announces both up front afterwards', async () => {
    const s = await serve();
    await fsp.writeFile(path.join(s.root, 'n.txt'), 'hello\n');
    const f = await raw(s.port);
    const get = async (extra: string) => {
      await f.writeLine(`GET n.txt${extra}`);
      const header = await f.readLine();
      await f.readExactly(6);
      return { header, trailer: await f.readLine() };
    };
    await f.writeLine('HELLO');
    await f.readLine();
    await f.readLine();
    const first = await get('');
    expect(first.header).not.toMatch(/sha256=/);
    expect(first.trailer).toBe(`OK sha256=${sha256Hex('hello\n')}`);
    const second = await get(' checksum=blake3');
    expect(second.header).not.toMatch(/blake3=/);
    expect(second.trailer).toBe(`OK blake3=${blake3Hex('hello\n')}`);
    expect((await get('')).header).toMatch(new RegExp(`sha256=${sha256Hex('hello\n')}$`));
    expect((await get(' checksum=blake3')).header).toMatch(new RegExp(`blake3=${blake3Hex('hello\n')}$`));
  });
});
