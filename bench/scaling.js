// How tcpsend's time grows: with the file's size (tcpsend get of 1 MiB … 1 GiB, socat beside
// it), and with concurrent clients (1, 8, 64 downloads of a 16 MiB file at once from one
// server). The concurrent clients run in ONE node process through the library (getFile from
// dist/, bench/concurrent-client.js): 64 CLI processes on 2 cores would mostly measure node
// starting up.
import path from 'node:path';
import {
  CLI,
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
  runCli,
  runNode,
  scratchDir,
  sizeLabel,
  sourceFile,
  start,
  startServer,
  stop,
  textTable,
  verifyFile,
  waitListening,
} from './lib.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

async function socatGet(src, dst) {
  const port = await freePort();
  const buf = String(MiB);
  const listener = start('socat', ['-b', buf, '-u', `OPEN:${src}`, `TCP-LISTEN:${port},reuseaddr,bind=${HOST}`]);
  try {
    await waitListening(port, listener);
    const t0 = performance.now();
    const connector = start('socat', ['-b', buf, '-u', `TCP:${HOST}:${port}`, `OPEN:${dst},creat,trunc`]);
    const ends = await Promise.all([finished(connector), finished(listener)]);
    return (Math.max(...ends) - t0) / 1000;
  } finally {
    await stop(listener, 500);
  }
}

export async function sizeBench() {
  const began = performance.now();
  const big = QUICK ? 64 * MiB : GiB;
  const sizes = QUICK ? [MiB, 4 * MiB, 16 * MiB, 64 * MiB] : [MiB, 16 * MiB, 256 * MiB, GiB];
  const { present } = ensureTools(['socat'], { socat: 'socat' });
  const filesDir = path.join(SOURCE_ROOT, 'files');
  const sources = [];
  for (const size of sizes) {
    const file = sourceFile(filesDir, `big-${size}.bin`, size, big);
    sources.push({ size, name: path.basename(file), file, expected: await hashFile(file) });
  }
  const work = scratchDir('sizes');
  const server = await startServer(filesDir);
  try {
    // The fixed cost of every CLI run: node starting and loading tcpsend.
    const startup = [];
    for (let i = 0; i <= RUNS; i++) {
      const { seconds } = await runNode([CLI, '--version']);
      if (i > 0) startup.push(seconds);
    }
    const samples = new Map(sources.map((s) => [s.size, { tcpsend: [], socat: [], rss: [] }]));
    const once = async (source, tool, what) => {
      const dst = path.join(work, source.name);
      emptyContents(work);
      let seconds;
      let rssMB;
      if (tool === 'tcpsend') {
        const r = await runCli(['get', server.target, source.name, dst, '--quiet'], { rssFile: path.join(work, 'cli.rss') });
        seconds = r.seconds;
        rssMB = r.rssMB;
      } else seconds = await socatGet(source.file, dst);
      await verifyFile(dst, source.expected, what);
      emptyContents(work);
      return { seconds, rssMB };
    };
    const tools = present.has('socat') ? ['tcpsend', 'socat'] : ['tcpsend'];
    for (const source of sources) {
      for (const tool of tools) await once(source, tool, `warm-up ${tool} get ${sizeLabel(source.size)}`);
      for (let r = 0; r < RUNS; r++) {
        for (const tool of r % 2 ? [...tools].reverse() : tools) {
          const got = await once(source, tool, `run ${r + 1} ${tool} get ${sizeLabel(source.size)}`);
          samples.get(source.size)[tool].push(got.seconds);
          if (tool === 'tcpsend') samples.get(source.size).rss.push(got.rssMB);
        }
      }
    }
    const serverRssMB = peakRssMB(server.child.pid);
    const rows = sources.map(({ size }) => {
      const s = samples.get(size);
      const t = median(s.tcpsend);
      const b = s.socat.length ? median(s.socat) : null;
      return {
        size,
        seconds: t,
        mbPerSecond: MB(size) / t,
        socatSeconds: b,
        socatMbPerSecond: b ? MB(size) / b : null,
        vsSocat: b ? t / b : null,
        clientRssMB: Math.max(...s.rss),
        runs: s.tcpsend,
        socatRuns: s.socat,
      };
    });
    const startupSeconds = median(startup);
    console.log(`  tcpsend get (the CLI) and socat, median of ${RUNS} runs; 'tcpsend --version' alone takes ${fmt.s(startupSeconds)} s (node start-up)`);
    console.log(
      textTable(
        ['size', 'tcpsend s', 'MB/s', 'socat s', 'socat MB/s', 'vs socat', 'tcpsend − start-up s', 'client RSS MB'],
        rows.map((r) => [sizeLabel(r.size), fmt.s(r.seconds), fmt.mbps(r.mbPerSecond), fmt.s(r.socatSeconds), fmt.mbps(r.socatMbPerSecond), fmt.x(r.vsSocat), fmt.s(r.seconds - startupSeconds), fmt.mb(r.clientRssMB)]),
      ),
    );
    console.log(`  server peak RSS (VmHWM) after these gets: ${fmt.mb(serverRssMB)} MB`);
    return { runs: RUNS, startupSeconds, rows, serverRssMB, seconds: (performance.now() - began) / 1000 };
  } finally {
    await stop(server.child);
    removeScratch(work);
  }
}

export async function concurrencyBench() {
  const began = performance.now();
  const size = QUICK ? 4 * MiB : 16 * MiB;
  const counts = [1, 8, 64];
  const filesDir = path.join(SOURCE_ROOT, 'files');
  const file = sourceFile(filesDir, `big-${size}.bin`, size, QUICK ? 64 * MiB : GiB);
  const name = path.basename(file);
  const expected = await hashFile(file);
  const work = scratchDir('concurrency');
  const server = await startServer(filesDir);
  try {
    const samples = new Map(counts.map((n) => [n, []]));
    const once = async (n, what) => {
      emptyContents(work);
      const r = await runNode([path.join(HERE, 'concurrent-client.js'), server.target, name, String(n), work]);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
      if (out.results.length !== n) throw new WrongResult(`${what}: ${out.results.length} transfers reported, expected ${n}`);
      for (const one of out.results) await verifyFile(one.dst, expected, what);
      emptyContents(work);
      const ends = out.results.map((x) => x.seconds);
      return { seconds: out.seconds, clientRssMB: MB(out.maxRSS * 1024), first: Math.min(...ends), last: Math.max(...ends) };
    };
    for (const n of counts) await once(n, `warm-up ${n} clients`);
    for (let r = 0; r < RUNS; r++) {
      const order = counts.map((_, i) => counts[(i + r) % counts.length]);
      for (const n of order) samples.get(n).push(await once(n, `run ${r + 1} ${n} clients`));
    }
    const serverRssMB = peakRssMB(server.child.pid);
    const rows = counts.map((n) => {
      const runs = samples.get(n);
      const seconds = median(runs.map((x) => x.seconds));
      return {
        clients: n,
        seconds,
        aggregateMbPerSecond: MB(n * size) / seconds,
        perClientMbPerSecond: MB(size) / seconds,
        firstDoneSeconds: median(runs.map((x) => x.first)),
        clientProcessRssMB: Math.max(...runs.map((x) => x.clientRssMB)),
        runs: runs.map((x) => x.seconds),
      };
    });
    const single = rows.find((r) => r.clients === 1).aggregateMbPerSecond;
    for (const row of rows) row.vsSingle = row.aggregateMbPerSecond / single;
    console.log(`  N concurrent getFile() of a ${sizeLabel(size)} file from one server, in ONE client process (the library, not N CLIs); median of ${RUNS} runs`);
    console.log(
      textTable(
        ['clients', 'all done s', 'aggregate MB/s', 'vs 1 client', 'first done s', 'client process RSS MB'],
        rows.map((r) => [String(r.clients), fmt.s(r.seconds), fmt.mbps(r.aggregateMbPerSecond), `${(r.vsSingle * 100).toFixed(0)}%`, fmt.s(r.firstDoneSeconds), fmt.mb(r.clientProcessRssMB)]),
      ),
    );
    console.log(`  server peak RSS (VmHWM) after up to 64 clients at once: ${fmt.mb(serverRssMB)} MB`);
    const ratio64 = rows.find((r) => r.clients === 64).vsSingle;
    return { fileSize: size, runs: RUNS, rows, ratio64, serverRssMB, seconds: (performance.now() - began) / 1000 };
  } finally {
    await stop(server.child);
    removeScratch(work);
  }
}
