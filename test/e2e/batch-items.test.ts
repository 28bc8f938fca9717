/** MGET and MPUT items: which refusals are one item's own, and what a whole-request refusal still answers. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import nodeFs, { readlinkSync } from 'node:fs';
import type { RootFs } from '../../src/server/root/index.js';
import { withoutProc, wrapFs } from '../helpers/fs-wrap.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { startServer, type TestServer } from '../helpers/server.js';

const sha = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');
let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
const MODES = [
  { name: 'folders held open', fs: undefined },
  { name: 'folders checked', fs: withoutProc() },
];

describe.each(MODES)('batch items that are refused alone, or end the request ($name)', ({ fs }) => {
  it('an absolute MPUT item path is refused alone (BAD_PATH), and the next item is stored', async () => {
    const s = await startServer({ allowUpload: true, fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send(`MPUT / count=2\r\n/abs.txt size=1 sha256=${sha('x')}\r\nxok.txt size=2 sha256=${sha('ok')}\r\nok`);
    expect(await p.line()).toMatch(/^ERR BAD_PATH /);
    expect(await p.line()).toBe(`OK size=2 sha256=${sha('ok')}`);
  });

  it('items stored before a whole-request refusal are still answered (OK, then the ERR)', async () => {
    const s = await startServer({ allowUpload: true, fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send(`MPUT / count=2\r\nfirst.txt size=5 sha256=${sha('first')}\r\nfirst` + `big size=2000000 sha256=${sha('x')}\r\n`);
    const first = await p.line();
    expect(await fsp.readFile(path.join(s.root, 'first.txt'), 'utf8')).toBe('first'); // it was stored...
    expect(first).toBe(`OK size=5 sha256=${sha('first')}`); // ...so it must be answered
    expect(await p.line()).toMatch(/^ERR TOO_LARGE /);
  });

  it('an MGET item line with an unescaped space is BAD_REQUEST (as GET), not the file named by its first word', async () => {
    const s = await startServer({ fs });
    servers.push(s);
    await fsp.writeFile(path.join(s.root, 'my'), 'MY');
    await fsp.writeFile(path.join(s.root, 'my file.txt'), 'MYFILE');
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send('GET my file.txt\r\nMGET / count=1\r\nmy file.txt\r\n');
    expect(await p.line()).toMatch(/^ERR BAD_REQUEST /);
    expect(await p.line()).toMatch(/^ERR BAD_REQUEST /);
  });
});


describe.each(MODES)('batch requests that end the connection, or do not ($name)', ({ fs }) => {
  it('a bare MGET line (no folder) is refused and the connection closed: its items are not run as requests', async () => {
    const s = await startServer({ fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send('MGET\r\nQUIT\r\n');
    expect(await p.line()).toMatch(/^ERR BAD_REQUEST /);
    expect((await p.untilClosed()).toString()).toBe(''); // not "OK" for the QUIT
  });

  it('an MPUT item with a bad mode or mtime is refused alone, and the next item is stored', async () => {
    const s = await startServer({ allowUpload: true, fs });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send(
      `MPUT / count=3\r\na.txt size=1 sha256=${sha('a')} mode=800\r\na` +
        `b.txt size=1 sha256=${sha('b')} mtime=99999999999999999999\r\nb` +
        `c.txt size=1 sha256=${sha('c')}\r\nc`,
    );
    expect(await p.line()).toMatch(/^ERR BAD_REQUEST /);
    expect(await p.line()).toMatch(/^ERR BAD_REQUEST /);
    expect(await p.line()).toBe(`OK size=1 sha256=${sha('c')}`);
    expect((await fsp.readdir(s.root)).sort()).toEqual(['c.txt']);
  });
});

describe('faults on the synchronous path stay one item\'s (or one burst\'s) own', () => {
  /** node:fs, with the calls in `overrides` replaced. */
  const faulty = (overrides: Partial<RootFs>): RootFs => wrapFs(overrides);

  it('a read error on one MGET item is that item\'s ERR; the next item still arrives', async () => {
    const s = await startServer({
      fs: faulty({
        readSync: (fd, buffer, offset, length, position) => {
          if (readlinkSync(`/proc/self/fd/${fd}`).endsWith('bad.txt')) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
          return nodeFs.readSync(fd, buffer, offset, length, position);
        },
      }),
    });
    servers.push(s);
    await fsp.writeFile(path.join(s.root, 'bad.txt'), 'unreadable');
    await fsp.writeFile(path.join(s.root, 'good.txt'), 'good');
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send('MGET / count=2\r\nbad.txt\r\ngood.txt\r\n');
    expect(await p.line()).toMatch(/^ERR INTERNAL .*bad\.txt/);
    expect(await p.line()).toMatch(/^OK size=4 /);
    expect((await p.bytes(4)).toString()).toBe('good');
    expect(await p.line()).toBe(`OK sha256=${sha('good')}`);
    expect(await p.sendLine('QUIT').then(() => p.line())).toBe('OK');
  });

  it('a folder that cannot be fsynced: the files of that burst are answered with the error, not OK, and the connection stays in step', async () => {
    const folderFds = new Set<number>();
    const s = await startServer({
      allowUpload: true,
      fs: faulty({
        openSync: (file, flags, mode) => {
          const fd = nodeFs.openSync(file, flags, mode);
          if (flags === 'r' && nodeFs.fstatSync(fd).isDirectory()) folderFds.add(fd);
          return fd;
        },
        closeSync: (fd) => {
          folderFds.delete(fd);
          nodeFs.closeSync(fd);
        },
        fsyncSync: (fd) => {
          if (folderFds.has(fd)) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
          nodeFs.fsyncSync(fd);
        },
      }),
    });
    servers.push(s);
    const p = await peers.connect(s.port);
    await p.hello();
    await p.send(`MPUT up count=2\r\na.txt size=1 sha256=${sha('a')}\r\nab.txt size=1 sha256=${sha('x')}\r\nb`);
    expect(await p.line()).toMatch(/^ERR INTERNAL stored but not made durable/);
    expect(await p.line()).toMatch(/^ERR CHECKSUM_MISMATCH /);
    expect(await p.sendLine('QUIT').then(() => p.line())).toBe('OK');
  });
});
