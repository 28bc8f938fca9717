// Shared plumbing for the comparison sections (bench/peers.js, bench/scaling.js): child
// processes that are always cleaned up, timed command runs, free ports, the source files,
// byte-for-byte verification, and the peer tools (installed with apt-get when missing).
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..');
/** tcpsend is always run through the built CLI, so the bench measures the current dist/. */
export const CLI = path.join(REPO, 'bin', 'tcpsend.js');
const RSS_HOOK = path.join(HERE, 'rss-hook.cjs');
export const HOST = '127.0.0.1';
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const QUICK = process.env.BENCH_QUICK === '1';
export const RUNS = Math.max(1, Math.floor(Number(process.env.BENCH_RUNS ?? (QUICK ? 3 : 5)) || 1));
/** Bytes to MB (10^6), the unit of every throughput and RSS figure in the bench. */
export const MB = (bytes) => bytes / 1e6;

/** A wrong result: the bench fails with exit status 1. */
export class WrongResult extends Error {
  name = 'WrongResult';
}

// ---------------------------------------------------------------------------------------------
// Child processes

const live = new Set();

/** The environment for children: no TCPSEND_* (the CLI reads them as options, yargs .env()). */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TCPSEND_')) env[k] = v;
  return { ...env, ...extra };
}

function tail(text, max = 4000) {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * Spawn a child in its own process group (so a shell pipeline dies whole), remember it until
 * it exits, and keep the last bytes of its output for error messages.
 */
export function start(cmd, args, { env, cwd, stdout = 'keep' } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  child.out = '';
  child.err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    if (stdout === 'all') child.out += d;
    else child.out = tail(child.out + d, 16000);
  });
  child.stderr.on('data', (d) => {
    child.err = tail(child.err + d, 16000);
  });
  child.exitedAt = null;
  child.done = new Promise((resolve) => {
    child.on('error', (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
    child.on('exit', () => {
      child.exitedAt = performance.now();
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, error: null });
    });
  });
  child.label = [cmd, ...args].join(' ');
  return child;
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Stop a child (and its process group): SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 3000) {
  child.stopped = true;
  if (!live.has(child)) return;
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await child.done;
  clearTimeout(timer);
}

/** Every process below this one (forked stream-section peers included), from /proc. */
function descendants() {
  const parent = new Map();
  try {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return [];
  }
  const out = [];
  const walk = (pid) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(process.pid);
  return out;
}

/** Last resort, synchronous: kill every child still running (on exit, on a signal). */
export function killAll() {
  for (const child of live) killGroup(child, 'SIGKILL');
  for (const pid of descendants()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** After a failure or a signal: no child left, no scratch folder, no stream-section file. */
export async function cleanUpAll() {
  const children = [...live];
  killAll();
  // Reap them before going, so none is left behind as a zombie.
  await Promise.race([Promise.all(children.map((c) => c.done)), new Promise((resolve) => setTimeout(resolve, 2000))]);
  for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
  scratchDirs.clear();
  // bench/stream.js names its destinations tcpsend-bench-<our pid>-<variant>.bin.
  for (const base of new Set(['/dev/shm', os.tmpdir()])) {
    try {
      for (const name of fs.readdirSync(base)) {
        if (name.startsWith(`tcpsend-bench-${process.pid}-`)) fs.rmSync(path.join(base, name), { force: true });
      }
    } catch {
      // no such folder
    }
  }
}

process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, async () => {
    console.error(`\nbench: ${signal}, stopping its child processes`);
    await cleanUpAll();
    process.exit(130);
  });
}

/**
 * Run a command to completion. `seconds` runs from just before spawn() to the process's exit.
 * A non-zero exit throws (with the end of its stderr).
 */
export async function run(cmd, args, { env, cwd, timeoutMs = 600_000, stdout } = {}) {
  const begun = performance.now();
  const child = start(cmd, args, { env, cwd, stdout });
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
  const { code, signal, error } = await child.done;
  clearTimeout(timer);
  if (error) throw new Error(`${child.label}: ${error.message}`);
  const seconds = ((child.exitedAt ?? performance.now()) - begun) / 1000;
  if (code !== 0) {
    throw new Error(`${child.label} exited with ${code ?? signal}${child.err ? `:\n${tail(child.err, 2000)}` : ''}`);
  }
  return { seconds, stdout: child.out, stderr: child.err };
}

/** Wait for a started child to finish successfully. */
export async function finished(child) {
  const { code, signal, error } = await child.done;
  if (error) throw new Error(`${child.label}: ${error.message}`);
  if (code !== 0) {
    throw new Error(`${child.label} exited with ${code ?? signal}${child.err ? `:\n${tail(child.err, 2000)}` : ''}`);
  }
  return child.exitedAt;
}

/**
 * dist/ is rebuilt by others while the bench runs (npm run build, tsc --watch): a process that
 * starts while tsc is writing can load half-written modules. Such a run is retried.
 */
export function distInFlux(err) {
  return /SyntaxError: The requested module|ERR_MODULE_NOT_FOUND|Cannot find module|SyntaxError: Unexpected end of input/.test(err.message);
}

/** Run node on a script that loads dist/, retrying while dist/ is being rewritten. */
export async function runNode(args, options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(process.execPath, args, options);
    } catch (err) {
      if (!distInFlux(err) || attempt >= 5) throw err;
      console.log(`  (dist/ changed while a run started, being rebuilt? retrying in 3 s: ${err.message.split('\n').find((l) => /Error/.test(l)) ?? ''})`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

/** Run the tcpsend CLI (bin/tcpsend.js) timed, with its peak RSS (MB) and CPU from rss-hook.cjs. */
export async function runCli(args, { rssFile, timeoutMs } = {}) {
  fs.rmSync(rssFile, { force: true });
  let r;
  try {
    r = await runNode(['--require', RSS_HOOK, CLI, ...args], { env: { BENCH_RSS_FILE: rssFile }, timeoutMs });
  } catch (err) {
    // A refused connection is best explained by the state of the servers.
    const gone = servers.filter((s) => !s.stopped && (s.exitCode !== null || s.signalCode !== null));
    if (gone.length > 0) err.message += `\n(tcpsend servers that exited: ${gone.map((s) => `${s.label} → ${s.exitCode ?? s.signalCode}: ${tail(s.err, 800)}`).join('; ')})`;
    throw err;
  }
  let usage;
  try {
    usage = JSON.parse(fs.readFileSync(rssFile, 'utf8'));
  } catch {
    throw new Error(`tcpsend ${args[0]}: no resource usage from ${rssFile} (did it exit without 'exit'?)`);
  }
  return { ...r, rssMB: MB(usage.maxRSS * 1024), cpuSeconds: usage.cpuMicros / 1e6 };
}

/** A port nobody listens on at the moment. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Wait until something listens on HOST:port, by reading /proc/net/tcp: a probe connection
 * would be taken by a one-shot `socat TCP-LISTEN` as its transfer.
 */
export async function waitListening(port, child, timeoutMs = 15_000) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const table = fs.readFileSync('/proc/net/tcp', 'utf8');
    for (const line of table.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[1] === want && f[3] === '0A') return;
    }
    if (child && !live.has(child)) {
      throw new Error(`${child.label} exited before listening on ${port}${child.err ? `:\n${tail(child.err, 2000)}` : ''}`);
    }
    if (performance.now() > deadline) throw new Error(`nothing listens on ${HOST}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
}

const servers = [];

/** `tcpsend serve DIR` on a free loopback port; resolves once it listens. */
export async function startServer(dir, extra = []) {
  const port = await freePort();
  const child = start(process.execPath, [CLI, 'serve', dir, '--port', String(port), '--host', HOST, '--quiet', ...extra]);
  servers.push(child);
  await waitListening(port, child);
  return { child, port, target: `${HOST}:${port}` };
}

/**
 * CPU time (user + system) a running process has used so far, in seconds (10 ms steps); with
 * `children`, that of the children it has reaped too (the rsync daemon forks one per client).
 */
export function cpuSeconds(pid, { children = false } = {}) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) / 100;
  } catch {
    return null;
  }
}

/**
 * Run a command under GNU time (`/usr/bin/time`, Debian's package 'time'): as run(), plus
 * the CPU seconds (user + system) it and its children used. `prefix` goes in front of the
 * whole thing (`ip netns exec NS`).
 */
export async function runTimed(cmd, args, { prefix = [], ...options } = {}) {
  const [head, ...rest] = [...prefix, '/usr/bin/time', '-f', 'BENCH_CPU %U %S', cmd, ...args];
  const r = await run(head, rest, options);
  const m = /BENCH_CPU (\S+) (\S+)\s*$/.exec(r.stderr);
  return { ...r, cpuSeconds: m ? Number(m[1]) + Number(m[2]) : null };
}

/** An rsync daemon's configuration: modules of [name, dir, readOnly], listening on host:port. */
export function rsyncdConfig(file, host, port, modules, log) {
  const lines = [`port = ${port}`, `address = ${host}`, 'use chroot = no', `log file = ${log}`, 'max connections = 0'];
  if (process.getuid?.() === 0) lines.push('uid = 0', 'gid = 0');
  for (const [name, dir, readOnly] of modules) {
    lines.push(`[${name}]`, `  path = ${dir}`, `  read only = ${readOnly ? 'yes' : 'no'}`);
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Peak RSS (VmHWM) of a running process, in MB, or null. */
export function peakRssMB(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return m ? MB(Number(m[1]) * 1024) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Tools

let aptUpdated = false;

export function have(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Make sure the peer tools are there: install the missing ones with apt-get when we can (root,
 * apt-get present; `apt-get update` once, only when an install is needed). Returns the tools
 * present and a note for each one still missing.
 */
export function ensureTools(tools, packages = {}) {
  const missing = tools.filter((t) => !have(t));
  const notes = [];
  const installable = missing.filter((t) => packages[t]);
  if (installable.length > 0 && process.getuid?.() === 0 && have('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    console.log(`  installing ${installable.join(', ')} with apt-get`);
    if (!aptUpdated) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      aptUpdated = true;
    }
    spawnSync('apt-get', ['install', '-y', '-qq', ...new Set(installable.map((t) => packages[t]))], { stdio: 'inherit', env });
  }
  const present = new Set(tools.filter((t) => have(t)));
  for (const t of tools) {
    if (!present.has(t)) {
      const why = packages[t] ? 'not installed and apt-get could not install it' : 'not installed';
      notes.push(`${t}: ${why}; its peers are skipped`);
    }
  }
  return { present, notes };
}

export function toolVersion(cmd, args, pattern) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const m = pattern.exec(text);
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------------------------
// Files, folders and verification

const scratchDirs = new Set();

/** A scratch folder on /dev/shm (tmpfs) when there is one, removed by `removeScratch`. */
export function scratchBase() {
  try {
    if (fs.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no tmpfs
  }
  return os.tmpdir();
}

export function scratchDir(name) {
  const dir = fs.mkdtempSync(path.join(scratchBase(), `tcpsend-bench-${name}-`));
  scratchDirs.add(dir);
  return dir;
}

export function removeScratch(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  scratchDirs.delete(dir);
}

/** Make `dir` an empty folder. */
export function emptyDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
}

/** Where the sources live: a folder on the temp disk, kept between bench runs. */
export const SOURCE_ROOT = path.join(os.tmpdir(), 'tcpsend-bench-src');

/** The 1 GiB (or `size`) random file the stream section uses too, made once. */
export function randomFile(size) {
  const file = path.join(os.tmpdir(), `tcpsend-bench-${size}.bin`);
  try {
    if (fs.statSync(file).size === size) return file;
  } catch {
    // not there yet
  }
  const began = Date.now();
  const block = Buffer.allocUnsafe(16 * MiB);
  const fd = fs.openSync(`${file}.tmp`, 'w');
  try {
    for (let written = 0; written < size; ) {
      crypto.randomFillSync(block);
      const n = Math.min(block.length, size - written);
      fs.writeSync(fd, block, 0, n, written);
      written += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(`${file}.tmp`, file);
  console.log(`  made ${file} (${size / MiB} MiB) in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return file;
}

/**
 * `name` in `dir`, holding the first `size` bytes of the random file of `bigSize` bytes: a hard
 * link when it is all of it (no copy of 1 GiB), else a copy of the prefix. Kept between runs.
 */
export function sourceFile(dir, name, size, bigSize = size) {
  fs.mkdirSync(dir, { recursive: true });
  const big = randomFile(Math.max(size, bigSize));
  const file = path.join(dir, name);
  const want = fs.statSync(big);
  let st = null;
  try {
    st = fs.statSync(file);
  } catch {
    // not there yet
  }
  if (size === want.size) {
    if (st && st.ino === want.ino && st.dev === want.dev) return file;
    fs.rmSync(file, { force: true });
    try {
      fs.linkSync(big, file);
    } catch {
      fs.copyFileSync(big, file);
    }
    return file;
  }
  // A prefix copy is remade when the big file is newer than it (the big file was remade).
  if (st && st.size === size && st.mtimeMs >= want.mtimeMs) return file;
  const src = fs.openSync(big, 'r');
  const dst = fs.openSync(`${file}.tmp`, 'w');
  try {
    const buf = Buffer.allocUnsafe(Math.min(size, 16 * MiB));
    for (let done = 0; done < size; ) {
      const n = fs.readSync(src, buf, 0, Math.min(buf.length, size - done), done);
      fs.writeSync(dst, buf, 0, n, done);
      done += n;
    }
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

/** SHA-256 (hex) and size of a file; reading it also brings it into the page cache. */
export async function hashFile(file) {
  const hash = crypto.createHash('sha256');
  const handle = await fsp.open(file, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/** Fail the bench unless `file` holds exactly the expected bytes (size, then SHA-256). */
export async function verifyFile(file, expected, what) {
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    throw new WrongResult(`${what}: '${file}' is missing`);
  }
  if (!st.isFile() || st.size !== expected.size) {
    throw new WrongResult(`${what}: '${file}' has ${st.size} bytes, expected ${expected.size}`);
  }
  const got = await hashFile(file);
  if (got.size !== expected.size || got.sha256 !== expected.sha256) {
    throw new WrongResult(`${what}: '${file}' has SHA-256 ${got.sha256}, expected ${expected.sha256}`);
  }
}

/** The folder workload's layout: `dirs` sub-folders of `perDir` files of `fileSize` bytes. */
export function treeSpec() {
  return QUICK ? { dirs: 10, perDir: 100, fileSize: 4096 } : { dirs: 100, perDir: 100, fileSize: 4096 };
}

/** Deterministic, incompressible content for file `i`: AES-128-CTR keystream, IV from i. */
function treeContent(i, size) {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(i, 0);
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.from('tcpsend-bench-16'), iv);
  return cipher.update(Buffer.alloc(size));
}

function treeEntries({ dirs, perDir, fileSize }) {
  const entries = [];
  for (let d = 0; d < dirs; d++) {
    for (let f = 0; f < perDir; f++) {
      const rel = `d${String(d).padStart(3, '0')}/f${String(f).padStart(3, '0')}.bin`;
      entries.push({ rel, content: () => treeContent(d * perDir + f, fileSize) });
    }
  }
  return entries;
}

/**
 * The source folder, generated once in `parent` (deterministic, so it is only rewritten if a
 * file is missing or differs). Returns its path and the manifest (rel → size, SHA-256).
 * Checking it reads every file, which puts the folder in the page cache.
 */
export async function sourceTree(parent) {
  const spec = treeSpec();
  const count = spec.dirs * spec.perDir;
  const dir = path.join(parent, `tree-${count}`);
  const manifest = new Map();
  let rewritten = 0;
  for (const { rel, content } of treeEntries(spec)) {
    const data = content();
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    manifest.set(rel, { size: data.length, sha256 });
    const file = path.join(dir, rel);
    let ok = false;
    try {
      const onDisk = await fsp.readFile(file);
      ok = onDisk.equals(data);
    } catch {
      // missing
    }
    if (!ok) {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(file, data);
      rewritten += 1;
    }
  }
  // Nothing else in it: a stray file would be moved by every tool and fail the comparison.
  const extra = (await listTree(dir)).filter((rel) => !manifest.has(rel));
  for (const rel of extra) await fsp.rm(path.join(dir, rel), { force: true });
  if (rewritten > 0) console.log(`  wrote ${rewritten} of the ${count} files of ${dir}`);
  return { dir, name: path.basename(dir), manifest, files: count, bytes: count * spec.fileSize, spec };
}

/** Every file under `dir`, as relative paths with '/'. */
export async function listTree(dir) {
  const out = [];
  const walk = async (sub) => {
    for (const e of await fsp.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else out.push(rel);
    }
  };
  await walk('');
  return out.sort();
}

/** Fail the bench unless `dir` holds exactly the manifest's files with their bytes. */
export async function verifyTree(dir, manifest, what) {
  let files;
  try {
    files = await listTree(dir);
  } catch {
    throw new WrongResult(`${what}: '${dir}' is missing`);
  }
  if (files.length !== manifest.size) {
    const extra = files.filter((f) => !manifest.has(f)).slice(0, 3);
    throw new WrongResult(`${what}: '${dir}' has ${files.length} files, expected ${manifest.size}${extra.length ? ` (e.g. ${extra.join(', ')})` : ''}`);
  }
  for (const rel of files) {
    const want = manifest.get(rel);
    if (!want) throw new WrongResult(`${what}: unexpected file '${rel}' in '${dir}'`);
    const data = await fsp.readFile(path.join(dir, rel));
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    if (data.length !== want.size || sha256 !== want.sha256) {
      throw new WrongResult(`${what}: '${rel}' in '${dir}' differs from the source`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers and tables

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export function sizeLabel(bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${+(bytes / 1024).toFixed(1)} KiB`;
}

/** A plain-text table: rows of cells, numbers right-aligned. */
export function textTable(header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.every((r) => r[i] === null || r[i] === '' || /^[-+]?[\d.]+[×%]?$|^—$/.test(String(r[i]))));
  return all
    .map((r) => `  ${r.map((c, i) => (numeric[i] && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()}`)
    .join('\n');
}

export const fmt = {
  s: (v) => (v === null || v === undefined ? '—' : v < 10 ? v.toFixed(3) : v.toFixed(2)),
  mbps: (v) => (v === null || v === undefined ? '—' : v.toFixed(0)),
  x: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(2)}×`),
  mb: (v) => (v === null || v === undefined ? '—' : v.toFixed(0)),
};

/** Remove everything inside `dir` but keep the folder (a server may be serving it). */
export function emptyContents(dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}
