/** Get and put through the library against a real server on loopback, real temp folders. */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, putFile, listRemote, TcpsendClient } from '../../src/client/index.js';
import { startServer, tempDir, writeRandomFile, type TestServer } from '../helpers/server.js';
import { blake3Hex } from '../helpers/digests.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

async function entriesOf(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

describe('get', () => {
  for (const [label, size] of [
    ['empty', 0],
    ['1-byte', 1],
    ['multi-MiB', 5 * 1024 * 1024 + 3],
  ] as const) {
    it(`fetches a ${label} file byte for byte, verified, with its mtime and mode`, async () => {
      const s = await server();
      const data = await writeRandomFile(path.join(s.root, 'f.bin'), size, size + 7);
      await fsp.chmod(path.join(s.root, 'f.bin'), 0o640);
      const when = new Date('2024-05-06T07:08:09.000Z');
      await fsp.utimes(path.join(s.root, 'f.bin'), when, when);
      const out = await tempDir();
      const result = await getFile(s.target, 'f.bin', path.join(out, 'f.bin'));
      const got = await fsp.readFile(path.join(out, 'f.bin'));
      expect(got.equals(data)).toBe(true);
      expect(result.digest).toBe(blake3Hex(data));
      expect(result.size).toBe(size);
      const st = await fsp.stat(path.join(out, 'f.bin'));
      expect(st.mode & 0o777).toBe(0o640);
      expect(st.mtime.getTime()).toBe(when.getTime());
      expect(await entriesOf(out)).toEqual(['f.bin']); // no part file left behind
    });
  }

  it('fetches names with spaces, Chinese and emoji', async () => {
    const s = await server();
    const name = '数据 报告 🎉 final (1).txt';
    await fsp.mkdir(path.join(s.root, 'sub dir'));
    await fsp.writeFile(path.join(s.root, 'sub dir', name), 'héllo\n');
    const out = await tempDir();
    await getFile(s.target, `sub dir/${name}`, path.join(out, name));
    expect(await fsp.readFile(path.join(out, name), 'utf8')).toBe('héllo\n');
    const listing = await listRemote(s.target, 'sub dir');
    expect(listing.map((e) => e.path)).toEqual([name]);
  });

  it('refuses to overwrite a different local file, and skips an identical one', async () => {
    const s = await server();
    await fsp.writeFile(path.join(s.root, 'a.txt'), 'server copy');
    const out = await tempDir();
    const dest = path.join(out, 'a.txt');
    await fsp.writeFile(dest, 'local copy!');
    await expect(getFile(s.target, 'a.txt', dest)).rejects.toMatchObject({ code: 'TCPSEND_ERR_EXISTS' });
    expect(await fsp.readFile(dest, 'utf8')).toBe('local copy!');
    const replaced = await getFile(s.target, 'a.txt', dest, { overwrite: true });
    expect(replaced.skipped).toBe(false);
    expect(await fsp.readFile(dest, 'utf8')).toBe('server copy');
    const again = await getFile(s.target, 'a.txt', dest);
    expect(again.skipped).toBe(true);
    expect(again.bytes).toBe(0);
  });

  it('a missing remote file is NOT_FOUND and leaves nothing locally', async () => {
    const s = await server();
    const out = await tempDir();
    await expect(getFile(s.target, 'nope.txt', path.join(out, 'nope.txt'))).rejects.toMatchObject({
      code: 'TCPSEND_ERR_NOT_FOUND',
    });
    expect(await entriesOf(out)).toEqual([]);
  });

  it('resumes from a local partial file after checking its prefix', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'big.bin'), 3 * 1024 * 1024, 5);
    const out = await tempDir();
    const part = path.join(out, '.big.bin.tcpsend-part');
    await fsp.writeFile(part, data.subarray(0, 1_000_000));
    const result = await getFile(s.target, 'big.bin', path.join(out, 'big.bin'));
    expect(result.resumedFrom).toBe(1_000_000);
    expect(result.bytes).toBe(data.length - 1_000_000);
    expect((await fsp.readFile(path.join(out, 'big.bin'))).equals(data)).toBe(true);
    expect(await entriesOf(out)).toEqual(['big.bin']);
  });

  it('discards a corrupted local partial file and starts over, saying so', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'big.bin'), 2 * 1024 * 1024, 6);
    const out = await tempDir();
    const bad = Buffer.from(data.subarray(0, 500_000));
    bad[1234] = bad[1234]! ^ 0xff;
    await fsp.writeFile(path.join(out, '.big.bin.tcpsend-part'), bad);
    const notices: string[] = [];
    const result = await getFile(s.target, 'big.bin', path.join(out, 'big.bin'), { onNotice: (m) => notices.push(m) });
    expect(result.resumedFrom).toBe(0);
    expect(notices.join('\n')).toMatch(/does not match.*starting over/);
    expect((await fsp.readFile(path.join(out, 'big.bin'))).equals(data)).toBe(true);
  });
});

describe('put', () => {
  for (const [label, size] of [
    ['empty', 0],
    ['1-byte', 1],
    ['multi-MiB', 4 * 1024 * 1024 + 11],
  ] as const) {
    it(`sends a ${label} file, verified, and it appears only under its name`, async () => {
      const s = await server({ allowUpload: true });
      const src = await tempDir();
      const data = await writeRandomFile(path.join(src, 'up.bin'), size, size + 3);
      const result = await putFile(s.target, path.join(src, 'up.bin'));
      expect(result.digest).toBe(blake3Hex(data));
      expect((await fsp.readFile(path.join(s.root, 'up.bin'))).equals(data)).toBe(true);
      expect(await entriesOf(s.root)).toEqual(['up.bin']);
    });
  }

  it('is refused by a read-only server with READ_ONLY', async () => {
    const s = await server();
    const src = await tempDir();
    await fsp.writeFile(path.join(src, 'x.txt'), 'x');
    await expect(putFile(s.target, path.join(src, 'x.txt'))).rejects.toMatchObject({ code: 'TCPSEND_ERR_READ_ONLY' });
    expect(await entriesOf(s.root)).toEqual([]);
  });

  it('refuses to overwrite a different file unless both sides agree; identical content is skipped', async () => {
    const s = await server({ allowUpload: true });
    const src = await tempDir();
    await fsp.writeFile(path.join(s.root, 'x.txt'), 'old');
    await fsp.writeFile(path.join(src, 'x.txt'), 'new content');
    await expect(putFile(s.target, path.join(src, 'x.txt'))).rejects.toMatchObject({ code: 'TCPSEND_ERR_EXISTS' });
    await expect(putFile(s.target, path.join(src, 'x.txt'), 'x.txt', { overwrite: true })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_EXISTS',
    });
    expect(await fsp.readFile(path.join(s.root, 'x.txt'), 'utf8')).toBe('old');

    const s2 = await server({ allowUpload: true, allowOverwrite: true, root: s.root });
    const done = await putFile(s2.target, path.join(src, 'x.txt'), 'x.txt', { overwrite: true });
    expect(done.skipped).toBe(false);
    expect(await fsp.readFile(path.join(s.root, 'x.txt'), 'utf8')).toBe('new content');
    const again = await putFile(s2.target, path.join(src, 'x.txt'));
    expect(again.skipped).toBe(true);
  });

  it('resumes a partial upload the server holds, and restarts when that part is corrupt', async () => {
    const s = await server({ allowUpload: true });
    const src = await tempDir();
    const data = await writeRandomFile(path.join(src, 'big.bin'), 3 * 1024 * 1024, 9);
    const partName = (await import('../../src/files/part-name.js')).partNameFor('big.bin');
    await fsp.writeFile(path.join(s.root, partName), data.subarray(0, 2_000_000));
    const resumed = await putFile(s.target, path.join(src, 'big.bin'));
    expect(resumed.resumedFrom).toBe(2_000_000);
    expect((await fsp.readFile(path.join(s.root, 'big.bin'))).equals(data)).toBe(true);

    await fsp.rm(path.join(s.root, 'big.bin'));
    const bad = Buffer.from(data.subarray(0, 1_000_000));
    bad[999_999] = bad[999_999]! ^ 1;
    await fsp.writeFile(path.join(s.root, partName), bad);
    const notices: string[] = [];
    const restarted = await putFile(s.target, path.join(src, 'big.bin'), 'big.bin', { onNotice: (m) => notices.push(m) });
    expect(restarted.resumedFrom).toBe(0);
    expect(notices.join('\n')).toMatch(/does not match.*starting over/);
    expect((await fsp.readFile(path.join(s.root, 'big.bin'))).equals(data)).toBe(true);
    expect(await entriesOf(s.root)).toEqual(['big.bin']);
  });

  it('puts into a sub-folder that does not exist yet', async () => {
    const s = await server({ allowUpload: true });
    const src = await tempDir();
    await fsp.writeFile(path.join(src, 'n.txt'), 'nested');
    await putFile(s.target, path.join(src, 'n.txt'), 'a/b/n.txt');
    expect(await fsp.readFile(path.join(s.root, 'a', 'b', 'n.txt'), 'utf8')).toBe('nested');
  });
});

describe('many clients', () => {
  it('serves 50 clients at once, each verified', async () => {
    const s = await server();
    const files = await Promise.all(
      Array.from({ length: 10 }, (_, i) => writeRandomFile(path.join(s.root, `f${i}.bin`), 200_000 + i, i + 1)),
    );
    const out = await tempDir();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => getFile(s.target, `f${i % 10}.bin`, path.join(out, `c${i}.bin`))),
    );
    for (let i = 0; i < 50; i++) {
      expect(results[i]!.digest).toBe(blake3Hex(files[i % 10]!));
      expect((await fsp.readFile(path.join(out, `c${i}.bin`))).equals(files[i % 10]!)).toBe(true);
    }
  });

  it('one client failing mid-transfer does not disturb another', async () => {
    const s = await server();
    const data = await writeRandomFile(path.join(s.root, 'f.bin'), 2_000_000, 3);
    const rude = await TcpsendClient.connect(s.target);
    const out = await tempDir();
    const good = getFile(s.target, 'f.bin', path.join(out, 'good.bin'));
    rude.connection.file.stream.write('GET f.bin\r\n');
    rude.connection.close();
    const result = await good;
    expect(result.digest).toBe(blake3Hex(data));
  });
});
