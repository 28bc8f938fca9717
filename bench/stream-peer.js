// One side of a stream-layer benchmark run, in its own process so its peak RSS is its own.
//
//   node bench/stream-peer.js recv <baseline|tcpsend> <host> <dst> <size>
//   node bench/stream-peer.js send <baseline|tcpsend> <host> <port> <src> <size>
//
// Started by bench/stream.js with child_process.fork: it reports over IPC and exits.
// Times are process.hrtime.bigint() (CLOCK_MONOTONIC, shared by every process on the host),
// so the parent can subtract the sender's connect time from the receiver's close time.
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { SocketFile } from '../dist/index.js';

const [role, variant, host, ...rest] = process.argv.slice(2);
const now = () => process.hrtime.bigint().toString();

function report(message) {
  return new Promise((resolve) => process.send(message, resolve));
}

async function receive(dst, size) {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  await report({ type: 'listening', port: server.address().port });
  const [socket] = await accepted;
  server.close();
  const out = fs.createWriteStream(dst);
  if (variant === 'baseline') {
    socket.pipe(out);
  } else {
    const moved = await new SocketFile(socket).pipeTo(out, size);
    if (moved !== size) throw new Error(`pipeTo moved ${moved} of ${size} bytes`);
    out.end();
  }
  await once(out, 'close');
  const closedAt = now();
  socket.destroy();
  await report({ type: 'done', closedAt, maxRSS: process.resourceUsage().maxRSS });
}

async function send(port, src, size) {
  const socket = net.connect({ host, port });
  await once(socket, 'connect');
  const connectedAt = now();
  let sent = size;
  if (variant === 'baseline') {
    fs.createReadStream(src, { start: 0, end: size - 1 }).pipe(socket);
    await once(socket, 'finish');
  } else {
    const file = new SocketFile(socket);
    sent = await file.sendfile(src, 0, size);
    await file.end();
  }
  await report({ type: 'done', connectedAt, sent, maxRSS: process.resourceUsage().maxRSS });
  socket.destroy();
}

try {
  if (role === 'recv') await receive(rest[0], Number(rest[1]));
  else if (role === 'send') await send(Number(rest[0]), rest[1], Number(rest[2]));
  else throw new Error(`unknown role ${role}`);
  process.disconnect();
} catch (err) {
  console.error(`stream-peer ${role} ${variant}:`, err);
  process.exitCode = 1;
  process.disconnect();
}
