/**
 * The folder-swap race (issue 12, Done when; issue 14, finding 1) on the verbs and doors that
 * test/security/folder-swap.test.ts leaves out: LIST (recursive, links=1), STAT hash=1, HASH,
 * the bare selector, and HTTP (a file, a folder page, `?tar`, PUT, a form POST). While a local
 * user swaps a served folder with a symlink to an outside folder, over and over, none of them
 * may show a byte, a name or a digest of what is outside, nor create or change anything there.
 *
 * Each case runs under both swappers: four renames, and the atomic renameat2(RENAME_EXCHANGE)
 * of the report (the name then always holds the folder or the link, never nothing).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exchange } from '../http/raw.js';
import { blake3Hex, sha256Hex } from '../helpers/digests.js';
import type { RawPeer } from '../helpers/raw-peer.js';
import { endedAfterEachTest, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { startSwapper, type SwapMode } from '../helpers/swapper.js';
import { snapshot } from './jail.js';

const SECRET = 'OUTSIDE-SECRET-c41e9';
/** Outside only, and never named in a request: its name in a reply is a leak. */
const UNNAMED = 'OUTSIDE-NAME-7f3a.txt';
/** Outside only, and asked for: any answer but a refusal is a leak. */
const ASKED = 'asked-only-outside.txt';
/** How long each case swaps. */
const SWAP_MS = 1200;

const { servers, peers, cleanups } = endedAfterEachTest();

/** What a reply must never hold: the secret, the outside-only name, the secret's digests. */
const MARKERS = [
  SECRET,
  'OUTSIDE-NAME',
  sha256Hex(SECRET),
  blake3Hex(SECRET),
  Buffer.from(sha256Hex(SECRET), 'hex').toString('base64'),
];

function leakIn(bytes: Buffer | string): string | null {
  const text = Buffer.isBuffer(bytes) ? bytes.toString('latin1') : bytes;
  return MARKERS.find((m) => text.includes(m)) ?? null;
}

/**
 * The race must end in a refusal (FORBIDDEN, NOT_FOUND...), never in an internal error: that
 * would be a file system error the Root did not expect, the sign of a path it did not guard.
 */
function internalErrors(s: TestServer): string[] {
  return s.log.filter((entry) => entry.result === 'INTERNAL').map((entry) => `${entry.verb} ${entry.path}: ${entry.message}`);
}

/** A reply to a request for ASKED that is not a refusal (tcpsend ERR, Gopher's 3, HTTP 4xx). */
function servedAsked(request: string, reply: string): boolean {
  return request.includes(ASKED) && !/^(ERR |3[A-Z_]+: |HTTP\/1\.1 4\d\d )/.test(reply);
}

/** The race really raced (swaps and rounds), nothing leaked, and the server failed nowhere. */
function expectRacedClean({ swaps, rounds }: { swaps: number; rounds: number }, leaks: string[], s: TestServer): void {
  expect(swaps).toBeGreaterThan(10);
  expect(rounds).toBeGreaterThan(3);
  expect(leaks).toEqual([]);
  expect(internalErrors(s)).toEqual([]);
}

/**
 * base/data (served) holds d/ and link -> base/outside. The same names sit on both sides, so a
 * read that follows the swapped link finds the outside file under the name it asked for.
 */
async function jail() {
  const base = await fsp.realpath(await tempDir('tcpsend-swapr-'));
  cleanups.push(() => fsp.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'data');
  const outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(root, 'd', 'x'), { recursive: true });
  await fsp.mkdir(path.join(outside, 'x'), { recursive: true });
  for (const at of ['secret.txt', 'x/secret.txt', UNNAMED, ASKED, `x/${UNNAMED}`]) await fsp.writeFile(path.join(outside, at), SECRET);
  await fsp.symlink('x/secret.txt', path.join(outside, 'to-secret'));
  await fsp.writeFile(path.join(root, 'd', 'secret.txt'), 'inside, readable');
  await fsp.writeFile(path.join(root, 'd', 'x', 'secret.txt'), 'inside x, readable too');
  await fsp.symlink('x/secret.txt', path.join(root, 'd', 'to-secret'));
  await fsp.symlink(outside, path.join(root, 'link'));
  return { root, outside, folder: path.join(root, 'd'), link: path.join(root, 'link') };
}

/**
 * Swap `folder` and `link` for SWAP_MS while `work` runs over and over (each round on its own
 * promise chain, `workers` of them); returns the swap count and the rounds done.
 */
async function race(
  j: { folder: string; link: string },
  mode: SwapMode,
  workers: number,
  round: (worker: number, n: number) => Promise<void>,
): Promise<{ swaps: number; rounds: number }> {
  const swapper = await startSwapper(j.folder, j.link, SWAP_MS, { mode, evict: true });
  let finished = false;
  const done = swapper.done.finally(() => (finished = true));
  let rounds = 0;
  const worker = async (id: number) => {
    for (let n = 0; !finished; n++) {
      await round(id, n);
      rounds += 1;
    }
  };
  await Promise.all([done, ...Array.from({ length: workers }, (_, id) => worker(id))]);
  return { swaps: await done, rounds };
}

/** One tcpsend reply: a LIST's lines up to '.', or a single line. */
async function listReply(p: RawPeer): Promise<string> {
  const first = (await p.line())!;
  if (!first.startsWith('OK')) return first;
  const lines = [first];
  for (;;) {
    const line = (await p.line())!;
    lines.push(line);
    if (line === '.') return lines.join('\n');
  }
}

const MODES: SwapMode[] = ['exchange', 'renames'];

describe.skipIf(process.platform !== 'linux').each(MODES)('a served folder swapped for a symlink to the outside (%s)', (mode) => {
  it('LIST (recursive, links=1), STAT hash=1 and HASH never show an outside name, byte or digest', async () => {
    const j = await jail();
    const before = await snapshot(j.outside, '');
    const s = await startServer({ root: j.root });
    servers.push(s);
    const leaks: string[] = [];
    const requests = [
      'LIST d recursive=1',
      'LIST d recursive=1 links=1',
      'LIST d/x',
      'STAT d/secret.txt hash=1',
      'STAT d/x/secret.txt hash=1 checksum=blake3',
      `STAT d/${ASKED} hash=1`,
      'STAT d/to-secret hash=1',
      'HASH d/secret.txt',
      'HASH d/x/secret.txt checksum=blake3',
      'HASH d/to-secret checksum=blake3',
      `HASH d/${ASKED}`,
    ];
    const open = new Map<number, RawPeer>();
    const { swaps, rounds } = await race(j, mode, 3, async (id) => {
      let p = open.get(id);
      if (p === undefined) {
        p = await peers.connect(s.port, { timeoutMs: 20_000 });
        await p.hello();
        open.set(id, p);
      }
      for (const request of requests) {
        await p.sendLine(request);
        const reply = request.startsWith('LIST') ? await listReply(p) : (await p.line())!;
        const leak = leakIn(reply) ?? (servedAsked(request, reply) ? reply : null);
        if (leak !== null) leaks.push(`${request} -> ${leak}`);
      }
    });
    for (const p of open.values()) {
      await p.sendLine('QUIT');
      if (leakIn(p.receivedBytes()) !== null) leaks.push('somewhere in the stream');
    }
    expectRacedClean({ swaps, rounds }, leaks, s);
    // The control: with the folder back in place, the same requests are answered from inside.
    const p = await peers.connect(s.port);
    await p.hello();
    for (const request of requests) {
      await p.sendLine(request);
      const reply = request.startsWith('LIST') ? await listReply(p) : (await p.line())!;
      expect(reply.startsWith('OK') !== request.includes(ASKED), `${request} -> ${reply}`).toBe(true);
    }
    expect(await snapshot(j.outside, '')).toEqual(before);
  }, 30_000);

  it('bare selectors (a file, a folder listing) never send an outside byte or name', async () => {
    const j = await jail();
    const before = await snapshot(j.outside, '');
    const s = await startServer({ root: j.root });
    servers.push(s);
    const leaks: string[] = [];
    const selectors = ['d/secret.txt', '/d/x/secret.txt', 'd', '/d/x/', 'd/to-secret', `d/${ASKED}`, 'd/x\t+'];
    const { swaps, rounds } = await race(j, mode, 3, async () => {
      for (const selector of selectors) {
        const answer = await exchange(s.port, [`${selector}\r\n`], { timeoutMs: 20_000 });
        const leak = leakIn(answer.bytes) ?? (servedAsked(selector, answer.text) ? answer.text : null);
        if (leak !== null) leaks.push(`${selector} -> ${leak}`);
      }
    });
    expectRacedClean({ swaps, rounds }, leaks, s);
    // The control: with the folder back in place, the same selectors are served from inside.
    for (const selector of selectors.filter((x) => !x.includes(ASKED))) {
      expect((await exchange(s.port, [`${selector}\r\n`])).text, selector).toMatch(/inside|secret\.txt/);
    }
    expect(await snapshot(j.outside, '')).toEqual(before);
  }, 30_000);

  it('HTTP GET of a file, a folder page and ?tar never send an outside byte or name', async () => {
    const j = await jail();
    const before = await snapshot(j.outside, '');
    const s = await startServer({ root: j.root });
    servers.push(s);
    const leaks: string[] = [];
    const targets = ['/d/secret.txt', '/d/x/secret.txt', '/d/to-secret', `/d/${ASKED}`, '/d/', '/d/x/', '/d/?tar', '/d/x/?tar'];
    const { swaps, rounds } = await race(j, mode, 3, async () => {
      for (const target of targets) {
        const answer = await exchange(s.port, [`GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`], { timeoutMs: 20_000 });
        const leak = leakIn(answer.bytes) ?? (servedAsked(target, answer.text) ? answer.text.slice(0, 80) : null);
        if (leak !== null) leaks.push(`${target} -> ${leak}`);
      }
    });
    expectRacedClean({ swaps, rounds }, leaks, s);
    // The control: with the folder back in place, each is served from inside.
    for (const target of targets.filter((t) => !t.includes(ASKED))) {
      const answer = await exchange(s.port, [`GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`]);
      expect(answer.text, target).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer.text, target).toContain(target.endsWith('/') ? 'secret.txt' : 'inside');
    }
    expect(await snapshot(j.outside, '')).toEqual(before);
  }, 30_000);

  it('HTTP PUT and a form POST never create or change anything outside; what they stored is inside', async () => {
    const j = await jail();
    const before = await snapshot(j.outside, '');
    const s = await startServer({ root: j.root, allowUpload: true });
    servers.push(s);
    const stored: string[] = [];
    const boundary = 'swapboundary9c1';
    const { swaps, rounds } = await race(j, mode, 3, async (id, n) => {
      for (const name of [`h${id}-${n}`, `x/h${id}-${n}`]) {
        const body = `http put ${name}`;
        const answer = await exchange(s.port, [`PUT /d/${name} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`], { timeoutMs: 20_000 });
        if (answer.text.startsWith('HTTP/1.1 201')) stored.push(name);
      }
      const files = [`p${id}-${n}`, `x/p${id}-${n}`];
      const form =
        files.map((name) => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\nform ${name}\r\n`).join('') +
        `--${boundary}--\r\n`;
      const answer = await exchange(
        s.port,
        [`POST /d/ HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`],
        { timeoutMs: 20_000 },
      );
      for (const name of files) if (answer.text.includes(`✓ ${name}:`)) stored.push(name);
    });
    expect(swaps).toBeGreaterThan(10);
    expect(rounds).toBeGreaterThan(3);
    // Nothing outside was created, written, removed, or had its mode or date changed.
    expect(await snapshot(j.outside, '')).toEqual(before);
    expect(internalErrors(s)).toEqual([]);
    expect((await fsp.lstat(j.link)).isSymbolicLink()).toBe(true);
    // Every upload answered as stored is inside: in the folder, or (four renames) in a folder
    // made under its name while the real one was aside, which the swapper moved to d.madeN.
    const inside = new Set<string>();
    for (const entry of await fsp.readdir(j.root)) {
      if (entry !== 'd' && !entry.startsWith('d.')) continue;
      const at = path.join(j.root, entry);
      if (!(await fsp.lstat(at)).isDirectory()) continue;
      for (const name of await fsp.readdir(at, { recursive: true })) inside.add(name);
    }
    for (const name of stored) expect(inside.has(name), name).toBe(true);
    expect(stored.length).toBeGreaterThan(0);
  }, 30_000);
});
