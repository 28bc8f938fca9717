// The targets of the comparison sections, and the generated part of docs/benchmarks.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, fmt, sizeLabel } from './lib.js';

const BEGIN = '<!-- BEGIN GENERATED: npm run bench writes everything down to the END marker -->';
const END = '<!-- END GENERATED -->';
const RSS_LIMIT_MB = 100;
const RATIO_LIMIT = 1.5;
/** A verified get at most this many times raw socat's time (issue 13; the moonshot is 1.5×). */
const GET_VS_SOCAT_LIMIT = 2;
/** Client CPU per GiB on the 200 Mbit/s link, at most this many times rsync's. */
const LAN_CPU_LIMIT = 1.5;
const CONCURRENCY_FLOOR = 0.7;

function row(workload, tool) {
  return workload?.rows.find((r) => r.tool === tool) ?? null;
}

/** Every target, measured in this run: { name, target, value, met } (met null: not measurable). */
export function evaluateTargets({ peers, sizes, concurrency, lan }) {
  const targets = [];
  const add = (name, target, value, met) => targets.push({ name, target, value, met });
  const big = sizeLabel(peers.bigSize);
  const vs = (r, base, limit, skipped) => {
    const ratio = r?.[`vs ${base}`] ?? null;
    return [ratio === null ? skipped : `${fmt.x(ratio)} (${fmt.s(r.seconds)} s vs ${fmt.s(r.seconds / ratio)} s)`, ratio === null ? null : ratio <= limit];
  };
  for (const [id, verb] of [['file-get', 'get'], ['file-put', 'put']]) {
    const r = row(peers.workloads[id], `tcpsend ${verb}`);
    add(`${big} ${verb}: no slower than the rsync daemon`, '≤ 1.00×', ...vs(r, 'rsync daemon', 1, 'rsync skipped'));
  }
  add(`${big} get: tcpsend / raw socat (moonshot 1.5×)`, `≤ ${GET_VS_SOCAT_LIMIT}×`, ...vs(row(peers.workloads['file-get'], 'tcpsend get'), 'socat', GET_VS_SOCAT_LIMIT, 'socat skipped'));
  for (const [id, verb] of [['folder-get', 'get'], ['folder-put', 'put']]) {
    const r = row(peers.workloads[id], `tcpsend ${verb}`);
    add(`${peers.tree.files}-file folder ${verb}: no slower than the rsync daemon`, '≤ 1.00×', ...vs(r, 'rsync daemon', 1, 'rsync skipped'));
  }
  for (const [id, verb] of [['file-get', 'get'], ['file-put', 'put']]) {
    const w = lan?.rates?.['200mbit']?.workloads?.[id];
    const r = row(w, 'tcpsend');
    const rsync = row(w, 'rsync daemon');
    const name = `200 Mbit/s ${verb}: client CPU s/GiB, tcpsend / rsync`;
    if (!r || !rsync || r.clientCpuVsRsync === null) {
      add(name, `≤ ${LAN_CPU_LIMIT}×`, lan?.skipped ? `LAN section skipped (${lan.skipped})` : 'not measured', null);
    } else {
      add(name, `≤ ${LAN_CPU_LIMIT}×`, `${fmt.x(r.clientCpuVsRsync)} (${r.clientCpuPerGiB.toFixed(2)} vs ${rsync.clientCpuPerGiB.toFixed(2)} CPU s/GiB)`, r.clientCpuVsRsync <= LAN_CPU_LIMIT);
    }
  }
  // The no-op re-sync (issue 11): the same folder again, nothing to move.
  for (const [id, verb] of [['resync-get', 'get'], ['resync-put', 'put']]) {
    const r = row(peers.workloads[id], `tcpsend ${verb}`);
    const rsync = r?.['vs rsync daemon'] ?? null;
    add(`${peers.tree.files}-file no-op re-sync ${verb}: tcpsend / rsync -rt`, `≤ ${RATIO_LIMIT}×`, rsync === null ? 'rsync skipped' : `${fmt.x(rsync)} (${fmt.s(r.seconds)} s vs ${fmt.s(r.seconds / rsync)} s)`, rsync === null ? null : rsync <= RATIO_LIMIT);
  }
  // Peak RSS: every tcpsend CLI client, and every tcpsend server (VmHWM at the end of its
  // section): the servers of one client at a time, and the one that served 64 at once.
  const clients = [];
  const servers = [];
  for (const [id, w] of Object.entries(peers.workloads)) {
    for (const r of w.rows) {
      if (r.clientRssMB !== undefined) clients.push([r.clientRssMB, `${w.title}`]);
    }
    if (peers.serverRssMB[id] !== null) servers.push([peers.serverRssMB[id], `${w.title}`]);
  }
  for (const r of sizes.rows) clients.push([r.clientRssMB, `get of ${sizeLabel(r.size)}`]);
  if (sizes.serverRssMB !== null) servers.push([sizes.serverRssMB, 'the get-by-size series']);
  const peakOf = (list) => list.reduce((a, b) => (b[0] > a[0] ? b : a), [0, '']);
  for (const [side, list] of [['client (CLI)', clients], ['server, one client at a time', servers]]) {
    const [peak, where] = peakOf(list);
    add(`peak RSS, tcpsend ${side}`, `< ${RSS_LIMIT_MB} MB`, `${fmt.mb(peak)} MB (${where})`, peak < RSS_LIMIT_MB);
  }
  if (concurrency.serverRssMB !== null) {
    add('peak RSS, tcpsend server, 64 concurrent clients', `< ${RSS_LIMIT_MB} MB`, `${fmt.mb(concurrency.serverRssMB)} MB`, concurrency.serverRssMB < RSS_LIMIT_MB);
  }
  const ratio = concurrency.ratio64;
  add('64 concurrent clients: aggregate / single-client throughput', `≥ ${CONCURRENCY_FLOOR * 100}%`, `${(ratio * 100).toFixed(0)}%`, ratio >= CONCURRENCY_FLOOR);
  return targets;
}

export function printTargets(targets) {
  const mark = (met) => (met === null ? 'n/a' : met ? 'MET' : 'MISSED');
  const w = Math.max(...targets.map((t) => t.name.length));
  for (const t of targets) console.log(`  ${mark(t.met).padEnd(6)} ${t.name.padEnd(w)}  target ${t.target.padEnd(8)} measured ${t.value}`);
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return { cpu, cores: os.cpus().length, memGiB: os.totalmem() / 1024 ** 3, kernel: `${os.type()} ${os.release()}`, node: process.version };
}

const cell = (c) => String(c).replaceAll('|', '\\|');
const mdTable = (head, rows) =>
  [`| ${head.map(cell).join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

/** The generated part of docs/benchmarks.md. */
function generated({ results, targets, totalSeconds, stream, peers, sizes, concurrency, lan, metadata }) {
  const m = machine();
  const out = [];
  out.push(`Generated by \`npm run bench\` on ${results.at.slice(0, 10)} (${results.at}); the whole run took ${(totalSeconds / 60).toFixed(1)} min.`);
  out.push('');
  out.push(`- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB.toFixed(0)} GiB RAM, ${m.kernel}; /dev/shm is tmpfs`);
  out.push(`- Node ${m.node}; ${Object.entries(peers.versions).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (results.loadavg) out.push(`- Load average (1 min) when the bench started: ${results.loadavg.start.toFixed(2)}, when it ended: ${results.loadavg.end.toFixed(2)} (anything else running on the 2 cores shows in the numbers)`);
  out.push(`- Loopback (127.0.0.1), except the LAN section; median of ${peers.runs} runs after a warm-up; MB = 10^6 bytes; RSS is peak resident memory (the CLI client's getrusage maxrss, the server's VmHWM at the end of its section); CPU is user + system seconds of one run per GiB moved (the tcpsend client's from getrusage, other clients' and socat's from GNU time, servers' from /proc/PID/stat around the run, children it reaped included)`);
  out.push('');
  out.push('### Targets');
  out.push('');
  out.push(mdTable(['target', 'limit', 'measured', ''], targets.map((t) => [t.name, t.target, t.value, t.met === null ? 'n/a' : t.met ? '**MET**' : '**MISSED**'])));
  out.push('');
  if (stream) {
    out.push(`### Stream layer: file → socket → file (${stream.sizeMB} MiB)`);
    out.push('');
    out.push(
      mdTable(
        ['variant', 'MB/s', 'time (s)', 'sender RSS (MB)', 'receiver RSS (MB)'],
        Object.entries(stream.summary).map(([k, s]) => [k, fmt.mbps(s.mbPerSecond), fmt.s(s.seconds), fmt.mb(s.senderRssMB), fmt.mb(s.receiverRssMB)]),
      ),
    );
    out.push('');
    out.push(`tcpsend / baseline throughput: ${stream.ratio.toFixed(2)} (that section's own target: ≥ 0.8).`);
    out.push('');
  }
  for (const [id, w] of Object.entries(peers.workloads)) {
    const folder = id.startsWith('folder');
    out.push(`### ${w.title[0].toUpperCase()}${w.title.slice(1)}`);
    out.push('');
    out.push(
      mdTable(
        ['tool', 'median (s)', 'MB/s', ...(folder ? ['files/s'] : []), ...w.baselines.map((b) => `vs ${b}`), 'client RSS (MB)', 'server RSS (MB)', 'client CPU (s/GiB)', 'server CPU (s/GiB)'],
        w.rows.map((r) => [
          r.tool.startsWith('tcpsend') ? `**${r.tool}**` : r.tool + (r.tool === w.baselines[0] ? ' (baseline)' : ''),
          fmt.s(r.seconds),
          fmt.mbps(r.mbPerSecond),
          ...(folder ? [r.filesPerSecond.toFixed(0)] : []),
          ...w.baselines.map((b) => fmt.x(r[`vs ${b}`])),
          r.clientRssMB === undefined ? '' : fmt.mb(r.clientRssMB),
          r.serverRssMB === undefined ? '' : fmt.mb(r.serverRssMB),
          r.clientCpuPerGiB === undefined || r.clientCpuPerGiB === null ? '' : r.clientCpuPerGiB.toFixed(2),
          r.serverCpuPerGiB === undefined || r.serverCpuPerGiB === null ? '' : r.serverCpuPerGiB.toFixed(2),
        ]),
      ),
    );
    out.push('');
  }
  if (peers.perFile) {
    out.push(`### Where a ${peers.tree.files}-file folder's time goes`);
    out.push('');
    out.push('One more tcpsend get and put of the folder with `--json` (outside the timed runs), read from its events: the time from spawning the CLI to the first file, the steady rate between 10% and 90% of the files, and each file\'s own time from its file_start to its file_done event. Small files go in MGET/MPUT batches of up to 100: a fetched file starts when its answer arrives and is done once written (so its own time is tiny), while a sent file starts when it is read into its batch and is done when the server\'s answer for it comes back (so its own time includes waiting for the rest of its batch).');
    out.push('');
    out.push(
      mdTable(
        ['tcpsend', 'wall (s)', 'to first file (s)', 'files/s (10–90%)', 'per file p50 (ms)', 'p99 (ms)', 'max (ms)'],
        Object.entries(peers.perFile).map(([op, t]) => [op, fmt.s(t.wallSeconds), fmt.s(t.firstFileSeconds), t.steadyFilesPerSecond.toFixed(0), t.perFileMs.p50.toFixed(1), t.perFileMs.p99.toFixed(1), t.perFileMs.max.toFixed(1)]),
      ),
    );
    out.push('');
  }
  out.push('### tcpsend get by size');
  out.push('');
  out.push(`\`tcpsend --version\` alone (node starting and loading the CLI) takes ${fmt.s(sizes.startupSeconds)} s: that fixed cost dominates the small sizes.`);
  out.push('');
  out.push(
    mdTable(
      ['size', 'tcpsend get (s)', 'MB/s', 'socat (s)', 'socat MB/s', 'vs socat', 'client RSS (MB)'],
      sizes.rows.map((r) => [sizeLabel(r.size), fmt.s(r.seconds), fmt.mbps(r.mbPerSecond), fmt.s(r.socatSeconds), fmt.mbps(r.socatMbPerSecond), fmt.x(r.vsSocat), fmt.mb(r.clientRssMB)]),
    ),
  );
  out.push('');
  out.push(`Server peak RSS after the series: ${fmt.mb(sizes.serverRssMB)} MB.`);
  out.push('');
  out.push(`### Concurrent clients (${sizeLabel(concurrency.fileSize)} each)`);
  out.push('');
  out.push(
    'N downloads of the same file at once from one `tcpsend serve`, run as N concurrent `getFile()` calls in ONE node process (the library from dist/, `bench/concurrent-client.js`), each to its own file on /dev/shm: 64 CLI processes on 2 cores would mostly measure node starting up. Time is from the first request to the last file saved.',
  );
  out.push('');
  out.push(
    mdTable(
      ['clients', 'all done (s)', 'aggregate MB/s', 'vs 1 client', 'first done (s)', 'client process RSS (MB)'],
      concurrency.rows.map((r) => [String(r.clients), fmt.s(r.seconds), fmt.mbps(r.aggregateMbPerSecond), `${(r.vsSingle * 100).toFixed(0)}%`, fmt.s(r.firstDoneSeconds), fmt.mb(r.clientProcessRssMB)]),
    ),
  );
  out.push('');
  out.push(`Server peak RSS after up to 64 clients at once: ${fmt.mb(concurrency.serverRssMB)} MB. (The client process holds all N transfers, so its RSS is not a per-client figure and is not held to the 100 MB target.)`);
  out.push('');
  out.push('### Emulated LAN links');
  out.push('');
  if (!lan || lan.skipped) {
    out.push(`Skipped in this run: ${lan?.skipped ?? 'not run'}. (It needs root: two network namespaces joined by a veth pair, shaped with tbf.)`);
  } else {
    out.push(`Two network namespaces joined by a veth pair, both ends shaped with tbf (no added delay or loss: this kernel has no netem); the servers run in one, the clients in the other, so all traffic crosses the shaped link and stays inside the namespaces. Median of ${lan.runs} runs. On a slow link every tool takes the link's time; the CPU per GiB is what each costs the machines meanwhile.`);
    out.push('');
    for (const rate of Object.values(lan.rates)) {
      for (const [id, w] of Object.entries(rate.workloads)) {
        const what = id.startsWith('file') ? `${sizeLabel(rate.fileSize)} file` : `${lan.tree.files}-file folder`;
        out.push(`#### ${rate.label}: ${what}, ${id.endsWith('get') ? 'download' : 'upload'}`);
        out.push('');
        out.push(
          mdTable(
            ['tool', 'median (s)', 'MB/s', 'vs rsync daemon', 'client CPU (s/GiB)', 'server CPU (s/GiB)'],
            w.rows.map((r) => [r.tool === 'tcpsend' ? '**tcpsend**' : r.tool, fmt.s(r.seconds), fmt.mbps(r.mbPerSecond), fmt.x(r.vsRsync), r.clientCpuPerGiB === null ? '' : r.clientCpuPerGiB.toFixed(2), r.serverCpuPerGiB === null ? '' : r.serverCpuPerGiB.toFixed(2)]),
          ),
        );
        out.push('');
      }
    }
  }
  if (metadata) {
    out.push('### Metadata calls: synchronous or asynchronous');
    out.push('');
    out.push(`The Root makes its per-file metadata calls synchronously (src/server/root/fs-port.ts) because of this table: the same calls over the ${metadata.files} files of the folder above, in one process, each way in turn (median of ${metadata.runs} runs, round-robin). An awaited call pays a round trip through libuv's thread pool and a promise; even all at once, the pool's best case, it costs more than the call itself.`);
    out.push('');
    out.push(mdTable(['call', 'way', 'median (s)', 'vs sync'], metadata.rows.map((r) => [r.call, r.way, fmt.s(r.seconds), fmt.x(r.vsSync)])));
    out.push('');
  }
  out.push('### Notes');
  out.push('');
  for (const n of peers.notes) out.push(`- ${n}`);
  return out.join('\n');
}

const INTRO = `# Benchmarks

\`npm run bench\` builds dist/ and runs \`bench/run.js\`: the stream layer on its own
(\`bench/stream.js\`), then tcpsend against the tools a user would pick instead
(\`bench/peers.js\`), how tcpsend's time grows with size and with concurrent clients
(\`bench/scaling.js\`), and, as root, the same work over emulated LAN links (\`bench/lan.js\`). It prints its tables, saves every number in \`bench/results/latest.json\`
and rewrites the generated part of this page. \`BENCH_RUNS=N\` changes the number of timed runs
(5 by default, after one warm-up); \`BENCH_QUICK=1\` is a smoke run with small sizes that leaves
this page alone.

How it measures:

- Everything runs on loopback (127.0.0.1), each tool on the same work. Sources sit on the temp
  disk (\`$TMPDIR/tcpsend-bench-src\`, made once and kept) and are read before the runs, so they
  come from the page cache; destinations are on /dev/shm and are emptied before every run, so
  every run really moves the bytes.
- A run is timed from spawning the client command to its exit (for socat and tar, to the exit of
  both ends). Servers (\`tcpsend serve\`, \`python3 -m http.server\`, \`rsync --daemon\`) are
  started before; a one-shot socat listener is listening before the clock starts.
- Every result is checked outside the timed region: size and SHA-256 of the file, or of every
  file of the folder (and no extra files). A wrong result fails the bench with exit status 1.
- tcpsend is always the built CLI, \`bin/tcpsend.js\`, except in the concurrency series (see there).
- socat, rsync and curl are installed with apt-get when missing (as root); a peer that still
  cannot run is skipped, and the notes say so.

${BEGIN}
${END}
`;

/** Rewrite the generated part of docs/benchmarks.md (the page is created if missing). */
export function writeDocs(data) {
  const file = path.join(REPO, 'docs', 'benchmarks.md');
  let page = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : INTRO;
  if (!page.includes(BEGIN) || !page.includes(END)) page = INTRO;
  const before = page.slice(0, page.indexOf(BEGIN) + BEGIN.length);
  const after = page.slice(page.indexOf(END));
  fs.writeFileSync(file, `${before}\n\n${generated(data)}\n\n${after}`);
  return file;
}
