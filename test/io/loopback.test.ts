import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_READ_HIGH_WATER_MARK, SocketFile } from '../../src/index.js';
import { loopbackPair } from '../helpers/loopback.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** Whether this host can listen on `host` (IPv6 may be off in a container). */
async function canListen(host: string): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

const ipv6 = await canListen('::1');

/** V8's gc(), without needing --expose-gc on the worker's command line. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;
let path: string;
const body = seededRandom(21).bytes(6 * 1024 * 1024 + 4321);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tcpsend-loopback-'));
  path = join(dir, 'body.bin');
  writeFileSync(path, body);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * One upload as the protocol will frame it: a request line, the body by sendfile, then a reply
 * line. The receiver pipes the body to a file with pipeTo, hashing each chunk on the way.
 */
async function roundTrip(host: string): Promise<void> {
  const pair = await loopbackPair(host);
  try {
    const client = new SocketFile(pair.client);
    const server = new SocketFile(pair.server);
    const dest = join(dir, `received-${host.replace(/\W/g, '_')}.bin`);

    const serving = (async () => {
      const request = await server.readLine();
      const [verb, sizeText] = (request ?? '').split(' ');
      expect(verb).toBe('PUT');
      const size = Number(sizeText);
      const hash = createHash('sha256');
      const out = createWriteStream(dest);
      const moved = await server.pipeTo(out, size, { onChunk: (chunk) => hash.update(chunk) });
      out.end();
      await once(out, 'close');
      await server.writeLine(`OK ${moved} ${hash.digest('hex')}`);
      expect(await server.readLine()).toBe('BYE');
      await server.end();
    })();

    await client.writeLine(`PUT ${body.length}`);
    const sent = await client.sendfile(path, 0, body.length);
    expect(sent).toBe(body.length);
    const reply = await client.readLine();
    expect(reply).toBe(`OK ${body.length} ${sha256(body)}`);
    await client.writeLine('BYE');
    expect(await client.readLine()).toBeNull();
    await serving;
    expect(sha256(readFileSync(dest))).toBe(sha256(body));
  } finally {
    await pair.close();
  }
}

describe('over real loopback sockets', () => {
  it('IPv4 127.0.0.1: request line, sendfile → pipeTo of a 6 MiB random body, SHA-256 equal on both sides', async () => {
    await roundTrip('127.0.0.1');
  });

  it.skipIf(!ipv6)(
    ipv6
      ? 'IPv6 ::1: request line, sendfile → pipeTo of a 6 MiB random body, SHA-256 equal on both sides'
      : 'IPv6 ::1 round trip (SKIPPED: this host cannot bind ::1)',
    async () => {
      await roundTrip('::1');
    },
  );

  it('300 MiB to a slow reader: memory stays bounded and the read buffer stays under its mark', async () => {
    const total = 300 * 1024 * 1024;
    const writeSize = 1024 * 1024;
    const readSize = 64 * 1024;
    const pair = await loopbackPair();
    try {
      const writer = new SocketFile(pair.client);
      const reader = new SocketFile(pair.server);
      // One buffer written over and over: its content never changes, so sharing it is safe.
      // Each byte says where it sits, so a lost or reordered chunk shows in the comparison.
      const block = Buffer.alloc(writeSize);
      for (let i = 0; i < writeSize; i++) block[i] = (i * 7 + (i >> 16)) & 0xff;

      // Every socket read allocates a fresh 64 KiB buffer, and V8 collects dead ones only once
      // some tens of MiB of them piled up. Collecting every 8 MiB measures what is *held*, so
      // a queue that grew without bound (185 MiB here with no pause) cannot hide in the noise.
      const gc = exposeGc();
      gc();
      const before = process.memoryUsage();
      let maxRss = before.rss;
      let maxArrayBuffers = before.arrayBuffers;
      let maxBuffered = 0;
      let maxWriterQueued = 0;
      const sample = () => {
        gc();
        const now = process.memoryUsage();
        maxRss = Math.max(maxRss, now.rss);
        maxArrayBuffers = Math.max(maxArrayBuffers, now.arrayBuffers);
      };

      const writing = (async () => {
        for (let sent = 0; sent < total; sent += writeSize) {
          await writer.write(block);
          maxWriterQueued = Math.max(maxWriterQueued, pair.client.writableLength);
        }
        await writer.end();
      })();

      let got = 0;
      let reads = 0;
      while (got < total) {
        const piece = await reader.readExactly(readSize);
        const at = got % writeSize;
        if (!piece.equals(block.subarray(at, at + readSize))) throw new Error(`wrong bytes at ${got}`);
        got += piece.length;
        reads += 1;
        maxBuffered = Math.max(maxBuffered, reader.bufferedLength);
        // The slow part: every MiB the reader stops for a moment while the writer does not.
        if (reads % 16 === 0) await sleep(1);
        if (reads % 128 === 0) sample();
      }
      await writing;
      expect(await reader.read(1)).toBeNull();
      sample();

      const MiB = 1024 * 1024;
      expect(got).toBe(total);
      // The writer waited for drain: never more than one write queued beyond the socket's mark.
      expect(maxWriterQueued).toBeLessThanOrEqual(pair.client.writableHighWaterMark + writeSize);
      // The reader paused the socket: its queue never passed the mark by more than one chunk.
      expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_READ_HIGH_WATER_MARK + readSize);
      // Held memory stays near the read mark and socket buffers (about 15 MiB measured), far
      // from the 300 MiB that passed: a queue that kept consumed chunks alive held 50-75 MiB.
      expect((maxRss - before.rss) / MiB).toBeLessThan(32);
      expect((maxArrayBuffers - before.arrayBuffers) / MiB).toBeLessThan(32);
    } finally {
      await pair.close();
    }
  }, 30_000);
});
