// N concurrent downloads of one file from one process, through the library (getFile from
// dist/): 64 CLI processes would measure node start-up on 2 cores more than tcpsend.
//
//   node bench/concurrent-client.js HOST:PORT REMOTE N DSTDIR
//
// Prints one JSON line: the wall time from the first request to the last file saved, each
// transfer's own time and digest, and this process's peak RSS (kB).
import path from 'node:path';
import { getFile } from '../dist/index.js';

const [target, remote, count, dstDir] = process.argv.slice(2);
const n = Number(count);
const dsts = Array.from({ length: n }, (_, i) => path.join(dstDir, `client-${i}.bin`));
const began = performance.now();
const results = await Promise.all(
  dsts.map(async (dst) => {
    const r = await getFile(target, remote, dst);
    return { dst, checksum: r.checksum, digest: r.digest, size: r.size, seconds: (performance.now() - began) / 1000 };
  }),
);
const seconds = (performance.now() - began) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRSS: process.resourceUsage().maxRSS, results })}\n`);
