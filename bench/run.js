// `npm run bench`: builds dist/, then runs each benchmark section in turn.
// A section is an async function in its own file that prints its table and returns its
// numbers; they are saved together in bench/results/latest.json, and docs/benchmarks.md gets
// the tables and the targets (not with BENCH_QUICK=1). BENCH_SIZE_MB=256 makes the stream
// section quick; BENCH_RUNS=N sets the timed runs of the other sections (5 by default);
// BENCH_QUICK=1 is a smoke run with small sizes. Missed targets are printed as MISSED; the
// exit code is 0 unless a run moved the wrong bytes or a section could not run (then 1).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { streamBench } from './stream.js';
import { peersBench } from './peers.js';
import { lanBench } from './lan.js';
import { metadataBench } from './metadata.js';
import { concurrencyBench, sizeBench } from './scaling.js';
import { QUICK, cleanUpAll } from './lib.js';
import { evaluateTargets, printTargets, writeDocs } from './report.js';

const began = performance.now();
const TITLES = {
  stream: 'stream layer: file → socket → file',
  peers: 'tcpsend vs socat, curl, rsync, tar',
  sizes: 'tcpsend get: time by size',
  concurrency: 'tcpsend get: concurrent clients',
  lan: 'emulated LAN links (network namespaces, tbf)',
  metadata: 'metadata calls: synchronous or asynchronous',
};
const sections = [
  ['stream', () => streamBench(QUICK ? { sizeMB: Number(process.env.BENCH_SIZE_MB ?? 64) } : undefined)],
  ['peers', peersBench],
  ['sizes', sizeBench],
  ['concurrency', concurrencyBench],
  ['lan', lanBench],
  ['metadata', metadataBench],
];

const results = {
  node: process.version,
  cpus: os.cpus().length,
  at: new Date().toISOString(),
  quick: QUICK,
  loadavg: { start: os.loadavg()[0] },
};
const byKey = {};
try {
  for (const [key, section] of sections) {
    console.log(`\n== ${TITLES[key]}`);
    byKey[key] = await section();
    results[TITLES[key]] = byKey[key];
  }
} catch (err) {
  console.error(`\nbench FAILED: ${err.stack ?? err}`);
  await cleanUpAll();
  process.exit(1);
}

const targets = evaluateTargets(byKey);
const totalSeconds = (performance.now() - began) / 1000;
results.targets = targets;
results.totalSeconds = totalSeconds;
results.loadavg.end = os.loadavg()[0];

console.log('\n== targets (ratios from this run)');
printTargets(targets);
console.log(`\n  whole bench: ${(totalSeconds / 60).toFixed(1)} min; load average ${results.loadavg.start.toFixed(2)} at the start, ${results.loadavg.end.toFixed(2)} at the end`);

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
if (QUICK) console.log('  BENCH_QUICK=1: docs/benchmarks.md left as it was');
else console.log(`  wrote ${writeDocs({ results, targets, totalSeconds, ...byKey })}`);
