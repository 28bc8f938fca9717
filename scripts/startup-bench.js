// `node scripts/startup-bench.js [--runs N] [--compare CLONE]...`: how long tcpsend takes to
// start, for docs/benchmarks.md ("Start-up"). Times `tcpsend --version`, `tcpsend --help` and a
// `tcpsend get` of a 6-byte file from a loopback server, for bin/tcpsend.js, dist/tcpsend (if
// `npm run build:exe` made it) and bin/tcpsend.js of each CLONE given (an older build, to
// compare), with `node -e 0` as the floor.
//
// The variants run in turn, round after round, so load from anything else running on the
// machine falls on all of them alike. Wall time: the median and the lower quartile of the
// rounds. CPU: user + system time of the child, from this process's cutime and cstime in
// /proc/self/stat (Linux), averaged over the rounds.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '40' }, compare: { type: 'string', multiple: true, default: [] } },
});
const RUNS = Number(values.runs);

const variants = [['node -e 0', [process.execPath, '-e', '0']]];
for (const clone of values.compare) variants.push([`node ${clone}/bin/tcpsend.js`, [process.execPath, path.join(clone, 'bin', 'tcpsend.js')]]);
variants.push(['node bin/tcpsend.js', [process.execPath, path.join(REPO, 'bin', 'tcpsend.js')]]);
const exe = path.join(REPO, 'dist', 'tcpsend');
if (fs.existsSync(exe)) variants.push(['dist/tcpsend', [exe]]);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-startup-'));
fs.mkdirSync(path.join(work, 'served'));
fs.writeFileSync(path.join(work, 'served', 'small.txt'), 'hello\n');
const server = spawn(process.execPath, [path.join(REPO, 'bin', 'tcpsend.js'), 'serve', 'served', '--host', '127.0.0.1', '--port', '0', '--json'], {
  cwd: work,
  stdio: ['ignore', 'pipe', 'ignore'],
});
const port = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (s) => {
    out += s;
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]).port);
  });
  server.once('exit', (code) => reject(new Error(`tcpsend serve exited (${code})`)));
});

const commands = [
  ['--version', ['--version']],
  ['--help', ['--help']],
  ['get (6 B)', ['get', `127.0.0.1:${port}`, 'small.txt', path.join(work, 'got.txt'), '--overwrite', '--quiet']],
];

/** Children's user + system seconds so far (waited-for children only). */
function childCpuSeconds() {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  // After the name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const loadBefore = os.loadavg()[0];
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const rows = [];
try {
  for (const [label, args] of commands) {
    const runs = variants.map(() => ({ wall: [], cpu: 0 }));
    for (let round = -3; round < RUNS; round++) {
      variants.forEach(([, argv], i) => {
        const isFloor = argv.length === 3 && argv[1] === '-e';
        const cpuBefore = childCpuSeconds();
        const started = performance.now();
        const r = spawnSync(argv[0], [...argv.slice(1), ...(isFloor ? [] : args)], { cwd: work, stdio: 'ignore', env: { ...process.env, CI: '1' } });
        const ms = performance.now() - started;
        if (r.status !== 0) throw new Error(`${argv.join(' ')} ${args.join(' ')} exited ${r.status}`);
        if (round < 0) return; // warm-up rounds
        runs[i].wall.push(ms);
        runs[i].cpu += childCpuSeconds() - cpuBefore;
      });
    }
    variants.forEach(([name], i) => {
      const wall = runs[i].wall.sort((a, b) => a - b);
      rows.push({ command: label, variant: name, median: quantile(wall, 0.5), q1: quantile(wall, 0.25), cpu: (runs[i].cpu / RUNS) * 1000 });
    });
  }
} finally {
  server.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
}

console.log(`${RUNS} rounds; load average (1 min) before: ${loadBefore.toFixed(2)}, after: ${os.loadavg()[0].toFixed(2)}; ${os.cpus().length} cores; Node ${process.version}`);
console.log('| command | tcpsend | median (ms) | lower quartile (ms) | CPU user+sys (ms) |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.command} | ${r.variant} | ${r.median.toFixed(0)} | ${r.q1.toFixed(0)} | ${r.cpu.toFixed(0)} |`);
}
