/**
 * Twenty faults in the middle of one 64 MiB transfer, each way: clean cuts, resets (RST),
 * stalls (the client's idle timeout ends them) and pauses the client rides out before a cut,
 * at seeded random points spread over the whole body. Every fault is followed by an automatic
 * retry that resumes from the partial file; the file that lands is the source byte for byte,
 * and resuming means the bytes already held are not sent again, so what crossed the link is
 * barely more than one file's worth.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getFile, putFile } from '../../src/client/index.js';
import type { TcpsendError } from '../../src/errors.js';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../helpers/fault-proxy.js';
import { seededRandom, type SeededRandom } from '../helpers/seeded-random.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { BIG_SIZE, MiB, partOf, sameBytes, sha256File, sizeOrZero, writeBigRandomFile, type BigFile } from './big-file.js';

const SEED = 0x7c5e_2026;
const FAULTS = 20;
type FaultKind = 'cut' | 'reset' | 'stall' | 'pause';
const KINDS: FaultKind[] = [
  ...Array<FaultKind>(7).fill('cut'),
  ...Array<FaultKind>(4).fill('reset'),
  ...Array<FaultKind>(4).fill('stall'),
  ...Array<FaultKind>(5).fill('pause'),
];
/**
 * The client gives up on a silent peer after this long, and retries. Short, so stalls cost
 * little; long enough that a loaded 2-core box checking a 64 MiB prefix is not taken for one.
 */
const IDLE_MS = 1_000;
/** A pause the client must ride out without a retry: well under its idle timeout. */
const HICCUP_MS = 250;
/** Each faulty connection carries at least this much of the body before its fault. */
const MIN_BODY = 64 * 1024;
/** A connection's request and reply lines, all it carries besides the body (about 300 bytes). */
const MAX_LINES = 1024;
/** Resuming must not cost more than this much over one file's worth on the wire. */
const MAX_OVERHEAD = 0.1;

interface Fault {
  kind: FaultKind;
  /** Where in the file the fault should strike. */
  at: number;
}

/**
 * One fault in each twentieth of the file, at a seeded random place inside it, so they cover
 * the whole body; the kinds are shuffled by the same seed. A failing run names its seed.
 */
function faultSchedule(random: SeededRandom, size: number): Fault[] {
  const kinds = [...KINDS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const slice = size / FAULTS;
  // 0.9: the last fault leaves some body after it, so it strikes even after a late resume.
  return kinds.map((kind, k) => ({ kind, at: Math.floor(slice * (k + random.next() * 0.9)) }));
}

/**
 * The proxy's plan for a connection that is to carry `body` bytes before its fault: a clean
 * cut, a reset (RST), a stall (the client's idle timeout ends it), or a pause half-way that
 * the client rides out, then a clean cut.
 */
function planFor(kind: FaultKind, body: number, direction: 'up' | 'down'): FaultPlan {
  switch (kind) {
    case 'cut':
      return { cutAfter: body, direction };
    case 'reset':
      return { cutAfter: body, direction, reset: true };
    case 'stall':
      return { cutAfter: body, direction, stall: true };
    case 'pause':
      return { cutAfter: body, direction, holdAfter: Math.floor(body / 2), holdMs: HICCUP_MS };
  }
}

/**
 * Connection i < FAULTS gets fault i, the next one a pause it rides out, any later one (a
 * retry the schedule did not cause) nothing. A fault is placed by how much of the file the
 * receiving side holds when its connection starts: `place(i, have)`, called when that is
 * known (the plan object is read by the proxy as bytes flow, so it may be filled in late).
 */
function faultPlans(random: SeededRandom, faults: Fault[], direction: 'up' | 'down') {
  const plans: FaultPlan[] = [];
  const struck: number[] = [];
  return {
    struck,
    plan(i: number): FaultPlan {
      const plan: FaultPlan = { direction };
      plans[i] = plan;
      return plan;
    },
    place(i: number, have: number): void {
      const plan = plans[i];
      const fault = faults[i];
      if (plan === undefined || plan.cutAfter !== undefined || plan.holdAfter !== undefined) return;
      if (fault) {
        const body = Math.max(MIN_BODY, fault.at - have);
        struck.push(have + body);
        Object.assign(plan, planFor(fault.kind, body, direction));
      } else if (i === faults.length) {
        plan.holdAfter = random.int(MIN_BODY / 2, MIN_BODY);
        plan.holdMs = HICCUP_MS;
      }
    },
  };
}

let big: BigFile;
let bigDir: string;
let cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  bigDir = await tempDir('tcpsend-faults-src-');
  big = await writeBigRandomFile(path.join(bigDir, 'big.bin'));
});

afterAll(async () => {
  await fsp.rm(bigDir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(options: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(options);
  cleanup.push(() => s.close());
  return s;
}

async function proxyTo(s: TestServer, plan: (i: number) => FaultPlan): Promise<FaultProxy> {
  const proxy = await startFaultProxy(s.port, plan);
  cleanup.push(() => proxy.close());
  return proxy;
}

async function scratch(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  cleanup.push(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

function overhead(bytes: number): string {
  return `${bytes} bytes for ${BIG_SIZE} (+${(((bytes - BIG_SIZE) / BIG_SIZE) * 100).toFixed(2)}%)`;
}

/**
 * Bytes that crossed the link in `direction` and were then lost to a reset: what each reset
 * connection carried beyond what the next attempt found held. An RST tells the receiver to
 * drop what it has not read yet (RFC 9293, 3.10.7.3), and how much that is depends only on
 * how far behind the receiver was: tens of KiB on an idle machine, megabytes on a loaded one.
 * Clean cuts, stalls and pauses lose nothing: the attempt after one must find every body byte
 * it carried held, and checks so here.
 */
function lostToResets(proxy: FaultProxy, faults: Fault[], starts: number[], direction: 'up' | 'down'): number {
  let lost = 0;
  faults.forEach((fault, i) => {
    // What connection i carried that the next attempt did not find held (and sent again).
    const sentAgain = proxy.moved[i]![direction] - (starts[i + 1]! - starts[i]!);
    if (fault.kind === 'reset') lost += Math.max(0, sentAgain);
    else expect(sentAgain, `connection ${i} (${fault.kind}): only its request and reply lines are not body`).toBeLessThan(MAX_LINES);
  });
  return lost;
}

interface Observed {
  /** Where each attempt started (onStart's resumedFrom). */
  starts: number[];
  /** The error code of each retry. */
  retries: string[];
}

function observe(onStart?: (resumedFrom: number) => void) {
  const seen: Observed = { starts: [], retries: [] };
  return {
    seen,
    options: {
      retries: 25,
      backoffMs: 1,
      idleTimeoutMs: IDLE_MS,
      onStart: ({ resumedFrom }: { resumedFrom: number }) => {
        seen.starts.push(resumedFrom);
        onStart?.(resumedFrom);
      },
      onRetry: ({ error }: { error: TcpsendError }) => {
        seen.retries.push(error.code);
      },
    },
  };
}

/** What every faulty run must show, whichever way the file went. */
function expectResumedThroughEveryFault(proxy: FaultProxy, { starts, retries }: Observed, struck: number[]): void {
  // Every scheduled fault went off and cost its connection, each was followed by a retry,
  // and every pause was ridden out without one (the last connection's too).
  expect(proxy.faults).toBe(FAULTS);
  expect(proxy.holds).toBe(KINDS.filter((k) => k === 'pause').length + 1);
  expect(retries).toHaveLength(FAULTS);
  expect(proxy.connections).toBe(FAULTS + 1);
  for (const code of retries) expect(code).toMatch(/CONNECTION_LOST|UNEXPECTED_EOF|TIMEOUT|TRANSFER_INTERRUPTED|STREAM_CLOSED/);
  // The faults were spread over the whole body.
  expect(struck).toHaveLength(FAULTS);
  expect(struck[0]!).toBeLessThan(BIG_SIZE / FAULTS);
  expect(struck.at(-1)!).toBeGreaterThan(BIG_SIZE * 0.95);
  // Each attempt resumed where the last one left off: never from 0 again, always further on.
  expect(starts).toHaveLength(FAULTS + 1);
  expect(starts[0]).toBe(0);
  for (let i = 1; i < starts.length; i++) expect(starts[i]!).toBeGreaterThan(starts[i - 1]!);
}

describe(`20 faults in one 64 MiB transfer (seed ${SEED.toString(16)})`, () => {
  it('get: cut, reset, stalled and paused 20 times going down, resumes each time and ends byte-identical', async () => {
    const s = await serve({ root: bigDir });
    const out = await scratch('tcpsend-faults-get-');
    const dest = path.join(out, 'big.bin');
    const random = seededRandom(SEED);
    const faults = faultSchedule(random, BIG_SIZE);
    const schedule = faultPlans(random, faults, 'down');
    // The client has written all it received to its part before it reconnects: place each
    // fault as its connection opens (the body flows before the client reads the header).
    const proxy = await proxyTo(s, (i) => {
      const plan = schedule.plan(i);
      schedule.place(i, sizeOrZero(partOf(out, 'big.bin')));
      return plan;
    });
    const { seen, options } = observe();

    const result = await getFile(`127.0.0.1:${proxy.port}`, 'big.bin', dest, options);

    expect(result.digest).toBe(big.blake3);
    expect(await sha256File(dest)).toBe(big.sha256);
    expect(await sameBytes(dest, big.path)).toBe(true);
    expect(result.resumedFrom).toBe(seen.starts.at(-1));
    expectResumedThroughEveryFault(proxy, seen, schedule.struck);
    const lost = lostToResets(proxy, faults, seen.starts, 'down');
    console.info(`faults: get through ${FAULTS} faults: ${overhead(proxy.bytesDown)} went down, ${lost} of them lost to resets`);
    expect(proxy.bytesDown - lost).toBeLessThanOrEqual(BIG_SIZE * (1 + MAX_OVERHEAD));
    expect(await fsp.readdir(out)).toEqual(['big.bin']); // the part became the file
  });

  it('put: cut, reset, stalled and paused 20 times going up, resumes each time and ends byte-identical', async () => {
    const s = await serve({ allowUpload: true });
    cleanup.push(() => fsp.rm(s.root, { recursive: true, force: true }));
    const random = seededRandom(SEED + 1);
    const faults = faultSchedule(random, BIG_SIZE);
    const schedule = faultPlans(random, faults, 'up');
    const proxy = await proxyTo(s, (i) => schedule.plan(i));
    // The server may still be writing out the last attempt's bytes when the next connection
    // opens; the client learns where it resumes just before it sends the body.
    const { seen, options } = observe((resumedFrom) => schedule.place(proxy.connections - 1, resumedFrom));

    const result = await putFile(`127.0.0.1:${proxy.port}`, big.path, 'big.bin', options);

    const landed = path.join(s.root, 'big.bin');
    expect(result.digest).toBe(big.blake3);
    expect(await sha256File(landed)).toBe(big.sha256);
    expect(await sameBytes(landed, big.path)).toBe(true);
    expect(result.resumedFrom).toBe(seen.starts.at(-1));
    expectResumedThroughEveryFault(proxy, seen, schedule.struck);
    const lost = lostToResets(proxy, faults, seen.starts, 'up');
    console.info(`faults: put through ${FAULTS} faults: ${overhead(proxy.bytesUp)} went up, ${lost} of them lost to resets`);
    expect(proxy.bytesUp - lost).toBeLessThanOrEqual(BIG_SIZE * (1 + MAX_OVERHEAD));
    expect(await fsp.readdir(s.root)).toEqual(['big.bin']);
  });
});

describe('a cut keeps every byte that arrived', () => {
  // Resume is only as good as the part: bytes received and then dropped are sent twice.
  it('get: after a cut, fresh or resumed, the part holds exactly the body bytes that came through', async () => {
    const s = await serve({ root: bigDir });
    const out = await scratch('tcpsend-faults-keep-');
    const dest = path.join(out, 'big.bin');
    const random = seededRandom(SEED + 2);
    for (const cut of [random.int(1, 8) * MiB + random.int(0, MiB), random.int(1, 4) * MiB + random.int(0, MiB)]) {
      const proxy = await proxyTo(s, () => ({ cutAfter: cut, direction: 'down' }));
      const before = sizeOrZero(partOf(out, 'big.bin'));
      let received = before;
      const attempt = getFile(`127.0.0.1:${proxy.port}`, 'big.bin', dest, {
        retries: 0,
        onProgress: (done) => {
          received = done;
        },
      });
      await expect(attempt).rejects.toMatchObject({ code: expect.stringMatching(/UNEXPECTED_EOF|CONNECTION_LOST/) });
      expect(received - before).toBeGreaterThan(cut - 1024); // all but the greeting and header
      expect(sizeOrZero(partOf(out, 'big.bin'))).toBe(received);
    }
    const held = sizeOrZero(partOf(out, 'big.bin'));
    const done = await getFile(s.target, 'big.bin', dest, { retries: 0 });
    expect(done.resumedFrom).toBe(held);
    expect(done.digest).toBe(big.blake3);
    expect(await sameBytes(dest, big.path)).toBe(true);
  });
});
