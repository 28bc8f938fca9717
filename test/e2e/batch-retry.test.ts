/**
 * A file refused inside a batch for a reason a new attempt may cure (BUSY: another upload is
 * writing its path) is tried again on its own, the way a single put waits for the path.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReconnectingClient } from '../../src/client/retry.js';
import { putTree } from '../../src/client/tree.js';
import { PeerPool } from '../helpers/raw-peer.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const servers: TestServer[] = [];
const peers = new PeerPool();
const dirs: string[] = [];
const clients: ReconnectingClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  peers.destroyAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
});

describe('a batch item that is BUSY', () => {
  it('is put again on its own once the other upload lets go, and the folder arrives whole', async () => {
    const s = await startServer({ allowUpload: true });
    servers.push(s);
    dirs.push(s.root);
    const src = await tempDir('tcpsend-busy-src-');
    dirs.push(src);
    await fsp.mkdir(path.join(src, 'tree'));
    for (let i = 0; i < 20; i++) await fsp.writeFile(path.join(src, 'tree', `f${i}.txt`), `file ${i}\n`);

    // Another client starts an upload to tree/f7.txt and stalls mid-body: it holds the path.
    const other = await peers.connect(s.port);
    await other.hello();
    await fsp.mkdir(path.join(s.root, 'tree'));
    await other.send('PUT tree/f7.txt size=100\r\n');
    expect(await other.line()).toBe('OK offset=0');
    await other.send('DATA offset=0\r\n' + 'x'.repeat(10));
    // It gives up (cut) once the batch has met it, which lets the path go: after the MPUT is
    // answered, not after a fixed time, which a loaded machine may not reach the batch within.
    s.server.on('request', (entry) => {
      if (entry.verb === 'MPUT') other.destroy();
    });

    const client = new ReconnectingClient(s.target, { retries: 3, backoffMs: 10, idleTimeoutMs: 5000 });
    clients.push(client);
    const summary = await putTree(client, path.join(src, 'tree'), 'tree');
    expect(summary.failed).toBe(0);
    expect(summary.sent).toBe(20);
    for (let i = 0; i < 20; i++) {
      expect(sha(await fsp.readFile(path.join(s.root, 'tree', `f${i}.txt`)))).toBe(sha(`file ${i}\n`));
    }
    // The batch met BUSY for f7, and the file then went on its own as a PUT.
    expect(s.log.some((entry) => entry.verb === 'MPUT' && /1 refused/.test(entry.note ?? ''))).toBe(true);
    expect(s.log.some((entry) => entry.verb === 'PUT' && entry.path?.endsWith('tree/f7.txt') && entry.result === 'OK')).toBe(true);
  });
});
