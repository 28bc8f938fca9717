// `npm run bench`: builds dist/, then runs each benchmark section in turn.
// A section is an async function in its own file that prints its table and returns its
// numbers; they are saved together in bench/results/latest.json. BENCH_SIZE_MB=256 makes
// the stream section quick. Missed targets are printed as MISSED; the exit code is 0 unless
// a run moved the wrong bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { streamBench } from './stream.js';

const sections = [['stream layer: file → socket → file', streamBench]];

const results = {
  node: process.version,
  cpus: os.cpus().length,
  at: new Date().toISOString(),
};
for (const [title, section] of sections) {
  console.log(`\n== ${title}`);
  results[title] = await section();
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
