/**
 * The folder-swap race (issue 14, finding 1): a local user swaps a served folder with a
 * symlink to the outside, over and over, while uploads run into that folder. Nothing may land
 * outside, no folder outside may change its mode or date, and nothing outside may be read,
 * on any verb, single or batched.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatMputItem, formatRequest } from '../../src/protocol/index.js';
import type { RawPeer } from '../helpers/raw-peer.js';
import { endedAfterEachTest, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { startSwapper } from '../helpers/swapper.js';
import { snapshot } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const SECRET = 'OUTSIDE-SECRET-5d1c';

const { servers, peers, cleanups } = endedAfterEachTest();

async function jail() {
  const base = await fsp.realpath(await tempDir('tcpsend-swap-'));
  cleanups.push(() => fsp.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'data');
  const outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(root, 'd'), { recursive: true });
  await fsp.mkdir(path.join(outside, 'x'), { recursive: true, mode: 0o755 });
  await fsp.chmod(path.join(outside, 'x'), 0o755);
  await fsp.writeFile(path.join(outside, 'secret.txt'), SECRET);
  await fsp.writeFile(path.join(outside, 'x', 'secret.txt'), SECRET);
  await fsp.writeFile(path.join(root, 'd', 'secret.txt'), 'inside, readable');
  await fsp.symlink(outside, path.join(root, 'link'));
  return { base, root, outside };
}

/** Every name under `dir`, recursively, relative. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string, prefix: string) => {
    for (const entry of await fsp.readdir(at, { withFileTypes: true })) {
      out.push(prefix + entry.name);
      if (entry.isDirectory()) await walk(path.join(at, entry.name), `${prefix}${entry.name}/`);
    }
  };
  await walk(dir, '');
  return out;
}

async function onePut(p: RawPeer, name: string): Promise<string> {
  const body = `one-step ${name}`;
  await p.send(`${formatRequest({ verb: 'PUT', path: `d/${name}`, size: body.length, checksum: 'sha256', digest: sha(body), mtime: 1000, mode: 0o777, overwrite: false, eager: true })}\r\n${body}END sha256=${sha(body)}\r\n`);
  return (await p.line())!;
}

async function twoStepPut(p: RawPeer, name: string): Promise<string> {
  const body = `two-step ${name}`;
  await p.sendLine(formatRequest({ verb: 'PUT', path: `d/sub/${name}`, size: body.length, checksum: 'sha256', digest: null, mtime: 1000, mode: 0o777, overwrite: false, eager: false }));
  const offer = (await p.line())!;
  if (!offer.startsWith('OK offset=0')) return offer;
  await p.send(`DATA offset=0\r\n${body}END sha256=${sha(body)}\r\n`);
  return (await p.line())!;
}

async function mput(p: RawPeer, batch: number): Promise<string[]> {
  const items = Array.from({ length: 10 }, (_, i) => Buffer.from(`batch ${batch} item ${i}`));
  let out = `MPUT d count=${items.length}\r\n`;
  for (const [i, body] of items.entries()) out += `${formatMputItem({ path: `m${batch}/i${i}`, size: body.length, digest: sha(body), mtime: 1000, mode: 0o777 }, 'sha256')}\r\n${body.toString()}`;
  await p.send(out);
  const answers: string[] = [];
  for (let i = 0; i < items.length; i++) answers.push((await p.line())!);
  return answers;
}

describe.skipIf(process.platform !== 'linux')('a served folder swapped for a symlink to the outside while uploads run into it', () => {
  it('puts (one-step, two-step), MPUT, MKDIR, SYMLINK and DELETE never write, create or change anything outside; GET and MGET never leak it', async () => {
    const { root, outside } = await jail();
    const before = await snapshot(outside, '');
    const s = await startServer({ root, allowUpload: true, allowOverwrite: true, allowDelete: true });
    servers.push(s);
    // evict: a folder the server makes under the name while the real one is away (an MKDIR or
    // an upload into a folder that is not there at that moment) is moved aside as d.madeN, so
    // the swapping goes on however the uploads and the swaps interleave.
    const swapper = await startSwapper(path.join(root, 'd'), path.join(root, 'link'), 2500, { evict: true });
    const stored: string[] = [];
    const leaks: string[] = [];
    const worker = async (id: number) => {
      const p = await peers.connect(s.port, { timeoutMs: 20_000 });
      await p.hello();
      for (let round = 0; round < 25; round++) {
        const name = `w${id}r${round}`;
        if ((await onePut(p, `${name}.one`)).startsWith('OK size=')) stored.push(`${name}.one`);
        if ((await twoStepPut(p, `${name}.two`)).startsWith('OK size=')) stored.push(`sub/${name}.two`);
        (await mput(p, id * 100 + round)).forEach((answer, i) => {
          if (answer.startsWith('OK size=')) stored.push(`m${id * 100 + round}/i${i}`);
        });
        await p.sendLine(`MKDIR d/k${name} mode=777 mtime=1000`);
        await p.line();
        await p.sendLine(`MKDIR d/x mode=777 mtime=1000`);
        await p.line();
        await p.sendLine(formatRequest({ verb: 'SYMLINK', path: `d/l${name}`, target: 'secret.txt', overwrite: true }));
        await p.line();
        await p.sendLine(`DELETE d/x/secret.txt`);
        await p.line();
        // A batched read of the same folder: MGET answers each item as GET would.
        await p.send('MGET d count=2\r\nsecret.txt\r\nx/secret.txt\r\n');
        for (let item = 0; item < 2; item++) {
          const answer = (await p.line())!;
          if (!answer.startsWith('OK size=')) continue;
          const body = await p.bytes(Number(/size=(\d+)/.exec(answer)![1]));
          await p.line();
          if (body.toString().includes(SECRET)) leaks.push('MGET');
        }
        await p.sendLine('GET d/secret.txt');
        const header = (await p.line())!;
        if (header.startsWith('OK size=')) {
          const size = Number(/size=(\d+)/.exec(header)![1]);
          const body = await p.bytes(size);
          await p.line();
          if (body.toString().includes(SECRET)) leaks.push('GET');
        }
      }
      await p.sendLine('QUIT');
    };
    await Promise.all([0, 1, 2].map(worker));
    const swaps = await swapper.done;
    expect(swaps).toBeGreaterThan(10);
    expect(leaks).toEqual([]);
    // Nothing outside was created, written, removed, or had its mode or date changed.
    expect(await snapshot(outside, '')).toEqual(before);
    // Every upload answered OK is inside, under its name, in the folder (which is back in place),
    // or in a folder the server made under the folder's name while the real one was moved aside.
    expect((await fsp.lstat(path.join(root, 'link'))).isSymbolicLink()).toBe(true);
    const inside = new Set<string>();
    const made = (await fsp.readdir(root)).filter((name) => name.startsWith('d.made'));
    for (const folder of ['d', 'd.aside', ...made]) {
      const at = path.join(root, folder);
      if ((await fsp.lstat(at).catch(() => null))?.isDirectory()) for (const name of await names(at)) inside.add(name);
    }
    for (const name of stored) expect(inside.has(name), name).toBe(true);
    expect(stored.length).toBeGreaterThan(0);
  }, 60_000);
});
