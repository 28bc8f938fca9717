#!/usr/bin/env node
/**
 * The classic "send a file name, read the file back until the server closes" client (the
 * file-server exercise of every socket tutorial, and a Gopher client), pointed at
 * `tcpsend serve` in bare-selector mode (docs/protocol.md, "Bare selectors"): no greeting, no
 * framing, just the file's bytes, or a listing for a folder, and then the end of the stream.
 *
 *   npm run build
 *   tcpsend serve samples/tree --host 127.0.0.1 --port 7070
 *   node samples/filename-client.mjs 127.0.0.1 7070 /notes.txt > notes.txt
 *   node samples/filename-client.mjs 127.0.0.1 7070 /              (the listing of the root)
 *
 * The bytes go to stdout untouched. A refusal comes as one line, `ERR <TOKEN> <message>`,
 * followed by the close: when that is all the server sent, this client says so on stderr and
 * exits with status 1 instead of passing the line off as the file.
 */
import { once } from 'node:events';
import { connectTcp, encodePath, errorClassForWire, RemoteError, SocketFile, TcpsendError } from '../dist/index.js';

const [host, portArg, name] = process.argv.slice(2);
const port = Number(portArg);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || name === undefined) {
  process.stderr.write('usage: node samples/filename-client.mjs HOST PORT /PATH > OUT\n');
  process.exit(2);
}

// A selector starts with '/', and travels percent-encoded so spaces, '%' and non-ASCII
// names arrive as they are.
const selector = encodePath(name.startsWith('/') ? name : `/${name}`);

async function out(chunk) {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

const ERR_PREFIX = Buffer.from('ERR ');
const ERR_LINE = /^ERR ([A-Z_]+)(?: (.*))?\r?\n$/s;

/** Could what came so far still be a lone `ERR TOKEN message` line? Then wait and see. */
function mayBeErrLine(head) {
  const newline = head.indexOf(0x0a);
  return (
    head.length <= 8192 &&
    head.subarray(0, 4).equals(ERR_PREFIX.subarray(0, Math.min(4, head.length))) &&
    (newline === -1 || newline === head.length - 1)
  );
}

try {
  const socket = await connectTcp({ host, port }, { timeoutMs: 5_000 });
  const file = new SocketFile(socket, { timeoutMs: 30_000 });
  try {
    await file.writeLine(selector);
    let head = Buffer.alloc(0); // held back until we know it is not an ERR line
    let streaming = false;
    for (;;) {
      const chunk = await file.read(64 * 1024);
      if (chunk === null) break;
      if (streaming) {
        await out(chunk);
        continue;
      }
      head = Buffer.concat([head, chunk]);
      if (!mayBeErrLine(head)) {
        streaming = true;
        await out(head);
      }
    }
    if (!streaming) {
      const match = ERR_LINE.exec(head.toString('utf8'));
      if (match && errorClassForWire(match[1])) throw new RemoteError(match[1], match[2] ?? '');
      await out(head);
    }
  } finally {
    file.close();
  }
} catch (err) {
  const what = err instanceof TcpsendError ? `${err.code}: ${err.message}` : err.message;
  process.stderr.write(`filename-client: ${name}: ${err instanceof RemoteError ? 'the server says ' : ''}${what}\n`);
  process.exitCode = 1;
}
