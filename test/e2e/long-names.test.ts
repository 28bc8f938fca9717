/**
 * Names near NAME_MAX (issue 14, finding 11): a file whose name is 242-255 bytes goes up with
 * put and comes back with get, alone and in a folder get, with the other files of the batch.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/index.js';
import { ReconnectingClient } from '../../src/client/retry.js';
import { getTree } from '../../src/client/tree.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

let servers: TestServer[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('a name near NAME_MAX', () => {
  it('254 bytes: up with put, back with get, verified', async () => {
    const s = await startServer({ allowUpload: true });
    servers.push(s);
    const src = await tempDir();
    const name = `${'n'.repeat(250)}.txt`;
    expect(Buffer.byteLength(name)).toBe(254);
    await fsp.writeFile(path.join(src, name), 'long name, short body');
    const up = await putFile(s.target, path.join(src, name), name);
    expect(up.bytes).toBe(21);
    expect(await fsp.readFile(path.join(s.root, name), 'utf8')).toBe('long name, short body');
    const out = await tempDir();
    const down = await getFile(s.target, name, path.join(out, name));
    expect(down.digest).toBe(up.digest);
    expect(await fsp.readFile(path.join(out, name), 'utf8')).toBe('long name, short body');
    expect(await fsp.readdir(out)).toEqual([name]);
  });

  it('in a folder get, every name from 242 to 255 bytes arrives with the rest of the batch', async () => {
    const s = await startServer();
    servers.push(s);
    const tree = path.join(s.root, 'tree');
    await fsp.mkdir(tree);
    const names = ['short.txt'];
    for (let length = 242; length <= 255; length++) names.push('é'.repeat(Math.floor((length - 4) / 2)) + 'x'.repeat((length - 4) % 2) + '.bin');
    for (const name of names) await fsp.writeFile(path.join(tree, name), `content of ${Buffer.byteLength(name)}`);
    expect(names.slice(1).map((n) => Buffer.byteLength(n))).toEqual(Array.from({ length: 14 }, (_, i) => 242 + i));
    const client = new ReconnectingClient(s.target, { retries: 0 });
    closers.push(() => client.close());
    const dest = path.join(await tempDir(), 'copy');
    const summary = await getTree(client, 'tree', dest);
    expect(summary.failed).toBe(0);
    expect((await fsp.readdir(dest)).sort()).toEqual([...names].sort());
    for (const name of names) expect(await fsp.readFile(path.join(dest, name), 'utf8')).toBe(`content of ${Buffer.byteLength(name)}`);
  });
});
