// Synchronous or asynchronous metadata calls (issue 12: "choose one by measuring with npm run
// bench, and write it once"). The Root's metadata calls (lstat, open, fstat, close of a small
// file) are made once per file of a folder transfer; this times them both ways over the
// bench's folder, in this process: node:fs's *Sync calls, each awaited promise in turn (what a
// request handler that awaits each step does), and all promises at once (the thread pool's
// best case, at the price of holding every request at once). src/server/root/fs-port.ts cites
// this table.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { RUNS, SOURCE_ROOT, fmt, median, sourceTree, textTable } from './lib.js';

const WAYS = {
  lstat: {
    sync: async (files) => {
      for (const f of files) fs.lstatSync(f);
    },
    'async, one at a time': async (files) => {
      for (const f of files) await fsp.lstat(f);
    },
    'async, all at once': async (files) => {
      await Promise.all(files.map((f) => fsp.lstat(f)));
    },
  },
  'open + fstat + close': {
    sync: async (files) => {
      for (const f of files) {
        const fd = fs.openSync(f, 'r');
        fs.fstatSync(fd);
        fs.closeSync(fd);
      }
    },
    'async, one at a time': async (files) => {
      for (const f of files) {
        const handle = await fsp.open(f, 'r');
        await handle.stat();
        await handle.close();
      }
    },
  },
};

export async function metadataBench() {
  const tree = await sourceTree(path.join(SOURCE_ROOT, 'trees'));
  const files = [...tree.manifest.keys()].map((rel) => path.join(tree.dir, rel));
  const rows = [];
  for (const [call, ways] of Object.entries(WAYS)) {
    const times = Object.fromEntries(Object.keys(ways).map((way) => [way, []]));
    // Round-robin, after one warm-up of each, so that load on the machine falls on every way.
    for (let run = -1; run < RUNS; run++) {
      for (const [way, fn] of Object.entries(ways)) {
        const began = performance.now();
        await fn(files);
        if (run >= 0) times[way].push((performance.now() - began) / 1000);
      }
    }
    const syncSeconds = median(times.sync);
    for (const way of Object.keys(ways)) {
      const seconds = median(times[way]);
      rows.push({ call, way, seconds, vsSync: seconds / syncSeconds });
    }
  }
  console.log(`  ${files.length} files, median of ${RUNS} runs (round-robin), in one process`);
  console.log(textTable(['call', 'way', 'median (s)', 'vs sync'], rows.map((r) => [r.call, r.way, fmt.s(r.seconds), fmt.x(r.vsSync)])));
  return { files: files.length, runs: RUNS, rows };
}
