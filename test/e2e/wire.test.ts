/** The protocol spoken by hand, as `nc` would: raw lines over a real loopback socket. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketFile } from '../../src/io/index.js';
import { startServer, writeRandomFile, type TestServer } from '../helpers/server.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let servers: TestServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  servers.push(s);
  await fsp.writeFile(path.join(s.root, 'notes.txt'), 'hello\n');
  await fsp.mkdir(path.join(s.root, 'sub'));
  await fsp.writeFile(path.join(s.root, 'sub', 'a b.txt'), 'spaced');
  return s;
}

async function raw(port: number): Promise<SocketFile> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new SocketFile(socket, { timeoutMs: 5000 });
}

/** Send HELLO, return the stream positioned after the greeting and HELLO's OK. */
async function session(port: number): Promise<SocketFile> {
  const f = await raw(port);
  await f.writeLine('HELLO');
  expect(await f.readLine()).toMatch(/^TCPSEND 1 server=tcpsend\/\S+ caps=\S*range\S* upload=0 checksums=blake3,sha256$/);
  expect(await f.readLine()).toBe('OK version=1');
  return f;
}

describe('wire protocol by hand', () => {
  it('GET gives a header, exactly the bytes, and the SHA-256 trailer', async () => {
    const s = await server();
    const f = await session(s.port);
    await f.writeLine('GET notes.txt');
    expect(await f.readLine()).toMatch(/^OK size=6 offset=0 length=6 mtime=\d+ mode=644$/);
    expect((await f.readExactly(6)).toString()).toBe('hello\n');
    expect(await f.readLine()).toBe(`OK sha256=${sha('hello\n')}`);
    // The cache now knows the hash: the next header carries it up front.
    await f.writeLine('GET /notes.txt');
    expect(await f.readLine()).toMatch(new RegExp(`^OK size=6 .* sha256=${sha('hello\n')}$`));
    await f.readExactly(6);
    expect(await f.readLine()).toBe(`OK sha256=${sha('hello\n')}`);
  });

  it('ranges at the edges', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'r.bin'), 1000, 4);
    const f = await session(s.port);
    const get = async (fields: string) => {
      await f.writeLine(`GET r.bin ${fields}`.trim());
      const header = (await f.readLine())!;
      if (header.startsWith('ERR')) return { header, body: null };
      const length = Number(/length=(\d+)/.exec(header)![1]);
      const body = await f.readExactly(length);
      const trailer = await f.readLine();
      return { header, body, trailer };
    };
    const whole = sha(data);
    let r = await get('offset=0 length=0');
    expect(r.body!.length).toBe(0);
    expect(r.trailer).toBe(`OK sha256=${whole}`);
    r = await get('offset=999');
    expect(r.body!.equals(data.subarray(999))).toBe(true);
    r = await get('offset=1000');
    expect(r.header).toMatch(/offset=1000 length=0/);
    expect(r.body!.length).toBe(0);
    r = await get('offset=990 length=50');
    expect(r.header).toMatch(/length=10/); // cut to the end
    expect(r.body!.equals(data.subarray(990))).toBe(true);
    r = await get('offset=10 length=5');
    expect(r.body!.equals(data.subarray(10, 15))).toBe(true);
    expect(r.trailer).toBe(`OK sha256=${whole}`); // the whole file's hash, even for a range
    r = await get('offset=1001');
    expect(r.header).toMatch(/^ERR BAD_RANGE /);
    r = await get('offset=-1');
    expect(r.header).toMatch(/^ERR BAD_REQUEST /);
    r = await get(`offset=500 prefix_sha256=${sha(data.subarray(0, 500))}`);
    expect(r.body!.equals(data.subarray(500))).toBe(true);
    r = await get(`offset=500 prefix_sha256=${sha('nope')}`);
    expect(r.header).toMatch(/^ERR PREFIX_MISMATCH /);
    await f.writeLine('HASH r.bin offset=100 length=200');
    expect(await f.readLine()).toBe(`OK sha256=${sha(data.subarray(100, 300))} offset=100 length=200 size=1000`);
  });

  it('answers several pipelined GETs in order on one connection', async () => {
    const s = await server();
    const files = await Promise.all([1, 2, 3].map((i) => writeRandomFile(path.join(s.root, `p${i}.bin`), 70_000 * i, i)));
    const f = await raw(s.port);
    await f.write('HELLO\r\nGET p1.bin\r\nGET p2.bin\r\nSTAT nope\r\nGET p3.bin\r\nQUIT\r\n');
    expect(await f.readLine()).toMatch(/^TCPSEND 1 /);
    expect(await f.readLine()).toBe('OK version=1');
    for (const i of [0, 1]) {
      const header = (await f.readLine())!;
      expect(header).toMatch(new RegExp(`^OK size=${files[i]!.length} `));
      expect((await f.readExactly(files[i]!.length)).equals(files[i]!)).toBe(true);
      expect(await f.readLine()).toBe(`OK sha256=${sha(files[i]!)}`);
    }
    expect(await f.readLine()).toMatch(/^ERR NOT_FOUND /);
    expect(await f.readLine()).toMatch(/^OK size=210000 /);
    expect((await f.readExactly(210_000)).equals(files[2]!)).toBe(true);
    expect(await f.readLine()).toBe(`OK sha256=${sha(files[2]!)}`);
    expect(await f.readLine()).toBe('OK');
    expect(await f.readLine()).toBeNull(); // QUIT closes
  });

  it('LIST and STAT', async () => {
    const s = await server();
    const f = await session(s.port);
    await f.writeLine('LIST /');
    expect(await f.readLine()).toBe('OK type=dir');
    expect(await f.readLine()).toMatch(/^notes.txt type=file size=6 mtime=\d+ mode=644$/);
    expect(await f.readLine()).toMatch(/^sub type=dir mtime=\d+ mode=755$/);
    expect(await f.readLine()).toBe('.');
    await f.writeLine('LIST sub recursive=1');
    expect(await f.readLine()).toBe('OK type=dir');
    expect(await f.readLine()).toMatch(/^a%20b.txt type=file size=6 /);
    expect(await f.readLine()).toBe('.');
    await f.writeLine('STAT sub/a%20b.txt hash=1');
    expect(await f.readLine()).toMatch(new RegExp(`^OK type=file size=6 mtime=\\d+ mode=644 sha256=${sha('spaced')}$`));
    await f.writeLine('LIST notes.txt');
    expect(await f.readLine()).toMatch(/^ERR NOT_DIRECTORY /);
  });

  it('every traversal attempt is refused with a clear ERR, and the connection goes on', async () => {
    const s = await server();
    const f = await session(s.port);
    const attempts = [
      'GET ../etc/passwd',
      'GET ..',
      'GET sub/../../x',
      'GET %2e%2e/x',
      'GET %2E%2E%2Fx',
      'GET sub%2F..%2F..%2Fx',
      'GET ..%5Cx',
      'GET a%00b',
      'GET C:%5Cwindows',
      'GET %C0%AE%C0%AE/x',
      'STAT ../',
      'LIST ../../',
    ];
    for (const line of attempts) {
      await f.writeLine(line);
      expect(await f.readLine(), line).toMatch(/^ERR (BAD_PATH|FORBIDDEN) \S/);
    }
    await f.writeLine('GET notes.txt');
    expect(await f.readLine()).toMatch(/^OK size=6 /);
  });

  it('a symlink that leads out of the root is FORBIDDEN', async () => {
    const s = await server();
    const outside = path.join(path.dirname(s.root), `${path.basename(s.root)}-outside.txt`);
    await fsp.writeFile(outside, 'secret');
    await fsp.symlink(outside, path.join(s.root, 'leak.txt'));
    const f = await session(s.port);
    await f.writeLine('GET leak.txt');
    expect(await f.readLine()).toMatch(/^ERR FORBIDDEN /);
    await fsp.rm(outside);
  });

  it('bad lines: unknown verb, lower case, an over-long line closes the connection', async () => {
    const s = await server();
    const f = await session(s.port);
    await f.writeLine('FROB x');
    expect(await f.readLine()).toMatch(/^ERR UNKNOWN_VERB /);
    await f.writeLine('get notes.txt');
    expect(await f.readLine()).toMatch(/^ERR BAD_REQUEST .*try GET/);
    await f.write(`GET ${'a'.repeat(20_000)}\r\n`);
    expect(await f.readLine()).toMatch(/^ERR LINE_TOO_LONG /);
    expect(await f.readLine()).toBeNull();
  });
});

describe('pipelined one-step uploads', () => {
  it('are stored side by side and answered in order; a malformed one is answered after the good ones, then the connection closes', async () => {
    const s = await server({ allowUpload: true });
    const f = await raw(s.port);
    const put = (name: string, body: string) =>
      `PUT ${name} size=${Buffer.byteLength(body)} offset=0\r\n${body}END sha256=${sha(body)}\r\n`;
    await f.write(
      `HELLO\r\n${put('a.txt', 'alpha')}${put('b.txt', 'beta!')}GET notes.txt\r\n${put('c.txt', 'gamma')}` +
        `PUT d.txt size=-1 offset=0\r\nsmuggled\r\nMKDIR smuggled\r\n`,
    );
    expect(await f.readLine()).toMatch(/^TCPSEND 1 /);
    expect(await f.readLine()).toBe('OK version=1');
    expect(await f.readLine()).toBe(`OK size=5 sha256=${sha('alpha')}`);
    expect(await f.readLine()).toBe(`OK size=5 sha256=${sha('beta!')}`);
    expect(await f.readLine()).toMatch(/^OK size=6 /);
    await f.readExactly(6);
    expect(await f.readLine()).toBe(`OK sha256=${sha('hello\n')}`);
    expect(await f.readLine()).toBe(`OK size=5 sha256=${sha('gamma')}`);
    expect(await f.readLine()).toMatch(/^ERR BAD_REQUEST /);
    expect(await f.readLine()).toBeNull();
    expect(await fsp.readFile(path.join(s.root, 'b.txt'), 'utf8')).toBe('beta!');
    await expect(fsp.stat(path.join(s.root, 'smuggled'))).rejects.toThrow();
  });
});

describe('bare selectors', () => {
  it('a client that sends only a path line gets the raw file, then the close', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'blob.bin'), 300_000, 8);
    const f = await raw(s.port);
    await f.write('/blob.bin\r\n');
    const got = await f.readToEnd();
    expect(got.equals(data)).toBe(true);
  });

  it('a client that half-closes after its selector (nc -N, shutdown(SHUT_WR)) still gets the file', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'half.bin'), 3_000_000, 9);
    const f = await raw(s.port);
    await f.write('/half.bin\r\n');
    await f.end();
    expect((await f.readToEnd()).equals(data)).toBe(true);
  });

  it('a folder selector gets a plain listing; an empty line means the root', async () => {
    const s = await server();
    let f = await raw(s.port);
    await f.write('/sub\r\n');
    expect((await f.readToEnd()).toString()).toBe('a b.txt\n');
    f = await raw(s.port);
    await f.write('\r\n');
    expect((await f.readToEnd()).toString()).toBe('notes.txt\nsub/\n');
  });
});
