// `node bench/floors.js [DIR]`: what plain Node 20 itself costs for the per-file work of a
// folder transfer, with none of tcpsend's code: the floor under the folder and no-op rows of
// `npm run bench` (docs/benchmarks.md, "Floors"). Not part of `npm run bench`.
//
// On a tree of 100 folders × 100 files of 4 KiB made under DIR (default /dev/shm, else the
// temp folder), CPU milliseconds (user + system) of this process, the median of 5 rounds:
// - walk: readdir each folder and lstat every entry, three ways of naming an entry: through
//   the folder held open as /proc/<pid>/fd/N/name (what tcpsend's server does), as
//   /proc/self/fd/N/name, and by its plain path (what tcpsend's local walks do: see
//   src/transfer/walk.ts);
// - read: what a sender does per small file (open, fstat, read, close);
// - store: what a verified, atomic, durable receiver does per small file (open the part,
//   write, fchmod, futimes, fsync, close, rename; then fsync each folder once).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FOLDERS = 100;
const FILES = 100;
const SIZE = 4096;
const ROUNDS = 5;

const base = process.argv[2] ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
const work = fs.mkdtempSync(path.join(base, 'tcpsend-floors-'));
const data = Buffer.alloc(SIZE, 7);
const folderName = (d) => `d${String(d).padStart(3, '0')}`;
const fileName = (f) => `f${String(f).padStart(3, '0')}.bin`;

function cpuMs(fn) {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function store(root) {
  for (let d = 0; d < FOLDERS; d++) {
    const dir = path.join(root, folderName(d));
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES; f++) {
      const name = path.join(dir, fileName(f));
      const part = `${name}.part`;
      const fd = fs.openSync(part, 'w');
      fs.writeSync(fd, data, 0, SIZE, 0);
      fs.fchmodSync(fd, 0o644);
      fs.futimesSync(fd, 1e9, 1e9);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(part, name);
    }
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  }
}

function read(root) {
  const buffer = Buffer.alloc(64 * 1024);
  for (const d of fs.readdirSync(root)) {
    const dir = path.join(root, d);
    for (const f of fs.readdirSync(dir)) {
      const fd = fs.openSync(path.join(dir, f), 'r');
      const { size } = fs.fstatSync(fd);
      fs.readSync(fd, buffer, 0, size, 0);
      fs.closeSync(fd);
    }
  }
}

/** The walk, each entry named by `nameOf(folder, fd, name)`. */
function walk(root, nameOf) {
  let entries = 0;
  for (const d of fs.readdirSync(root)) {
    const dir = path.join(root, d);
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
    try {
      for (const name of fs.readdirSync(nameOf(dir, fd, ''))) {
        fs.lstatSync(nameOf(dir, fd, name));
        entries += 1;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return entries;
}

const ways = {
  'walk, /proc/<pid>/fd': (dir, fd, name) => `/proc/${process.pid}/fd/${fd}/${name}`,
  'walk, /proc/self/fd': (dir, fd, name) => `/proc/self/fd/${fd}/${name}`,
  'walk, plain paths': (dir, fd, name) => path.join(dir, name),
};
const onLinux = process.platform === 'linux' && fs.existsSync(`/proc/${process.pid}/fd`);

try {
  const results = {};
  const add = (key, ms) => (results[key] ??= []).push(ms);
  for (let round = 0; round < ROUNDS; round++) {
    const tree = path.join(work, `tree-${round}`);
    add('store', cpuMs(() => store(tree)));
    add('read', cpuMs(() => read(tree)));
    for (const [key, nameOf] of Object.entries(ways)) {
      if (key.includes('/proc') && !onLinux) continue;
      add(key, cpuMs(() => walk(tree, nameOf)));
    }
    fs.rmSync(tree, { recursive: true, force: true });
  }
  console.log(`floors: ${FOLDERS} × ${FILES} files of ${SIZE} bytes under ${base}, Node ${process.version}, CPU ms (user + system), median of ${ROUNDS}`);
  for (const [key, values] of Object.entries(results)) {
    console.log(`  ${key.padEnd(24)} ${median(values).toFixed(0).padStart(5)} ms   (${values.map((v) => v.toFixed(0)).join(', ')})`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
