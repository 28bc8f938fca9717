#!/usr/bin/env node
/**
 * The classic echo client (the "Echo client program" of Python's socket documentation):
 * connect, send a line, read the reply, print it; one line at a time, in lock step.
 *
 *   npm run build
 *   node samples/echo-server.mjs                      prints the port it chose
 *   node samples/echo-client.mjs 127.0.0.1 PORT hello world     sends "hello", then "world"
 *   printf 'one\ntwo\n' | node samples/echo-client.mjs 127.0.0.1 PORT     sends stdin's lines
 *
 * Each word on the command line is one line; with no words, each line of stdin is one line.
 * Every reply is printed on stdout as it comes back.
 */
import readline from 'node:readline';
import { connectTcp, SocketFile, TcpsendError } from '../dist/index.js';

const [host, portArg, ...words] = process.argv.slice(2);
const port = Number(portArg);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: node samples/echo-client.mjs HOST PORT [WORD...]   (no words: read lines from stdin)\n');
  process.exit(2);
}

/** The lines to send: the words, or stdin's lines as they arrive. */
async function* linesToSend() {
  if (words.length > 0) {
    yield* words;
    return;
  }
  yield* readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
}

try {
  // connectTcp turns ECONNREFUSED and friends into errors with a code to match on.
  const socket = await connectTcp({ host, port }, { timeoutMs: 5_000 });
  const file = new SocketFile(socket, { timeoutMs: 10_000 });
  try {
    for await (const line of linesToSend()) {
      await file.writeLine(line);
      const reply = await file.readLine();
      if (reply === null) throw new Error('the server closed the connection');
      process.stdout.write(`${reply}\n`);
    }
    await file.end();
  } finally {
    file.close();
  }
} catch (err) {
  if (err instanceof TcpsendError && err.code === 'TCPSEND_ERR_CONNECTION_REFUSED') {
    process.stderr.write(`echo-client: nothing listens on ${host}:${port}; start samples/echo-server.mjs first\n`);
  } else {
    process.stderr.write(`echo-client: ${err instanceof TcpsendError ? `${err.code}: ` : ''}${err.message}\n`);
  }
  process.exitCode = 1;
}
