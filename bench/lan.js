// Emulated LAN links: two network namespaces joined by a veth pair, each end shaped with tbf
// to 1 Gbit/s, then to 200 Mbit/s (this kernel has no netem: no added delay or loss). The
// server runs in one namespace, the client in the other, so every byte crosses the shaped
// link and no traffic leaves them (addresses 10.213.0.1 and .2 exist only there). Compared:
// tcpsend, the rsync daemon and socat, get and put of one file, and tcpsend and rsync on the
// 10,000-file folder; for each, the wall time and the CPU seconds per GiB of the client and
// of the server: on a slow link the time is the link's, and what is left to compare is what
// each tool costs the machines. Needs root (and ip, tc); elsewhere it is skipped with a note.
// The namespaces are removed afterwards, whatever happens.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  CLI,
  GiB,
  MB,
  MiB,
  QUICK,
  RUNS,
  SOURCE_ROOT,
  cpuSeconds,
  emptyContents,
  ensureTools,
  fmt,
  have,
  hashFile,
  median,
  removeScratch,
  rsyncdConfig,
  runTimed,
  scratchDir,
  sizeLabel,
  sourceFile,
  sourceTree,
  start,
  stop,
  textTable,
  verifyFile,
  verifyTree,
} from './lib.js';

const NS = { server: 'tcpsend-bench-a', client: 'tcpsend-bench-b' };
const ADDR = { server: '10.213.0.1', client: '10.213.0.2' };
const VETH = { server: 'tsbench-a', client: 'tsbench-b' };
// 512 MiB at both rates, as issue 13 measured the 200 Mbit/s link: the CPU-seconds per GiB
// compared there are about the cost per byte, and over 256 MiB a client's fixed start-up
// (0.1-0.2 CPU-s, against rsync's 0.01) was a third of tcpsend's figure.
const RATES = [
  { id: '1gbit', label: '1 Gbit/s', bits: 1e9, fileSize: QUICK ? 64 * MiB : 512 * MiB },
  { id: '200mbit', label: '200 Mbit/s', bits: 200e6, fileSize: QUICK ? 32 * MiB : 512 * MiB },
];
const LAN_RUNS = Math.min(RUNS, QUICK ? 1 : 3);
const PORTS = { tcpsend: 7070, tcpsendUp: 7071, rsync: 8730, socat: 9000 };
const SOCAT_BUF = String(MiB);

function ip(args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r;
}

const inNs = (ns) => ['ip', 'netns', 'exec', ns];

function removeNamespaces() {
  for (const ns of Object.values(NS)) ip(['netns', 'del', ns], { check: false });
}

function createNamespaces() {
  removeNamespaces(); // left over from a run that was killed
  ip(['netns', 'add', NS.server]);
  ip(['netns', 'add', NS.client]);
  ip(['link', 'add', VETH.server, 'type', 'veth', 'peer', 'name', VETH.client]);
  for (const side of ['server', 'client']) {
    ip(['link', 'set', VETH[side], 'netns', NS[side]]);
    ip(['-n', NS[side], 'addr', 'add', `${ADDR[side]}/30`, 'dev', VETH[side]]);
    ip(['-n', NS[side], 'link', 'set', 'lo', 'up']);
    ip(['-n', NS[side], 'link', 'set', VETH[side], 'up']);
  }
}

/** Shape both ends of the veth to `bits` per second (tbf; the burst covers one timer tick). */
function shape(bits) {
  const burst = Math.max(256 * 1024, Math.ceil(bits / 8 / 100));
  for (const side of ['server', 'client']) {
    const r = spawnSync('ip', ['netns', 'exec', NS[side], 'tc', 'qdisc', 'replace', 'dev', VETH[side], 'root', 'tbf', 'rate', `${bits}bit`, 'burst', String(burst), 'latency', '50ms'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tc qdisc replace (tbf ${bits} bit/s): ${r.stderr.trim()}`);
  }
}

/** Why the section cannot run here, or null. */
function cannotRun() {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need it)';
  for (const tool of ['ip', 'tc']) if (!have(tool)) return `'${tool}' is missing (Debian: iproute2)`;
  return null;
}

/** Wait until something listens on port in the server's namespace (its /proc/net/tcp). */
async function waitListeningIn(port, child, timeoutMs = 15_000) {
  const want = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = spawnSync('ip', ['netns', 'exec', NS.server, 'cat', '/proc/net/tcp'], { encoding: 'utf8' });
    if (r.stdout.split('\n').some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1]?.endsWith(want) && f[3] === '0A';
    })) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${child.label} exited before listening on ${port}: ${child.err.slice(-500)}`);
    if (performance.now() > deadline) throw new Error(`nothing listens on port ${port} in ${NS.server} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A server in the server's namespace; `cpu()` reads its CPU seconds (reaped children included). */
async function startIn(cmd, args, port) {
  const child = start(inNs(NS.server)[0], [...inNs(NS.server).slice(1), cmd, ...args]);
  await waitListeningIn(port, child);
  return { child, cpu: () => cpuSeconds(child.pid, { children: true }) };
}

/** One client run in the client's namespace, with the server's CPU around it. */
async function measured(server, cmd, args) {
  const before = server ? server.cpu() : null;
  const r = await runTimed(cmd, args, { prefix: inNs(NS.client) });
  // The rsync daemon reaps the child that served this client a moment after it ends.
  if (server) await new Promise((resolve) => setTimeout(resolve, 100));
  const after = server ? server.cpu() : null;
  return { seconds: r.seconds, clientCpuSeconds: r.cpuSeconds, serverCpuSeconds: before === null || after === null ? null : after - before };
}

/** socat: the listener (the server) is up before the clock starts; both ends' CPU from GNU time. */
async function socatRun(listenerArgs, connectorArgs) {
  const listener = start(inNs(NS.server)[0], [...inNs(NS.server).slice(1), '/usr/bin/time', '-f', 'BENCH_CPU %U %S', 'socat', ...listenerArgs]);
  try {
    await waitListeningIn(PORTS.socat, listener);
    const client = await runTimed('socat', connectorArgs, { prefix: inNs(NS.client) });
    const { code } = await listener.done;
    if (code !== 0) throw new Error(`socat listener exited with ${code}: ${listener.err.slice(-500)}`);
    const m = /BENCH_CPU (\S+) (\S+)\s*$/.exec(listener.err);
    return { seconds: client.seconds, clientCpuSeconds: client.cpuSeconds, serverCpuSeconds: m ? Number(m[1]) + Number(m[2]) : null };
  } finally {
    await stop(listener, 500);
  }
}

export async function lanBench() {
  const why = cannotRun();
  if (why !== null) {
    console.log(`  skipped: ${why}`);
    return { skipped: why };
  }
  const began = performance.now();
  const { present, notes } = ensureTools(['rsync', 'socat', '/usr/bin/time'], { rsync: 'rsync', socat: 'socat', '/usr/bin/time': 'time' });
  for (const n of notes) console.log(`  note: ${n}`);
  if (!present.has('/usr/bin/time')) return { skipped: 'GNU time (/usr/bin/time) is missing: no CPU figures' };

  const filesDir = path.join(SOURCE_ROOT, 'files');
  const tree = await sourceTree(path.join(SOURCE_ROOT, 'trees'));
  const work = scratchDir('lan');
  const dir = (name) => {
    const d = path.join(work, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const servers = [];
  const rates = {};
  // Removed on the way out whatever happens: a failure, Ctrl-C (bench/lib.js exits on signals).
  process.on('exit', removeNamespaces);
  try {
    createNamespaces();
    const down = await startIn(process.execPath, [CLI, 'serve', SOURCE_ROOT, '--host', ADDR.server, '--port', String(PORTS.tcpsend), '--quiet'], PORTS.tcpsend);
    const upRoot = dir('tcpsend-up');
    const up = await startIn(process.execPath, [CLI, 'serve', upRoot, '--host', ADDR.server, '--port', String(PORTS.tcpsendUp), '--quiet', '--allow-upload', '--allow-overwrite'], PORTS.tcpsendUp);
    servers.push(down.child, up.child);
    let rsyncd = null;
    const rsyncUp = dir('rsync-up');
    if (present.has('rsync')) {
      const conf = path.join(work, 'rsyncd.conf');
      rsyncdConfig(conf, ADDR.server, PORTS.rsync, [['src', SOURCE_ROOT, true], ['up', rsyncUp, false]], path.join(work, 'rsyncd.log'));
      rsyncd = await startIn('rsync', ['--daemon', '--no-detach', `--config=${conf}`], PORTS.rsync);
      servers.push(rsyncd.child);
    }
    const rsyncUrl = `rsync://${ADDR.server}:${PORTS.rsync}`;
    const rsyncFlags = ['-rlpt', '--whole-file'];
    const getDir = dir('get');

    for (const rate of RATES) {
      shape(rate.bits);
      const bigName = `big-${rate.fileSize}.bin`;
      const bigSrc = sourceFile(filesDir, bigName, rate.fileSize);
      const big = await hashFile(bigSrc);
      const dst = path.join(getDir, bigName);
      const jobs = [
        ['file-get', 'tcpsend', () => measured(down, process.execPath, [CLI, 'get', `${ADDR.server}:${PORTS.tcpsend}`, `files/${bigName}`, dst, '--quiet']), () => verifyFile(dst, big, 'LAN tcpsend get')],
        ['file-put', 'tcpsend', () => measured(up, process.execPath, [CLI, 'put', bigSrc, `${ADDR.server}:${PORTS.tcpsendUp}`, '--quiet', '--overwrite']), () => verifyFile(path.join(upRoot, bigName), big, 'LAN tcpsend put')],
        ['folder-get', 'tcpsend', () => measured(down, process.execPath, [CLI, 'get', `${ADDR.server}:${PORTS.tcpsend}`, `trees/${tree.name}`, path.join(getDir, tree.name), '--quiet']), () => verifyTree(path.join(getDir, tree.name), tree.manifest, 'LAN tcpsend folder get')],
        ['folder-put', 'tcpsend', () => measured(up, process.execPath, [CLI, 'put', tree.dir, `${ADDR.server}:${PORTS.tcpsendUp}`, '--quiet']), () => verifyTree(path.join(upRoot, tree.name), tree.manifest, 'LAN tcpsend folder put')],
      ];
      if (rsyncd) {
        jobs.push(
          ['file-get', 'rsync daemon', () => measured(rsyncd, 'rsync', [...rsyncFlags, `${rsyncUrl}/src/files/${bigName}`, `${getDir}/`]), () => verifyFile(dst, big, 'LAN rsync get')],
          ['file-put', 'rsync daemon', () => measured(rsyncd, 'rsync', [...rsyncFlags, bigSrc, `${rsyncUrl}/up/`]), () => verifyFile(path.join(rsyncUp, bigName), big, 'LAN rsync put')],
          ['folder-get', 'rsync daemon', () => measured(rsyncd, 'rsync', [...rsyncFlags, `${rsyncUrl}/src/trees/${tree.name}`, `${getDir}/`]), () => verifyTree(path.join(getDir, tree.name), tree.manifest, 'LAN rsync folder get')],
          ['folder-put', 'rsync daemon', () => measured(rsyncd, 'rsync', [...rsyncFlags, tree.dir, `${rsyncUrl}/up/`]), () => verifyTree(path.join(rsyncUp, tree.name), tree.manifest, 'LAN rsync folder put')],
        );
      }
      if (present.has('socat')) {
        const listen = `TCP-LISTEN:${PORTS.socat},reuseaddr,bind=${ADDR.server}`;
        const connect = `TCP:${ADDR.server}:${PORTS.socat}`;
        const socatUp = path.join(dir('socat-up'), bigName);
        jobs.push(
          ['file-get', 'socat', () => socatRun(['-b', SOCAT_BUF, '-u', `OPEN:${bigSrc}`, listen], ['-b', SOCAT_BUF, '-u', connect, `OPEN:${dst},creat,trunc`]), () => verifyFile(dst, big, 'LAN socat get')],
          ['file-put', 'socat', () => socatRun(['-b', SOCAT_BUF, '-u', listen, `OPEN:${socatUp},creat,trunc`], ['-b', SOCAT_BUF, '-u', `OPEN:${bigSrc}`, connect]), () => verifyFile(socatUp, big, 'LAN socat put')],
        );
      }
      const clean = () => {
        for (const d of [getDir, upRoot, rsyncUp]) emptyContents(d);
      };
      const samples = new Map();
      for (let round = 0; round < LAN_RUNS; round++) {
        for (let i = 0; i < jobs.length; i++) {
          const [workload, tool, go, verify] = jobs[(i + round) % jobs.length];
          clean();
          const r = await go();
          await verify();
          const key = `${workload}\t${tool}`;
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key).push(r);
        }
        console.log(`  ${rate.label}: round ${round + 1}/${LAN_RUNS} done (${((performance.now() - began) / 1000).toFixed(0)} s)`);
      }
      clean();
      const workloads = {};
      for (const [key, runs] of samples) {
        const [workload, tool] = key.split('\t');
        const bytes = workload.startsWith('file') ? rate.fileSize : tree.bytes;
        const perGiB = (list) => (list.some((v) => v === null) ? null : median(list) / (bytes / GiB));
        const seconds = median(runs.map((r) => r.seconds));
        (workloads[workload] ??= { bytes, rows: [] }).rows.push({
          tool,
          seconds,
          mbPerSecond: MB(bytes) / seconds,
          runs: runs.map((r) => r.seconds),
          clientCpuSeconds: median(runs.map((r) => r.clientCpuSeconds)),
          serverCpuSeconds: runs.some((r) => r.serverCpuSeconds === null) ? null : median(runs.map((r) => r.serverCpuSeconds)),
          clientCpuPerGiB: perGiB(runs.map((r) => r.clientCpuSeconds)),
          serverCpuPerGiB: perGiB(runs.map((r) => r.serverCpuSeconds)),
        });
      }
      for (const w of Object.values(workloads)) {
        const rsync = w.rows.find((r) => r.tool === 'rsync daemon');
        for (const r of w.rows) {
          r.vsRsync = rsync ? r.seconds / rsync.seconds : null;
          r.clientCpuVsRsync = rsync && r.clientCpuPerGiB !== null && rsync.clientCpuPerGiB ? r.clientCpuPerGiB / rsync.clientCpuPerGiB : null;
        }
      }
      rates[rate.id] = { label: rate.label, fileSize: rate.fileSize, workloads };
      for (const [id, w] of Object.entries(workloads)) {
        console.log(`\n  ${rate.label}, ${id.startsWith('file') ? `${sizeLabel(rate.fileSize)} file` : `${tree.files}-file folder`} ${id.endsWith('get') ? 'get' : 'put'}: median of ${LAN_RUNS}`);
        console.log(
          textTable(
            ['tool', 'median s', 'MB/s', 'vs rsync', 'client CPU s/GiB', 'server CPU s/GiB'],
            w.rows.map((r) => [r.tool, fmt.s(r.seconds), fmt.mbps(r.mbPerSecond), fmt.x(r.vsRsync), r.clientCpuPerGiB === null ? '' : r.clientCpuPerGiB.toFixed(2), r.serverCpuPerGiB === null ? '' : r.serverCpuPerGiB.toFixed(2)]),
          ),
        );
      }
    }
    return { runs: LAN_RUNS, tree: { files: tree.files, bytes: tree.bytes }, rates, seconds: (performance.now() - began) / 1000 };
  } finally {
    for (const child of servers) await stop(child);
    removeNamespaces();
    process.off('exit', removeNamespaces);
    removeScratch(work);
  }
}
