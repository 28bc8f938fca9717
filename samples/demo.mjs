#!/usr/bin/env node
/**
 * npm run demo: serve a copy of samples/tree on an ephemeral loopback port, then drive the real
 * CLI against it: list, get a file, get a folder, put a file back, put it again (skipped as
 * identical), and print the SHA-256 of everything, checked here independently.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'tcpsend.js');
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'tcpsend-demo-'));
const served = path.join(work, 'served');
const client = path.join(work, 'client');
await fs.cp(path.join(here, 'tree'), served, { recursive: true });
await fs.mkdir(path.join(served, 'nested', 'empty folder'), { recursive: true });
await fs.mkdir(client);

const sha256 = async (file) => createHash('sha256').update(await fs.readFile(file)).digest('hex');
const say = (text) => process.stdout.write(`\n\x1b[1m$ ${text}\x1b[0m\n`);

function run(args, { cwd = client } = {}) {
  say(`tcpsend ${args.map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tcpsend ${args[0]} exited with ${code}`))));
  });
}

// The server: a child process, as a user would run it. Its --json `listening` event says
// which port it took (--quiet would print no banner at all).
const server = spawn(process.execPath, [bin, 'serve', served, '--host', '127.0.0.1', '--port', '0', '--allow-upload', '--json'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((resolve, reject) => {
  let text = '';
  const onData = (chunk) => {
    text += chunk;
    for (const line of text.split('\n').slice(0, -1)) {
      const event = JSON.parse(line);
      if (event.event !== 'listening') continue;
      server.stdout.off('data', onData);
      server.stdout.resume(); // its request events are not shown
      process.stdout.write(`tcpsend ${event.version} serving ${event.root} on port ${event.port}\n`);
      resolve(Number(event.port));
      return;
    }
  };
  server.stdout.on('data', onData);
  server.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
});
const target = `127.0.0.1:${port}`;

let failed = false;
try {
  await run(['ls', target, '-lR']);
  await run(['get', target, 'café menü 数据.txt']);
  await run(['get', target, 'nested', 'nested-copy']);
  await fs.writeFile(path.join(client, 'reply.txt'), `uploaded by the demo at ${new Date().toISOString()}\n`);
  await run(['put', 'reply.txt', target, '--to', 'inbox']);
  await run(['put', 'reply.txt', target, '--to', 'inbox']); // nothing moves the second time

  process.stdout.write('\nChecked here, independently (SHA-256, first 16 hex digits):\n');
  const pairs = [
    ['café menü 数据.txt', path.join(served, 'café menü 数据.txt'), path.join(client, 'café menü 数据.txt')],
    ['nested/data.csv', path.join(served, 'nested', 'data.csv'), path.join(client, 'nested-copy', 'data.csv')],
    ['nested/deeper/readme.md', path.join(served, 'nested', 'deeper', 'readme.md'), path.join(client, 'nested-copy', 'deeper', 'readme.md')],
    ['inbox/reply.txt', path.join(client, 'reply.txt'), path.join(served, 'inbox', 'reply.txt')],
  ];
  for (const [name, source, copy] of pairs) {
    const [a, b] = [await sha256(source), await sha256(copy)];
    const ok = a === b;
    failed ||= !ok;
    process.stdout.write(`  ${ok ? '✓' : '✗'} ${name.padEnd(26)} ${a.slice(0, 16)}  ${ok ? 'identical' : `DIFFERS: ${b.slice(0, 16)}`}\n`);
  }
  const empty = await fs.stat(path.join(client, 'nested-copy', 'empty folder')).then((s) => s.isDirectory(), () => false);
  failed ||= !empty;
  process.stdout.write(`  ${empty ? '✓' : '✗'} the empty folder came along\n`);
} catch (err) {
  failed = true;
  process.stderr.write(`demo failed: ${err.message}\n`);
} finally {
  server.kill('SIGTERM');
  await fs.rm(work, { recursive: true, force: true });
}
process.stdout.write(failed ? '\ndemo: FAILED\n' : '\ndemo: every transfer verified end to end.\n');
process.exitCode = failed ? 1 : 0;
