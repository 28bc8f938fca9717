// tcpsend against the tools a user would pick instead, on loopback, same work for each:
//   - one 1 GiB random file, downloaded and uploaded;
//   - a folder of 10,000 files of 4 KiB in 100 sub-folders, downloaded and uploaded.
// Peers: socat with 1 MiB buffers (the baseline), socat followed by sha256sum or openssl dgst
// (the careful user), curl from python3 -m http.server (download), the rsync daemon with
// --whole-file, and tar | socat | tar for the folder. tcpsend is the built CLI against
// `tcpsend serve` child processes. Every run is verified (size + SHA-256) outside its timing.
import path from 'node:path';
import fs from 'node:fs';
import {
  GiB,
  HOST,
  MB,
  MiB,
  QUICK,
  RUNS,
  SOURCE_ROOT,
  WrongResult,
  emptyContents,
  ensureTools,
  finished,
  fmt,
  freePort,
  hashFile,
  median,
  peakRssMB,
  removeScratch,
  rsyncdConfig,
  runTimed,
  HERE,
  scratchBase,
  run,
  runCli,
  runNode,
  cpuSeconds,
  CLI,
  scratchDir,
  sizeLabel,
  sourceFile,
  sourceTree,
  start,
  startServer,
  stop,
  textTable,
  toolVersion,
  verifyFile,
  verifyTree,
  waitListening,
} from './lib.js';

const SOCAT_BUF = String(MiB);

/** One transfer with socat: the listener is up before the clock starts (like a server). */
async function socatOnce(listenerArgs, connectorArgs, port) {
  const timed = ['-f', 'BENCH_CPU %U %S', 'socat'];
  const listener = start('/usr/bin/time', [...timed, ...listenerArgs]);
  try {
    await waitListening(port, listener);
    const t0 = performance.now();
    const connector = start('/usr/bin/time', [...timed, ...connectorArgs]);
    const ends = await Promise.all([finished(connector), finished(listener)]);
    const cpu = (child) => {
      const m = /BENCH_CPU (\S+) (\S+)\s*$/.exec(child.err);
      return m ? Number(m[1]) + Number(m[2]) : null;
    };
    // The listener is the side that serves (it sends on a get, receives on a put).
    return { seconds: (Math.max(...ends) - t0) / 1000, clientCpuSeconds: cpu(connector), serverCpuSeconds: cpu(listener) };
  } finally {
    await stop(listener, 500);
  }
}

/** The careful user: hash the result by hand after the copy. Returns the seconds it took. */
async function handHash(tool, file, expected, what) {
  const args = tool === 'sha256sum' ? [file] : ['dgst', '-sha256', '-r', file];
  const r = await run(tool, args);
  const got = r.stdout.trim().split(/\s+/)[0];
  if (got !== expected.sha256) throw new WrongResult(`${what}: ${tool} says ${got}, expected ${expected.sha256}`);
  return r.seconds;
}

/**
 * A folder transfer's timeline from its --json events: start-up until the first file, the
 * steady rate (files between 10% and 90% of the total), and each file's own seconds.
 */
function folderTimeline(ndjson, spawnedAt, wallSeconds) {
  const events = ndjson.trim().split('\n').map((line) => JSON.parse(line));
  const at = (e) => Date.parse(e.time);
  const done = events.filter((e) => e.event === 'file_done');
  const firstStart = events.find((e) => e.event === 'file_start');
  const lo = done[Math.floor(done.length * 0.1)];
  const hi = done[Math.floor(done.length * 0.9)];
  const ms = done.map((e) => e.seconds * 1000).sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return {
    wallSeconds,
    firstFileSeconds: firstStart ? (at(firstStart) - spawnedAt) / 1000 : null,
    steadyFilesPerSecond: (Math.floor(done.length * 0.9) - Math.floor(done.length * 0.1)) / Math.max(0.001, (at(hi) - at(lo)) / 1000),
    perFileMs: { p50: q(0.5), p99: q(0.99), max: ms.at(-1) },
    events: events.length,
  };
}

export async function peersBench() {
  const began = performance.now();
  const bigSize = QUICK ? 64 * MiB : GiB;
  const notes = [];
  const { present, notes: toolNotes } = ensureTools(['socat', 'rsync', 'curl', 'python3', 'tar', 'sha256sum', 'openssl', '/usr/bin/time'], {
    socat: 'socat',
    rsync: 'rsync',
    curl: 'curl',
    '/usr/bin/time': 'time',
  });
  notes.push(...toolNotes);
  for (const n of toolNotes) console.log(`  note: ${n}`);
  const versions = {
    socat: present.has('socat') ? toolVersion('socat', ['-V'], /socat version (\S+)/) : null,
    rsync: present.has('rsync') ? toolVersion('rsync', ['--version'], /rsync\s+version (\S+)/) : null,
    curl: present.has('curl') ? toolVersion('curl', ['--version'], /curl (\S+)/) : null,
    python3: present.has('python3') ? toolVersion('python3', ['--version'], /Python (\S+)/) : null,
    openssl: present.has('openssl') ? toolVersion('openssl', ['version'], /OpenSSL (\S+)/) : null,
    tar: present.has('tar') ? toolVersion('tar', ['--version'], /tar(?: \(GNU tar\))? (\S+)/) : null,
    sha256sum: present.has('sha256sum') ? toolVersion('sha256sum', ['--version'], /sha256sum \(GNU coreutils\) (\S+)/) : null,
  };

  // Sources: on the temp disk, read once (hashing them) so they sit in the page cache.
  const filesDir = path.join(SOURCE_ROOT, 'files');
  const treesDir = path.join(SOURCE_ROOT, 'trees');
  const bigName = `big-${bigSize}.bin`;
  const bigSrc = sourceFile(filesDir, bigName, bigSize);
  const big = await hashFile(bigSrc);
  const tree = await sourceTree(treesDir);
  console.log(`  file: ${sizeLabel(bigSize)} (${bigSrc}); folder: ${tree.files} files of ${sizeLabel(tree.spec.fileSize)} in ${tree.spec.dirs} sub-folders (${tree.dir})`);
  console.log(`  destinations on ${scratchBase()}; median of ${RUNS} runs after a warm-up`);

  const work = scratchDir('peers');
  const dir = (name) => {
    const d = path.join(work, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const rss = (name) => path.join(work, `${name}.rss`);
  const servers = [];
  try {
    // tcpsend servers: one per workload, so each one's peak RSS is its own (and the folder's
    // 10,000 digests do not push the big file's out of the server's digest cache, or back).
    const filesServer = await startServer(filesDir);
    const treesServer = await startServer(treesDir);
    const upFileRoot = dir('tcpsend-up-file');
    const upTreeRoot = dir('tcpsend-up-tree');
    const upFileServer = await startServer(upFileRoot, ['--allow-upload', '--allow-overwrite']);
    const upTreeServer = await startServer(upTreeRoot, ['--allow-upload', '--allow-overwrite']);
    // The no-op re-sync: a destination synced once before the runs, then synced again and again.
    const resyncUpRoot = dir('tcpsend-resync-up');
    const resyncUpServer = await startServer(resyncUpRoot, ['--allow-upload', '--allow-overwrite']);
    servers.push(filesServer.child, treesServer.child, upFileServer.child, upTreeServer.child, resyncUpServer.child);

    let http = null;
    if (present.has('python3') && present.has('curl')) {
      const port = await freePort();
      const child = start('python3', ['-m', 'http.server', String(port), '--bind', HOST, '--directory', filesDir]);
      servers.push(child);
      await waitListening(port, child);
      http = { port, child };
    }
    let httpPut = null;
    if (present.has('python3') && present.has('curl')) {
      const port = await freePort();
      const putDir = dir('curl-up');
      const child = start('python3', [path.join(HERE, 'put-server.py'), HOST, String(port), putDir]);
      servers.push(child);
      await waitListening(port, child);
      httpPut = { port, child, dir: putDir };
    }
    let rsyncd = null;
    const upRsync = dir('rsync-up');
    const resyncUpRsync = dir('rsync-resync-up');
    if (present.has('rsync')) {
      const port = await freePort();
      const conf = path.join(work, 'rsyncd.conf');
      rsyncdConfig(conf, HOST, port, [['src', SOURCE_ROOT, true], ['up', upRsync, false], ['resync', resyncUpRsync, false]], path.join(work, 'rsyncd.log'));
      const child = start('rsync', ['--daemon', '--no-detach', `--config=${conf}`]);
      servers.push(child);
      await waitListening(port, child);
      rsyncd = { url: `rsync://${HOST}:${port}`, child };
    }
    const rsyncFlags = ['-rlpt', '--whole-file'];
    const hashTools = ['sha256sum', 'openssl'].filter((t) => present.has(t));
    const hashLabel = { sha256sum: 'socat + sha256sum', openssl: 'socat + openssl dgst' };

    // One tcpsend CLI run: its time, its peak RSS and CPU, and the CPU its server spent meanwhile.
    const tcpsend = async (server, args, name) => {
      const before = cpuSeconds(server.child.pid);
      const r = await runCli(args, { rssFile: rss(name) });
      const after = cpuSeconds(server.child.pid);
      return { seconds: r.seconds, clientRssMB: r.rssMB, clientCpuSeconds: r.cpuSeconds, serverCpuSeconds: before === null || after === null ? null : after - before };
    };

    // One peer client run under GNU time, with its server's CPU (reaped children included:
    // the rsync daemon forks one per client) around it.
    const peer = async (serverChild, cmd, args) => {
      const before = cpuSeconds(serverChild.pid, { children: true });
      const r = await runTimed(cmd, args);
      if (cmd === 'rsync') await new Promise((resolve) => setTimeout(resolve, 100)); // the daemon reaps its child
      const after = cpuSeconds(serverChild.pid, { children: true });
      return { seconds: r.seconds, clientCpuSeconds: r.cpuSeconds, serverCpuSeconds: before === null || after === null ? null : after - before };
    };

    // A job is one measured transfer; it returns { variant: seconds } (socat also gives the
    // careful-user variants) and, for tcpsend, the client's peak RSS.
    const jobs = [];
    const socatFile = (direction) => async (what) => {
      const out = dir(`socat-${direction}`);
      emptyContents(out);
      const dst = path.join(out, bigName);
      const port = await freePort();
      const listen = `TCP-LISTEN:${port},reuseaddr,bind=${HOST}`;
      const connect = `TCP:${HOST}:${port}`;
      const timed =
        direction === 'get'
          ? await socatOnce(['-b', SOCAT_BUF, '-u', `OPEN:${bigSrc}`, listen], ['-b', SOCAT_BUF, '-u', connect, `OPEN:${dst},creat,trunc`], port)
          : await socatOnce(['-b', SOCAT_BUF, '-u', listen, `OPEN:${dst},creat,trunc`], ['-b', SOCAT_BUF, '-u', `OPEN:${bigSrc}`, connect], port);
      const { seconds } = timed;
      const result = { socat: timed };
      const hashes = {};
      for (const tool of hashTools) {
        hashes[tool] = await handHash(tool, dst, big, what);
        result[hashLabel[tool]] = { seconds: seconds + hashes[tool], hashSeconds: hashes[tool] };
      }
      await verifyFile(dst, big, what);
      emptyContents(out);
      return result;
    };
    if (present.has('socat')) {
      jobs.push({ workload: 'file-get', name: 'socat get', fn: socatFile('get') });
      jobs.push({ workload: 'file-put', name: 'socat put', fn: socatFile('put') });
    }
    if (http) {
      jobs.push({
        workload: 'file-get',
        name: 'curl get',
        fn: async (what) => {
          const out = dir('curl');
          emptyContents(out);
          const dst = path.join(out, bigName);
          const r = await peer(http.child, 'curl', ['-sS', '-f', '-o', dst, `http://${HOST}:${http.port}/${bigName}`]);
          await verifyFile(dst, big, what);
          emptyContents(out);
          return { 'curl ← python3 http.server': r };
        },
      });
    }
    if (httpPut) {
      jobs.push({
        workload: 'file-put',
        name: 'curl put',
        fn: async (what) => {
          emptyContents(httpPut.dir);
          const r = await peer(httpPut.child, 'curl', ['-sS', '-f', '-T', bigSrc, `http://${HOST}:${httpPut.port}/${bigName}`]);
          await verifyFile(path.join(httpPut.dir, bigName), big, what);
          emptyContents(httpPut.dir);
          return { 'curl → python3 PUT server': r };
        },
      });
    }
    if (rsyncd) {
      jobs.push({
        workload: 'file-get',
        name: 'rsync get',
        fn: async (what) => {
          const out = dir('rsync-get');
          emptyContents(out);
          const r = await peer(rsyncd.child, 'rsync', [...rsyncFlags, `${rsyncd.url}/src/files/${bigName}`, `${out}/`]);
          await verifyFile(path.join(out, bigName), big, what);
          emptyContents(out);
          return { 'rsync daemon': r };
        },
      });
      jobs.push({
        workload: 'file-put',
        name: 'rsync put',
        fn: async (what) => {
          emptyContents(upRsync);
          const r = await peer(rsyncd.child, 'rsync', [...rsyncFlags, bigSrc, `${rsyncd.url}/up/`]);
          await verifyFile(path.join(upRsync, bigName), big, what);
          emptyContents(upRsync);
          return { 'rsync daemon': r };
        },
      });
    }
    jobs.push({
      workload: 'file-get',
      name: 'tcpsend get',
      fn: async (what) => {
        const out = dir('tcpsend-get');
        emptyContents(out);
        const dst = path.join(out, bigName);
        const r = await tcpsend(filesServer, ['get', filesServer.target, bigName, dst, '--quiet'], 'get');
        await verifyFile(dst, big, what);
        emptyContents(out);
        return { 'tcpsend get': r };
      },
    });
    jobs.push({
      workload: 'file-put',
      name: 'tcpsend put',
      fn: async (what) => {
        emptyContents(upFileRoot);
        const r = await tcpsend(upFileServer, ['put', bigSrc, upFileServer.target, '--quiet'], 'put');
        await verifyFile(path.join(upFileRoot, bigName), big, what);
        emptyContents(upFileRoot);
        return { 'tcpsend put': r };
      },
    });

    // The folder.
    if (present.has('socat') && present.has('tar')) {
      jobs.push({
        workload: 'folder-get',
        name: 'tar|socat|tar',
        fn: async (what) => {
          const out = dir('tar');
          emptyContents(out);
          const port = await freePort();
          const q = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
          const receiver = start('sh', ['-c', `socat -b${SOCAT_BUF} -u TCP-LISTEN:${port},reuseaddr,bind=${HOST} STDOUT | tar -xf - -C ${q(out)}`]);
          let seconds;
          try {
            await waitListening(port, receiver);
            const t0 = performance.now();
            const sender = start('sh', ['-c', `tar -cf - -C ${q(treesDir)} ${q(tree.name)} | socat -b${SOCAT_BUF} -u STDIN TCP:${HOST}:${port}`]);
            const ends = await Promise.all([finished(sender), finished(receiver)]);
            seconds = (Math.max(...ends) - t0) / 1000;
          } finally {
            await stop(receiver, 500);
          }
          await verifyTree(path.join(out, tree.name), tree.manifest, what);
          emptyContents(out);
          return { 'tar|socat|tar': { seconds } };
        },
      });
    }
    if (rsyncd) {
      jobs.push({
        workload: 'folder-get',
        name: 'rsync folder get',
        fn: async (what) => {
          const out = dir('rsync-tree-get');
          emptyContents(out);
          const r = await peer(rsyncd.child, 'rsync', [...rsyncFlags, `${rsyncd.url}/src/trees/${tree.name}`, `${out}/`]);
          await verifyTree(path.join(out, tree.name), tree.manifest, what);
          emptyContents(out);
          return { 'rsync daemon': r };
        },
      });
      jobs.push({
        workload: 'folder-put',
        name: 'rsync folder put',
        fn: async (what) => {
          emptyContents(upRsync);
          const r = await peer(rsyncd.child, 'rsync', [...rsyncFlags, tree.dir, `${rsyncd.url}/up/`]);
          await verifyTree(path.join(upRsync, tree.name), tree.manifest, what);
          emptyContents(upRsync);
          return { 'rsync daemon': r };
        },
      });
    }
    jobs.push({
      workload: 'folder-get',
      name: 'tcpsend folder get',
      fn: async (what) => {
        const out = dir('tcpsend-tree-get');
        emptyContents(out);
        const dst = path.join(out, tree.name);
        const r = await tcpsend(treesServer, ['get', treesServer.target, tree.name, dst, '--quiet'], 'tree-get');
        await verifyTree(dst, tree.manifest, what);
        emptyContents(out);
        return { 'tcpsend get': r };
      },
    });
    jobs.push({
      workload: 'folder-put',
      name: 'tcpsend folder put',
      fn: async (what) => {
        emptyContents(upTreeRoot);
        const r = await tcpsend(upTreeServer, ['put', tree.dir, upTreeServer.target, '--quiet'], 'tree-put');
        await verifyTree(path.join(upTreeRoot, tree.name), tree.manifest, what);
        emptyContents(upTreeRoot);
        return { 'tcpsend put': r };
      },
    });

    // The no-op re-sync: the same folder synced again into a destination that already holds it.
    // Each destination is filled once (untimed) the first time its job runs; a timed run must
    // then move nothing (the tree is verified after it, and tcpsend's --quiet prints nothing).
    const resyncGetOut = dir('tcpsend-resync-get');
    const resyncJob = (name, workload, variant, fill, rerun, destination) => ({
      workload,
      name,
      fn: async (what) => {
        if (!fs.existsSync(destination())) await fill();
        const r = await rerun();
        await verifyTree(destination(), tree.manifest, what);
        return { [variant]: r };
      },
    });
    const quietRun = async (server, args, name) => {
      const r = await tcpsend(server, [...args, '--quiet'], name);
      return r;
    };
    jobs.push(
      resyncJob(
        'tcpsend re-sync get',
        'resync-get',
        'tcpsend get',
        () => runCli(['get', treesServer.target, tree.name, path.join(resyncGetOut, tree.name), '--quiet'], { rssFile: rss('resync-fill') }),
        () => quietRun(treesServer, ['get', treesServer.target, tree.name, path.join(resyncGetOut, tree.name)], 'resync-get'),
        () => path.join(resyncGetOut, tree.name),
      ),
      resyncJob(
        'tcpsend re-sync put',
        'resync-put',
        'tcpsend put',
        () => runCli(['put', tree.dir, resyncUpServer.target, '--quiet'], { rssFile: rss('resync-fill') }),
        () => quietRun(resyncUpServer, ['put', tree.dir, resyncUpServer.target], 'resync-put'),
        () => path.join(resyncUpRoot, tree.name),
      ),
    );
    if (rsyncd) {
      const resyncGetRsync = dir('rsync-resync-get');
      const rsyncRt = (from, to) => run('rsync', ['-rt', from, to]);
      jobs.push(
        resyncJob(
          'rsync re-sync get',
          'resync-get',
          'rsync daemon',
          () => rsyncRt(`${rsyncd.url}/src/trees/${tree.name}`, `${resyncGetRsync}/`),
          async () => ({ seconds: (await rsyncRt(`${rsyncd.url}/src/trees/${tree.name}`, `${resyncGetRsync}/`)).seconds }),
          () => path.join(resyncGetRsync, tree.name),
        ),
        resyncJob(
          'rsync re-sync put',
          'resync-put',
          'rsync daemon',
          () => rsyncRt(tree.dir, `${rsyncd.url}/resync/`),
          async () => ({ seconds: (await rsyncRt(tree.dir, `${rsyncd.url}/resync/`)).seconds }),
          () => path.join(resyncUpRsync, tree.name),
        ),
      );
    }

    // Warm-up, then RUNS rounds; each round starts one job further on, so no tool always
    // runs first or right after the same neighbour.
    const samples = new Map(); // `${workload}\t${variant}` → [{ seconds, ... }]
    const attempt = async (job, what) => {
      try {
        return await job.fn(what);
      } catch (err) {
        // Say which servers are still up: a dead server explains a refused connection.
        const down = servers.filter((c) => c.exitCode !== null || c.signalCode !== null);
        if (down.length > 0) err.message += `\n(servers that exited: ${down.map((c) => `${c.label} → ${c.exitCode ?? c.signalCode}: ${c.err.slice(-500)}`).join('; ')})`;
        throw err;
      }
    };
    for (const job of jobs) await attempt(job, `warm-up ${job.name}`);
    for (let round = 0; round < RUNS; round++) {
      const order = jobs.map((_, i) => jobs[(i + round) % jobs.length]);
      for (const job of order) {
        const got = await attempt(job, `run ${round + 1} ${job.name}`);
        for (const [variant, sample] of Object.entries(got)) {
          const key = `${job.workload}\t${variant}`;
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key).push(sample);
        }
      }
      console.log(`  round ${round + 1}/${RUNS} done (${((performance.now() - began) / 1000).toFixed(0)} s)`);
    }

    // Where a folder's time goes: one more get and put of it with --json (not timed above),
    // read from the NDJSON events.
    const perFile = {};
    for (const [op, server, root] of [['get', treesServer, null], ['put', upTreeServer, upTreeRoot]]) {
      const out = dir('tcpsend-json');
      emptyContents(out);
      if (root) emptyContents(root);
      const args = op === 'get' ? ['get', server.target, tree.name, path.join(out, tree.name), '--json'] : ['put', tree.dir, server.target, '--json'];
      const spawned = Date.now();
      const r = await runNode([CLI, ...args], { stdout: 'all' });
      await verifyTree(op === 'get' ? path.join(out, tree.name) : path.join(root, tree.name), tree.manifest, `--json ${op} of the folder`);
      emptyContents(out);
      if (root) emptyContents(root);
      perFile[op] = folderTimeline(r.stdout, spawned, r.seconds);
    }

    const serverRss = {
      'file-get': peakRssMB(filesServer.child.pid),
      'folder-get': peakRssMB(treesServer.child.pid),
      'file-put': peakRssMB(upFileServer.child.pid),
      'folder-put': peakRssMB(upTreeServer.child.pid),
      'resync-get': peakRssMB(treesServer.child.pid),
      'resync-put': peakRssMB(resyncUpServer.child.pid),
    };

    // Summaries.
    const defs = {
      'file-get': { title: `${sizeLabel(bigSize)} file, download`, bytes: bigSize, files: 1, baselines: ['socat', 'rsync daemon'] },
      'file-put': { title: `${sizeLabel(bigSize)} file, upload`, bytes: bigSize, files: 1, baselines: ['socat', 'rsync daemon'] },
      'folder-get': { title: `folder of ${tree.files} × ${sizeLabel(tree.spec.fileSize)}, download`, bytes: tree.bytes, files: tree.files, baselines: ['tar|socat|tar', 'rsync daemon'] },
      'folder-put': { title: `folder of ${tree.files} × ${sizeLabel(tree.spec.fileSize)}, upload`, bytes: tree.bytes, files: tree.files, baselines: ['tar|socat|tar', 'rsync daemon'] },
      'resync-get': { title: `no-op re-sync of the ${tree.files}-file folder, download (rsync -rt)`, bytes: tree.bytes, files: tree.files, baselines: ['rsync daemon'] },
      'resync-put': { title: `no-op re-sync of the ${tree.files}-file folder, upload (rsync -rt)`, bytes: tree.bytes, files: tree.files, baselines: ['rsync daemon'] },
    };
    const workloads = {};
    for (const [id, def] of Object.entries(defs)) {
      const rows = [];
      const variants = [...samples.keys()].filter((k) => k.startsWith(`${id}\t`)).map((k) => k.split('\t')[1]);
      // tar|socat|tar is one measurement, shown with both folder directions.
      if (id === 'folder-put' && samples.has('folder-get\ttar|socat|tar')) variants.unshift('tar|socat|tar');
      for (const variant of variants) {
        const runs = samples.get(`${id}\t${variant}`) ?? samples.get(`folder-get\t${variant}`);
        const seconds = median(runs.map((r) => r.seconds));
        const row = { tool: variant, seconds, mbPerSecond: MB(def.bytes) / seconds, runs: runs.map((r) => r.seconds) };
        if (id.startsWith('folder')) row.filesPerSecond = def.files / seconds;
        if (runs[0].clientRssMB !== undefined) {
          row.clientRssMB = Math.max(...runs.map((r) => r.clientRssMB));
          row.serverRssMB = serverRss[id];
        }
        if (runs[0].clientCpuSeconds !== undefined) {
          const cpu = (key) => (runs.every((r) => r[key] !== null && r[key] !== undefined) ? median(runs.map((r) => r[key])) : null);
          row.clientCpuSeconds = cpu('clientCpuSeconds');
          row.serverCpuSeconds = cpu('serverCpuSeconds');
          // Per GiB moved, so the file and the folder (and other sizes) compare.
          row.clientCpuPerGiB = row.clientCpuSeconds === null ? null : row.clientCpuSeconds / (def.bytes / GiB);
          row.serverCpuPerGiB = row.serverCpuSeconds === null ? null : row.serverCpuSeconds / (def.bytes / GiB);
        }
        if (runs[0].hashSeconds !== undefined) row.hashSeconds = median(runs.map((r) => r.hashSeconds));
        rows.push(row);
      }
      const ratios = {};
      for (const base of def.baselines) {
        const b = rows.find((r) => r.tool === base);
        for (const row of rows) row[`vs ${base}`] = b ? row.seconds / b.seconds : null;
        ratios[base] = b ? b.seconds : null;
      }
      workloads[id] = { ...def, rows };
    }

    // Tables.
    for (const [id, w] of Object.entries(workloads)) {
      console.log(`\n  ${w.title}: median of ${RUNS} runs`);
      const head = ['tool', 'median s', 'MB/s', ...(id.startsWith('folder') ? ['files/s'] : []), ...w.baselines.map((b) => `vs ${b}`), 'client RSS MB', 'server RSS MB', 'client CPU s/GiB', 'server CPU s/GiB'];
      const rows = w.rows.map((r) => [
        r.tool + (w.baselines[0] === r.tool ? ' (baseline)' : ''),
        fmt.s(r.seconds),
        fmt.mbps(r.mbPerSecond),
        ...(id.startsWith('folder') ? [r.filesPerSecond.toFixed(0)] : []),
        ...w.baselines.map((b) => fmt.x(r[`vs ${b}`])),
        r.clientRssMB === undefined ? '' : fmt.mb(r.clientRssMB),
        r.serverRssMB === undefined ? '' : fmt.mb(r.serverRssMB),
        r.clientCpuPerGiB === undefined || r.clientCpuPerGiB === null ? '' : r.clientCpuPerGiB.toFixed(2),
        r.serverCpuPerGiB === undefined || r.serverCpuPerGiB === null ? '' : r.serverCpuPerGiB.toFixed(2),
      ]);
      console.log(textTable(head, rows));
    }

    console.log(`\n  where a ${tree.files}-file folder's time goes (one more run of each with --json, from its events)`);
    console.log(
      textTable(
        ['tcpsend', 'wall s', 'to first file s', 'files/s (10–90%)', 'per file ms p50', 'p99', 'max', 'events'],
        Object.entries(perFile).map(([op, t]) => [op, fmt.s(t.wallSeconds), fmt.s(t.firstFileSeconds), t.steadyFilesPerSecond.toFixed(0), t.perFileMs.p50.toFixed(1), t.perFileMs.p99.toFixed(1), t.perFileMs.max.toFixed(1), String(t.events)]),
      ),
    );

    // How fast the hand-hashing tools are here (the careful user's extra step).
    const hashSpeeds = {};
    for (const tool of hashTools) {
      const all = [...samples.entries()].filter(([k]) => k.endsWith(`\t${hashLabel[tool]}`)).flatMap(([, v]) => v.map((r) => r.hashSeconds));
      hashSpeeds[tool] = { seconds: median(all), mbPerSecond: MB(bigSize) / median(all) };
    }
    if (hashSpeeds.sha256sum && hashSpeeds.openssl) {
      const slower = hashSpeeds.openssl.mbPerSecond / hashSpeeds.sha256sum.mbPerSecond;
      const note = `hashing ${sizeLabel(bigSize)} by hand: coreutils sha256sum ${hashSpeeds.sha256sum.mbPerSecond.toFixed(0)} MB/s, openssl dgst -sha256 ${hashSpeeds.openssl.mbPerSecond.toFixed(0)} MB/s${slower > 1.3 ? ` (sha256sum is ${slower.toFixed(1)}× slower: it does not use the CPU's SHA extensions the way OpenSSL does, so 'socat + openssl dgst' is the fairer careful-user peer)` : ''}`;
      notes.push(note);
    }
    notes.push(
      "tcpsend checks with BLAKE3 (both ends have it). Its server keeps a digest cache keyed by device, inode, size, mtime and ctime: after the warm-up a GET of an unchanged file sends the hash up front and does not re-hash it on the server (intended behaviour, and fair: a served file is usually fetched more than once). The client still hashes every byte it receives.",
      'the careful-user peers add the time of hashing the received file after the copy (the source-side hash is taken as known); rsync checks each file with its own whole-file checksum (xxh128 or MD5).',
      `rsync runs as 'rsync ${rsyncFlags.join(' ')}' (recursive, links, permissions, mtimes: what tcpsend keeps) against 'rsync --daemon' on ${HOST}.`,
    );
    for (const n of notes.slice(toolNotes.length)) console.log(`  note: ${n}`);

    return { bigSize, tree: { files: tree.files, bytes: tree.bytes, ...tree.spec }, runs: RUNS, versions, workloads, perFile, serverRssMB: serverRss, hashSpeeds, notes, seconds: (performance.now() - began) / 1000 };
  } finally {
    for (const child of servers) await stop(child);
    removeScratch(work);
  }
}
