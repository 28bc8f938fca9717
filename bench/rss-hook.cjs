// Preloaded with `node --require` in front of bin/tcpsend.js by the bench: at exit, writes the
// process's peak RSS (kB, getrusage ru_maxrss) and CPU time (µs) as JSON to the file named by
// BENCH_RSS_FILE. CommonJS and --require, not an ES module and --import: --import makes Node
// start its ES module loader, which the CommonJS command does not (about 4 ms of every run).
'use strict';
const fs = require('node:fs');

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    try {
      const { maxRSS, userCPUTime, systemCPUTime } = process.resourceUsage();
      fs.writeFileSync(out, JSON.stringify({ maxRSS, cpuMicros: userCPUTime + systemCPUTime }));
    } catch {
      // the bench reports the missing number
    }
  });
}
