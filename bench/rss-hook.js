// Preloaded with `node --import` in front of bin/tcpsend.js by the bench: at exit, writes the
// process's peak RSS (kB, getrusage ru_maxrss) and CPU time (µs) as JSON to the file named by
// BENCH_RSS_FILE.
import fs from 'node:fs';

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
