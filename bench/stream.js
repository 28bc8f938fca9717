// The stream layer's benchmark: a 1 GiB file over loopback, Node's own pipes against
// SocketFile's sendfile → pipeTo, each side in its own process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { randomFile } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PEER = path.join(HERE, 'stream-peer.js');
const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const RUNS = 5;
const TARGET_RATIO = 0.8;
const TARGET_RSS_MB = 100;

function destinationDir() {
  try {
    if (fs.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no tmpfs: use the temp folder
  }
  return os.tmpdir();
}

/** Fork one peer; resolves its IPC messages by type, rejects if it dies first. */
function startPeer(args) {
  const child = fork(PEER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = new Map();
  const waiting = new Map();
  child.on('message', (message) => {
    const resolve = waiting.get(message.type);
    if (resolve) resolve(message);
    else messages.set(message.type, message);
  });
  const exited = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`peer ${args.slice(0, 2).join(' ')} exited with ${code}`);
  });
  return {
    child,
    exited,
    message(type) {
      const ready = messages.get(type);
      if (ready) return Promise.resolve(ready);
      const got = new Promise((resolve) => waiting.set(type, resolve));
      // A peer that exits without its message fails the run instead of hanging it.
      return Promise.race([got, exited.then(() => Promise.reject(new Error(`peer exited before '${type}'`)))]);
    },
  };
}

async function runOnce(variant, src, dst, size) {
  fs.rmSync(dst, { force: true });
  const receiver = startPeer(['recv', variant, HOST, dst, String(size)]);
  const { port } = await receiver.message('listening');
  const sender = startPeer(['send', variant, HOST, String(port), src, String(size)]);
  let sent;
  let received;
  try {
    [sent, received] = await Promise.all([sender.message('done'), receiver.message('done')]);
    await Promise.all([sender.exited, receiver.exited]);
  } catch (err) {
    // One side failed: do not leave the other waiting on its socket.
    sender.child.kill();
    receiver.child.kill();
    throw err;
  }
  const got = fs.statSync(dst).size;
  fs.rmSync(dst, { force: true });
  if (got !== size) throw new Error(`${variant}: destination has ${got} bytes, expected ${size}`);
  if (sent.sent !== size) throw new Error(`${variant}: sender reports ${sent.sent} bytes sent, expected ${size}`);
  const seconds = Number(BigInt(received.closedAt) - BigInt(sent.connectedAt)) / 1e9;
  return {
    seconds,
    mbPerSecond: size / 1e6 / seconds,
    senderRssMB: (sent.maxRSS * 1024) / 1e6,
    receiverRssMB: (received.maxRSS * 1024) / 1e6,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/**
 * Run the stream benchmark and print its table. Returns the numbers (for bench/results).
 * A missed target is printed as MISSED; only a wrong byte count throws.
 */
export async function streamBench({ sizeMB = Number(process.env.BENCH_SIZE_MB ?? 1024) } = {}) {
  const size = Math.round(sizeMB * MiB);
  const src = randomFile(size);
  const dstDir = destinationDir();
  const variants = ['baseline', 'tcpsend'];
  const dst = (variant) => path.join(dstDir, `tcpsend-bench-${process.pid}-${variant}.bin`);

  console.log(`  ${sizeMB} MiB over ${HOST}, source ${src}, destination in ${dstDir}`);
  for (const variant of variants) await runOnce(variant, src, dst(variant), size); // warm-up

  const results = { baseline: [], tcpsend: [] };
  for (let run = 0; run < RUNS; run++) {
    // Alternate which goes first, so neither always runs on a warmer or cooler machine.
    const order = run % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const r = await runOnce(variant, src, dst(variant), size);
      results[variant].push(r);
      console.log(
        `  run ${run + 1} ${variant.padEnd(8)} ${r.mbPerSecond.toFixed(0).padStart(6)} MB/s` +
          `  sender ${r.senderRssMB.toFixed(0)} MB  receiver ${r.receiverRssMB.toFixed(0)} MB`,
      );
    }
  }

  const summary = {};
  for (const variant of variants) {
    const runs = results[variant];
    summary[variant] = {
      mbPerSecond: median(runs.map((r) => r.mbPerSecond)),
      seconds: median(runs.map((r) => r.seconds)),
      senderRssMB: Math.max(...runs.map((r) => r.senderRssMB)),
      receiverRssMB: Math.max(...runs.map((r) => r.receiverRssMB)),
    };
  }
  const ratio = summary.tcpsend.mbPerSecond / summary.baseline.mbPerSecond;
  const mark = (ok) => (ok ? 'ok' : 'MISSED');

  console.log('');
  console.log(`  median of ${RUNS} runs, ${sizeMB} MiB each; peak RSS is the largest of the runs`);
  console.log('  variant     MB/s   time (s)   sender RSS (MB)   receiver RSS (MB)');
  for (const variant of variants) {
    const s = summary[variant];
    console.log(
      `  ${variant.padEnd(8)} ${s.mbPerSecond.toFixed(0).padStart(7)} ${s.seconds.toFixed(2).padStart(10)}` +
        ` ${s.senderRssMB.toFixed(0).padStart(17)} ${s.receiverRssMB.toFixed(0).padStart(19)}`,
    );
  }
  console.log('');
  console.log(`  tcpsend / baseline: ${ratio.toFixed(2)}  (target >= ${TARGET_RATIO})  ${mark(ratio >= TARGET_RATIO)}`);
  for (const side of ['sender', 'receiver']) {
    const rss = summary.tcpsend[`${side}RssMB`];
    console.log(
      `  tcpsend ${side} peak RSS: ${rss.toFixed(0)} MB  (target < ${TARGET_RSS_MB} MB)  ${mark(rss < TARGET_RSS_MB)}`,
    );
  }
  return { sizeMB, runs: results, summary, ratio };
}
