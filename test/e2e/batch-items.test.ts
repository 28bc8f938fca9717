/** MGET and MPUT items: which refusals are one item's own, and what a whole-request refusal still answers. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FsPromises } from '../../src/storage/fs-promises.js';
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
  { name: 'sync', fs: undefined },
  { name: 'injected fs', fs: fsp as unknown as FsPromises },
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

