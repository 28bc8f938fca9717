/**
 * The live fuzz of test/security/parser-fuzz.test.ts, extended to the request classes added
 * since it was written (issue 14, Done when; gap 14-d): DELETE, SYMLINK, LIST links=1, MGET
 * and MPUT with their items, HTTP requests on the serve port, and bare selectors. Each input
 * is a well-formed request of its class with hostile values, then mutated at the byte level
 * (flips, cuts, repeats, stray separators); a deterministic seed, so a failure names the
 * input that caused it and repeats.
 *
 * Against a server with uploads, overwrites and deletes on: every input is answered and its
 * connection closed within the timeouts (never a hang), no answer is an internal error
 * (ERR INTERNAL, HTTP 500, Gopher's 3INTERNAL) and none logs one, nothing from outside the
 * root comes back, nothing outside is written, and the server still serves afterwards.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMputItem } from '../../src/protocol/index.js';
import { connectRaw } from '../helpers/raw-peer.js';
import { seededRandom, type SeededRandom } from '../helpers/seeded-random.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { exchange } from '../http/raw.js';
import { leakedSecret, makeJail, snapshot, type Jail } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const SEED = 0x14d;
const INPUTS = 700;
const IDLE_MS = 300;
/** An input's connection must be closed by the server within this (its timeouts plus slack). */
const CLOSE_MS = 4000;

// ---------------------------------------------------------------------------------------------
// Inputs: one well-formed request of a class, with hostile values, then mutated.

/** Paths into, around and out of the jail's root (test/security/jail.ts). */
const PATHS = [
  'good.txt', 'f.bin', 'sub', 'sub/inner.txt', 'out', 'rel-out', 'chain1', 'up', 'up/outside.txt', 'up-rel/outside.txt',
  'evil', 'evil/secret.txt', 'evil-rel/secret.txt', 'to-part', '.x.tcpsend-part', 'sub/.y.tcpsend-part', 'inside-link',
  'new', 'new/deeper/x', '..', '../outside.txt', '%2e%2e/outside.txt', '%2E%2E%2Foutside.txt', 'sub%2f..%2f..%2foutside.txt',
  '/', '.', 'sub/..', 'a%00b', '%ff', '%', 'é', 'x%20y', 'up/data/good.txt', '/etc/passwd', '.bashrc', 'nul', 'a'.repeat(300),
];
/** Symlink targets: inside, out, absolute, through links, partial files. */
const TARGETS = [
  'good.txt', '../outside.txt', '..%2Foutside.txt', '/etc/passwd', 'sub/../../outside.txt', '.x.tcpsend-part', 'inside-link',
  'out', 'evil/secret.txt', '.', '..', 'sub', 'a/b/c', 'x%00', '%2F', 'up/outside.txt', '../data-evil/secret.txt', '',
];
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'OPTIONS', 'DELETE', 'PATCH', 'BREW', 'get', 'GET\t'];
/** Bytes a mutation drops in: separators, escapes, line ends, numbers at their limits. */
const STRAY = [' ', '  ', '\t', '\r', '\n', '\r\n', '\0', '%', '%2', '=', '==', '..', '/', 'count=', 'count=10001', 'size=', '99999999999', '-1', '\xff', 'é', 'HTTP/1.1'];

const pick = <T>(r: SeededRandom, items: readonly T[]): T => items[r.int(0, items.length - 1)]!;

interface Input {
  class: string;
  bytes: Buffer;
  /** No HELLO first: the first line is told apart (HTTP, selector). */
  bare: boolean;
}

function mputItem(r: SeededRandom): string {
  const body = Buffer.from(`fuzz item ${r.int(0, 1e6)}`);
  // Mostly honest digests and sizes; sometimes not.
  const size = r.next() < 0.8 ? body.length : r.int(0, 64);
  const line = formatMputItem({ path: pick(r, PATHS), size, digest: r.next() < 0.8 ? sha(body) : sha('other'), mtime: r.next() < 0.5 ? null : r.int(0, 2e12), mode: r.next() < 0.5 ? null : r.int(0, 0o7777) }, 'sha256');
  return `${line}\r\n${body.toString()}`;
}

/** A well-formed request of each class, with hostile values. */
const CLASSES: Record<string, (r: SeededRandom) => Omit<Input, 'class'>> = {
  delete: (r) => ({ bytes: Buffer.from(`DELETE ${pick(r, PATHS)}\r\n`), bare: false }),
  symlink: (r) => ({ bytes: Buffer.from(`SYMLINK ${pick(r, PATHS)} target=${pick(r, TARGETS)}${r.next() < 0.5 ? ' overwrite=1' : ''}\r\n`), bare: false }),
  list: (r) => ({ bytes: Buffer.from(`LIST ${pick(r, PATHS)} links=1${r.next() < 0.5 ? ' recursive=1' : ''}\r\n`), bare: false }),
  mget: (r) => {
    const count = r.int(0, 4);
    // Sometimes fewer or more items than the count says.
    const items = Array.from({ length: Math.max(0, count + r.int(-1, 1)) }, () => (r.next() < 0.2 ? `${pick(r, PATHS)} extra` : pick(r, PATHS)));
    return { bytes: Buffer.from(`MGET ${pick(r, PATHS)} count=${count}\r\n${items.map((i) => `${i}\r\n`).join('')}`), bare: false };
  },
  mput: (r) => {
    const count = r.int(0, 3);
    const items = Array.from({ length: Math.max(0, count + r.int(-1, 1)) }, () => mputItem(r));
    return { bytes: Buffer.from(`MPUT ${pick(r, PATHS)} count=${count}${r.next() < 0.3 ? ' overwrite=1' : ''}\r\n${items.join('')}`), bare: false };
  },
  http: (r) => {
    const method = pick(r, METHODS);
    const target = `/${pick(r, PATHS)}${r.next() < 0.2 ? '/?tar' : ''}`;
    const body = r.next() < 0.5 ? `http body ${r.int(0, 1e6)}` : '';
    const headers = [`Host: fuzz`, r.next() < 0.7 ? 'Connection: close' : 'Connection: keep-alive'];
    if (body !== '' || r.next() < 0.3) headers.push(`Content-Length: ${r.next() < 0.8 ? body.length : r.int(0, 1e6)}`);
    if (r.next() < 0.2) headers.push('Transfer-Encoding: chunked');
    if (method === 'POST' && r.next() < 0.7) headers.push('Content-Type: multipart/form-data; boundary=fz');
    if (r.next() < 0.2) headers.push(`Range: bytes=${r.int(-5, 50)}-${r.int(-5, 50)}`);
    return { bytes: Buffer.from(`${method} ${target} HTTP/1.${r.int(0, 1)}\r\n${headers.join('\r\n')}\r\n\r\n${body}`), bare: true };
  },
  selector: (r) => ({ bytes: Buffer.from(`${r.next() < 0.5 ? '/' : ''}${pick(r, PATHS)}${r.next() < 0.2 ? '\t+' : ''}\r\n`), bare: true }),
};

/** One to three byte-level mutations (or none, one input in five). */
function mutate(bytes: Buffer, r: SeededRandom): Buffer {
  let out = bytes;
  const times = r.next() < 0.2 ? 0 : r.int(1, 3);
  for (let i = 0; i < times; i++) {
    const at = r.int(0, out.length);
    switch (r.int(0, 4)) {
      case 0: // flip a byte
        if (out.length > 0) {
          out = Buffer.from(out);
          const i = Math.min(at, out.length - 1);
          out[i] = out[i]! ^ (1 << r.int(0, 7));
        }
        break;
      case 1: // cut a range out
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + r.int(1, 12)))]);
        break;
      case 2: // repeat a range
        out = Buffer.concat([out.subarray(0, at + r.int(0, 20)), out.subarray(at)]);
        break;
      case 3: // drop in stray bytes
        out = Buffer.concat([out.subarray(0, at), Buffer.from(pick(r, STRAY), 'latin1'), out.subarray(at)]);
        break;
      default: // cut the end off
        out = out.subarray(0, at);
    }
  }
  return out;
}

function makeInputs(): Input[] {
  const r = seededRandom(SEED);
  const names = Object.keys(CLASSES);
  return Array.from({ length: INPUTS }, (_, i) => {
    const name = names[i % names.length]!;
    const input = CLASSES[name]!(r);
    return { class: name, bare: input.bare, bytes: mutate(input.bytes, r) };
  });
}

// ---------------------------------------------------------------------------------------------
// The live server

let jail: Jail;
let server: TestServer;

beforeAll(async () => {
  jail = await makeJail();
  server = await startServer({ root: jail.root, allowUpload: true, allowOverwrite: true, allowDelete: true, idleTimeoutMs: IDLE_MS, lineDeadlineMs: IDLE_MS });
});

afterAll(async () => {
  await server?.close();
  await jail?.remove();
});

/**
 * Send `input` on a connection of its own (after HELLO unless bare), end our side half the
 * time, and collect what comes back until the server closes: 'hang' if it has not after
 * CLOSE_MS. The other half waits for the server's timeouts instead of our end.
 */
function run(input: Input, halfClose: boolean, onPort: (port: number) => void): Promise<{ bytes: Buffer; hang: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (hang: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), hang });
    };
    const timer = setTimeout(() => finish(true), CLOSE_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => finish(false)); // a reset is a close
    socket.on('end', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('connect', () => {
      onPort(socket.localPort!);
      if (!input.bare) socket.write('HELLO\r\n');
      socket.write(input.bytes);
      if (halfClose) socket.end();
    });
  });
}

/** An answer that says the server failed on its own, not a refusal of the input. */
function internalFailure(bytes: Buffer): string | null {
  const text = bytes.toString('latin1');
  const m = /^ERR INTERNAL[^\r\n]*|^HTTP\/1\.[01] 5(?!03)\d\d[^\r\n]*|^3INTERNAL[^\r\n]*/m.exec(text);
  return m ? m[0] : null;
}

describe('fuzzing the verbs and doors added since parser-fuzz.test.ts', () => {
  it(`${INPUTS} mutated DELETE, SYMLINK, LIST links=1, MGET, MPUT, HTTP and selector inputs: each refused or answered, closed in time, nothing internal, nothing from outside`, async () => {
    const inputs = makeInputs();
    const before = await snapshot(jail.dir, jail.root);
    const hangs: string[] = [];
    const leaks: string[] = [];
    const internal: string[] = [];
    const perClass: Record<string, { answered: number; refused: number }> = {};
    /** Which input each log entry's peer sent. */
    const byPeer = new Map<string, string>();
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const index = next++;
        const input = inputs[index]!;
        const shown = `#${index} ${input.class} ${JSON.stringify(input.bytes.subarray(0, 100).toString('latin1'))}`;
        const { bytes, hang } = await run(input, index % 2 === 0, (port) => byPeer.set(`127.0.0.1:${port}`, shown));
        if (hang) hangs.push(shown);
        const leak = leakedSecret(bytes, [...jail.secrets, 'root:x:0:0', jail.dir]);
        if (leak !== null) leaks.push(`${shown}: ${leak}`);
        const failure = internalFailure(bytes);
        if (failure !== null) internal.push(`${shown}: ${failure}`);
        const tally = (perClass[input.class] ??= { answered: 0, refused: 0 });
        if (/^(ERR |HTTP\/1\.[01] 4|3[A-Z_]+: )/m.test(bytes.toString('latin1'))) tally.refused += 1;
        else tally.answered += 1;
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));

    expect(hangs).toEqual([]);
    expect(internal).toEqual([]);
    expect(server.log.filter((e) => e.result === 'INTERNAL').map((e) => `${e.verb} ${e.path}: ${e.message} (input ${byPeer.get(e.peer)})`)).toEqual([]);
    expect(leaks).toEqual([]);
    // The fuzz reaches the refusals of every class (not only the parser's first no).
    for (const name of Object.keys(CLASSES)) expect(perClass[name]?.refused ?? 0, name).toBeGreaterThan(5);
    // Nothing outside the root was written, removed or changed.
    expect(await snapshot(jail.dir, jail.root)).toEqual(before);

    // Still serving: a tcpsend upload and its download, the same over HTTP and as a selector.
    const peer = await connectRaw(server.port);
    try {
      await peer.hello();
      const body = 'after the fuzz\n';
      await peer.send(`PUT after-fuzz.txt size=${body.length} sha256=${sha(body)} offset=0\r\n${body}END sha256=${sha(body)}\r\n`);
      expect(await peer.line()).toMatch(/^OK size=15 /);
      await peer.sendLine('GET after-fuzz.txt');
      expect(await peer.line()).toMatch(/^OK size=15 offset=0 length=15 /);
      expect((await peer.bytes(body.length)).toString()).toBe(body);
      expect(await peer.line()).toBe(`OK sha256=${sha(body)}`);
      const http = await exchange(server.port, ['GET /after-fuzz.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n']);
      expect(http.text).toMatch(/^HTTP\/1\.1 200 /);
      expect(http.text.endsWith(body)).toBe(true);
      expect((await exchange(server.port, ['after-fuzz.txt\r\n'])).text).toBe(body);
    } finally {
      peer.destroy();
    }
  }, 60_000);
});
