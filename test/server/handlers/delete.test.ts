/** DELETE over real loopback sockets: what it removes, what it never touches, and when it is refused. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatRequest, parseRequest } from '../../../src/protocol/index.js';
import { PeerPool } from '../../helpers/raw-peer.js';
import { startServer, tempDir, type TestServer } from '../../helpers/server.js';

let servers: TestServer[] = [];
const peers = new PeerPool();
afterEach(async () => {
  peers.destroyAll();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serveWith(options: { allowDelete?: boolean; allowUpload?: boolean } = {}) {
  const base = await fsp.realpath(await tempDir('tcpsend-delete-'));
  const root = path.join(base, 'data');
  const outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(root, 'tree', 'deep', 'er'), { recursive: true });
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'keep.txt'), 'outside');
  await fsp.writeFile(path.join(root, 'a.txt'), 'a');
  await fsp.writeFile(path.join(root, 'tree', 'x.txt'), 'x');
  await fsp.writeFile(path.join(root, 'tree', '.hidden'), 'h');
  await fsp.writeFile(path.join(root, 'tree', 'deep', 'er', 'y.txt'), 'y');
  await fsp.symlink(outside, path.join(root, 'tree', 'out-link'));
  await fsp.symlink(path.join(outside, 'keep.txt'), path.join(root, 'file-link'));
  const s = await startServer({ root, ...options });
  servers.push(s);
  const p = await peers.connect(s.port);
  const greeting = await p.hello();
  return { s, p, root, outside, greeting };
}

describe('DELETE', () => {
  it('parses and formats as DELETE <path>', () => {
    expect(parseRequest('DELETE a%20b/c')).toEqual({ verb: 'DELETE', path: 'a b/c' });
    expect(formatRequest({ verb: 'DELETE', path: 'a b/c' })).toBe('DELETE a%20b/c');
  });

  it('is refused FORBIDDEN unless the server allows it, and then not in the greeting', async () => {
    const { p, root, greeting } = await serveWith({ allowUpload: true });
    expect(greeting).not.toMatch(/caps=\S*delete/);
    await p.sendLine('DELETE a.txt');
    expect(await p.line()).toMatch(/^ERR FORBIDDEN .*--allow-delete/);
    expect(await fsp.readFile(path.join(root, 'a.txt'), 'utf8')).toBe('a');
  });

  it('removes a file, a symlink (never what it leads to) and a folder with all in it', async () => {
    const { p, root, outside, greeting } = await serveWith({ allowDelete: true });
    expect(greeting).toMatch(/caps=\S*\bdelete\b/);
    await p.sendLine('DELETE a.txt');
    expect(await p.line()).toBe('OK');
    await p.sendLine('DELETE file-link');
    expect(await p.line()).toBe('OK');
    await p.sendLine('DELETE tree');
    expect(await p.line()).toBe('OK');
    expect((await fsp.readdir(root)).sort()).toEqual([]);
    expect(await fsp.readdir(outside)).toEqual(['keep.txt']);
    expect(await fsp.readFile(path.join(outside, 'keep.txt'), 'utf8')).toBe('outside');
  });

  it('never the root itself, nothing outside, nothing missing', async () => {
    const { p, root } = await serveWith({ allowDelete: true });
    for (const target of ['/', '.', '']) {
      await p.sendLine(`DELETE ${target === '' ? '/' : target}`);
      expect(await p.line()).toMatch(/^ERR FORBIDDEN /);
    }
    await p.sendLine('DELETE ../outside');
    expect(await p.line()).toMatch(/^ERR BAD_PATH /);
    await p.sendLine('DELETE tree/out-link/keep.txt');
    expect(await p.line()).toMatch(/^ERR FORBIDDEN /);
    await p.sendLine('DELETE nope.txt');
    expect(await p.line()).toMatch(/^ERR NOT_FOUND /);
    await p.sendLine('DELETE tree/.hidden');
    expect(await p.line()).toMatch(/^ERR FORBIDDEN .*hidden/);
    expect((await fsp.readdir(root)).sort()).toEqual(['a.txt', 'file-link', 'tree']);
  });
});
