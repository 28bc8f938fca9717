// `node scripts/cli-code-cache.js`, run by scripts/bundle-cli.js in a fresh process after it
// bundles the CLI: writes dist/tcpsend-cli.cjs.cache, the V8 code cache bin/load-cli.cjs loads
// the bundle with. V8 caches the functions compiled so far, so before it writes, this process
// runs the bundled CLI as users do, on 127.0.0.1 only, against two `serve` children: ls, a
// folder get and put, each twice (the second time a no-op sync), and a single-file get. Exits
// non-zero if a run failed.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { codeCachePath, loadCli } from '../bin/load-cli.cjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(REPO, 'dist', 'tcpsend-cli.cjs');

/** An output stream that hands `onLine` each complete line written to it. */
function collector(onLine = () => {}) {
  let text = '';
  return new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      let end;
      while ((end = text.indexOf('\n')) >= 0) {
        onLine(text.slice(0, end));
        text = text.slice(end + 1);
      }
      done();
    },
  });
}

/**
 * Start `serve` in a child process (the cache is for the commands whose start-up is waited
 * for: a server's functions in it would only make every client deserialize more); resolves to
 * its port and a function that stops it.
 */
function serve(dir, flags) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'tcpsend.js'), 'serve', dir, '--host', '127.0.0.1', '--port', '0', '--json', ...flags], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ended = once(child, 'exit');
    child.stdout.pipe(
      collector((line) => {
        const event = JSON.parse(line);
        if (event.event === 'listening') resolve({ port: event.port, stop: () => (child.kill('SIGINT'), ended) });
      }),
    );
    ended.then(([code]) => reject(new Error(`serve ended before it listened (exit ${code})`)), reject);
  });
}

async function train(main) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsend-code-cache-'));
  const servers = [];
  try {
    const served = path.join(work, 'served');
    const tree = path.join(served, 'tree');
    for (const [rel, text] of [['a.txt', 'a\n'], ['sub/b.txt', 'b\n'], ['sub/deeper/c.txt', 'c\n']]) {
      fs.mkdirSync(path.dirname(path.join(tree, rel)), { recursive: true });
      fs.writeFileSync(path.join(tree, rel), text);
    }
    const inbox = path.join(work, 'inbox');
    fs.mkdirSync(inbox);
    const reader = await serve(served, []);
    const writer = await serve(inbox, ['--allow-upload', '--allow-overwrite']);
    servers.push(reader, writer);
    const quiet = { stdout: collector(), stderr: collector() };
    const runs = [
      ['ls', `127.0.0.1:${reader.port}`, 'tree'],
      ['get', `127.0.0.1:${reader.port}`, 'tree', path.join(work, 'got')],
      ['get', `127.0.0.1:${reader.port}`, 'tree', path.join(work, 'got')],
      ['get', `127.0.0.1:${reader.port}`, 'tree/a.txt', path.join(work, 'a.txt')],
      ['put', tree, `127.0.0.1:${writer.port}`],
      ['put', tree, `127.0.0.1:${writer.port}`],
    ];
    for (const args of runs) {
      const code = await main([...args, '--quiet'], quiet);
      if (code !== 0) throw new Error(`tcpsend ${args.join(' ')} exited ${code}`);
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * V8 takes a code cache only under the flags it was made with, and `main` sets one at run time
 * (src/io/reclaim.ts, boundYoungGeneration), after bin/tcpsend.js has loaded the bundle: the
 * flags this process trained under are put back to their defaults (as `node --v8-options`
 * states them) before the cache is made.
 */
function restoreDefaultFlags() {
  const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  for (const flag of ['semi-space-growth-factor']) {
    const stated = new RegExp(`default: (--${flag}=\\S+)`).exec(options.slice(options.indexOf(`--${flag} `)));
    if (stated) v8.setFlagsFromString(stated[1]);
  }
}

fs.rmSync(codeCachePath(BUNDLE), { force: true });
const cli = loadCli(BUNDLE);
await train(cli.exports.main);
restoreDefaultFlags();
cli.saveCodeCache();
