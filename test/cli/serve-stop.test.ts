/**
 * `tcpsend serve` stops on SIGTERM while it hashes a large file for a client (issue 14,
 * finding 6; gap 14-e): the library's close() does not wait for a hash (test/server/
 * cancel.test.ts), and neither does the command, whose process must not linger until a hash
 * of many gigabytes is done.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startServe, stopAllCli } from '../helpers/cli.js';
import { connectRaw, isCloseError, type RawPeer } from '../helpers/raw-peer.js';
import { tempDir } from '../helpers/server.js';

beforeAll(assertBuilt);
const peers: RawPeer[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await stopAllCli();
  for (const folder of folders.splice(0)) await fsp.rm(folder, { recursive: true, force: true });
});

/** Bytes a process has read so far (all its threads, the hashing worker included). */
async function bytesRead(pid: number): Promise<number> {
  const io = await fsp.readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}

describe.skipIf(process.platform !== 'linux')('tcpsend serve and SIGTERM during a long hash', () => {
  it('exits 0 after at most the shutdown grace, without finishing the hash; the client gets no digest', async () => {
    const root = await tempDir('tcpsend-serve-stop-');
    folders.push(root);
    // 64 GiB, sparse: its SHA-256 takes tens of seconds here even from holes.
    const handle = await fsp.open(path.join(root, 'huge.bin'), 'w');
    await handle.truncate(64 * 1024 ** 3);
    await handle.close();
    const serve = await startServe(root);
    const pid = serve.child.pid!;
    const p = await connectRaw(serve.port, { timeoutMs: 30_000 });
    peers.push(p);
    await p.hello();
    const before = await bytesRead(pid);
    await p.sendLine('HASH huge.bin checksum=sha256');
    // The hash is under way: the server has read a good 256 MiB of the file.
    const deadline = Date.now() + 20_000;
    while ((await bytesRead(pid)) - before < 256 * 1024 ** 2) {
      expect(Date.now() < deadline && serve.running, `the hash to start reading\n${serve.stderr}`).toBe(true);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stopped = await serve.stop(20_000);
    // Exited by itself, with the status of a clean shutdown: not SIGKILLed after 20 s, so it did
    // not wait for the hash (64 GiB of SHA-256 takes longer than that). A hash in flight is
    // given the shutdown grace a transfer gets (5 s; measured 5.05 s), then cut.
    expect(stopped, serve.stderr).toMatchObject({ code: 0, signal: null });
    expect(serve.stderr).toMatch(/shutting down/);
    // The client never got a digest: an ERR line (SHUTTING_DOWN or INTERRUPTED) or the close.
    let answer: string | null = null;
    try {
      answer = await p.line();
    } catch (err) {
      if (!isCloseError(err)) throw err;
    }
    if (answer !== null) expect(answer).toMatch(/^ERR /);
  }, 60_000);
});
