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
 * The bytes go to stdout untouched. A refusal comes as Gopher's error item,
 * `3<TOKEN>: <message> TAB TAB error.host TAB 1`, then a line holding `.`, then the close: when
 * that is all the server sent, this client says so on stderr and exits with status 1 instead of
 * passing the item off as the file.
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

// docs/protocol.md, "Bare selectors": the error item a refusal is sent as.
const ERROR_ITEM = /^3([A-Z_]+): ([^\t\r\n]*)\t[^\t\r\n]*\terror\.host\t1\r\n\.\r\n$/;
const ERROR_ITEM_END = Buffer.from('\r\n.\r\n');

/** Could what came so far still be a lone error item? Then wait and see. */
function mayBeErrorItem(head) {
  if (head.length > 8192 || (head.length > 0 && head[0] !== 0x33)) return false; // '3'
  const newline = head.indexOf(0x0a);
  // Its only line ends, and what follows can only be the '.' line.
  return newline === -1 || ERROR_ITEM_END.subarray(1).subarray(0, head.length - newline).equals(head.subarray(newline));
}

try {
  const socket = await connectTcp({ host, port }, { timeoutMs: 5_000 });
  const file = new SocketFile(socket, { timeoutMs: 30_000 });
  try {
    await file.writeLine(selector);
    let head = Buffer.alloc(0); // held back until we know it is not an error item
    let streaming = false;
    for (;;) {
      const chunk = await file.read(64 * 1024);
      if (chunk === null) break;
      if (streaming) {
        await out(chunk);
        continue;
      }
      head = Buffer.concat([head, chunk]);
      if (!mayBeErrorItem(head)) {
        streaming = true;
        await out(head);
      }
    }
    if (!streaming) {
      const match = ERROR_ITEM.exec(head.toString('utf8'));
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
