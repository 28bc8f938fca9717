/** SYMLINK and LIST links=1 over real loopback sockets. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatEntry, formatRequest, parseEntry, parseRequest } from '../../../src/protocol/index.js';
import { PeerPool, type RawPeer } from '../../helpers/raw-peer.js';
import { startServer, tempDir, type TestServer } from '../../helpers/server.js';

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serveWith(options: { allowUpload?: boolean; allowOverwrite?: boolean } = {}) {
  const base = await fsp.realpath(await tempDir('tcpsend-symlink-'));
  const root = path.join(base, 'data');
  await fsp.mkdir(path.join(root, 'sub'), { recursive: true });
  await fsp.mkdir(path.join(base, 'outside'));
  await fsp.writeFile(path.join(root, 'a.txt'), 'a');
  await fsp.writeFile(path.join(root, 'sub', 'b.txt'), 'b');
  const s = await startServer({ root, ...options });
  servers.push(s);
  const p = await peers.connect(s.port);
  const greeting = await p.hello();
  return { s, p, root, base, greeting };
}

async function listing(p: RawPeer, line: string): Promise<string[]> {
  await p.sendLine(line);
  expect(await p.line()).toBe('OK type=dir');
  const lines: string[] = [];
  for (let l = await p.line(); l !== '.'; l = await p.line()) lines.push(l!);
  return lines;
}

describe('SYMLINK', () => {
  it('parses and formats with the target encoded as any value', () => {
    const req = { verb: 'SYMLINK' as const, path: 'd/link name', target: '../a b/ü.txt', overwrite: false };
    expect(formatRequest(req)).toBe('SYMLINK d/link%20name target=../a%20b/%C3%BC.txt');
    expect(parseRequest(formatRequest(req))).toEqual(req);
    expect(parseRequest('SYMLINK x target=y overwrite=1')).toEqual({ verb: 'SYMLINK', path: 'x', target: 'y', overwrite: true });
    expect(() => parseRequest('SYMLINK x')).toThrow(expect.objectContaining({ code: 'TCPSEND_ERR_BAD_REQUEST' }));
  });

  it('makes a relative symlink inside the root, in new folders too, and says so in the greeting', async () => {
    const { p, root, greeting } = await serveWith({ allowUpload: true });
    expect(greeting).toMatch(/caps=\S*\bsymlink\b/);
    await p.sendLine('SYMLINK sub/to-a target=../a.txt');
    expect(await p.line()).toBe('OK');
    expect(await fsp.readlink(path.join(root, 'sub', 'to-a'))).toBe('../a.txt');
    await p.sendLine('SYMLINK new/deeper/link target=../../sub');
    expect(await p.line()).toBe('OK');
    expect(await fsp.readlink(path.join(root, 'new', 'deeper', 'link'))).toBe('../../sub');
    // The same link again is nothing to do.
    await p.sendLine('SYMLINK sub/to-a target=../a.txt');
    expect(await p.line()).toBe('OK identical=1');
    // And it is served as what it leads to.
    await p.sendLine('GET sub/to-a');
    expect(await p.line()).toMatch(/^OK size=1 /);
  });

  it('refuses targets that are absolute or lead out, and a read-only server', async () => {
    const { p, root } = await serveWith({ allowUpload: true });
    for (const target of ['/etc/passwd', '../../outside', '..', 'sub/../../x', 'sub/../..']) {
      await p.sendLine(formatRequest({ verb: 'SYMLINK', path: 'l', target, overwrite: false }));
      expect(await p.line()).toMatch(/^ERR FORBIDDEN /);
    }
    await p.sendLine(formatRequest({ verb: 'SYMLINK', path: 'l', target: 'x.tcpsend-part', overwrite: false }));
    expect(await p.line()).toMatch(/^ERR FORBIDDEN .*partial/);
    await fsp.symlink('../outside', path.join(root, 'out'));
    await p.sendLine(formatRequest({ verb: 'SYMLINK', path: 'l', target: 'out/x', overwrite: false }));
    expect(await p.line()).toMatch(/^ERR FORBIDDEN /);
    expect((await fsp.readdir(root)).sort()).toEqual(['a.txt', 'out', 'sub']);
    const ro = await serveWith();
    await ro.p.sendLine('SYMLINK l target=a.txt');
    expect(await ro.p.line()).toMatch(/^ERR READ_ONLY /);
  });

  it('replaces an entry under PUT\'s rules: EXISTS without consent, never a folder', async () => {
    const { p, root } = await serveWith({ allowUpload: true });
    await p.sendLine('SYMLINK a.txt target=sub/b.txt');
    expect(await p.line()).toMatch(/^ERR EXISTS /);
    await p.sendLine('SYMLINK a.txt target=sub/b.txt overwrite=1');
    expect(await p.line()).toMatch(/^ERR EXISTS .*--allow-overwrite/);
    await p.sendLine('SYMLINK sub target=a.txt overwrite=1');
    expect(await p.line()).toMatch(/^ERR IS_DIRECTORY /);
    expect(await fsp.readFile(path.join(root, 'a.txt'), 'utf8')).toBe('a');
    const allowed = await serveWith({ allowUpload: true, allowOverwrite: true });
    await allowed.p.sendLine('SYMLINK a.txt target=sub/b.txt overwrite=1');
    expect(await allowed.p.line()).toBe('OK');
    expect(await fsp.readlink(path.join(allowed.root, 'a.txt'))).toBe('sub/b.txt');
  });
});

describe('LIST links=1', () => {
  it('lists links that stay inside as type=link target=..., and nothing changes without it', async () => {
    const { p, root } = await serveWith({ allowUpload: true });
    await fsp.symlink('../a.txt', path.join(root, 'sub', 'to a'));
    await fsp.symlink('../outside', path.join(root, 'out'));
    const linked = (await listing(p, 'LIST / recursive=1 links=1')).map(parseEntry);
    expect(linked.map((e) => [e.path, e.type, e.target])).toEqual([
      ['a.txt', 'file', undefined],
      ['sub', 'dir', undefined],
      ['sub/b.txt', 'file', undefined],
      ['sub/to a', 'link', '../a.txt'],
    ]);
    const plain = (await listing(p, 'LIST / recursive=1')).map(parseEntry);
    expect(plain.map((e) => [e.path, e.type])).toEqual([
      ['a.txt', 'file'],
      ['sub', 'dir'],
      ['sub/b.txt', 'file'],
      ['sub/to a', 'file'],
    ]);
  });

  it('entries round-trip through format and parse, with the target encoded', () => {
    const entry = { path: 'l ü', type: 'link' as const, size: null, target: '../a b', mtimeMs: 5, mode: 0o777 };
    expect(formatEntry(entry)).toBe('l%20%C3%BC type=link target=../a%20b mtime=5 mode=777');
    expect(parseEntry(formatEntry(entry))).toEqual(entry);
    expect(() => parseEntry('x type=link mtime=1 mode=777')).toThrow(/without target/);
  });
});
