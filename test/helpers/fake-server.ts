/**
 * A fake tcpsend server on 127.0.0.1: it speaks just enough of the protocol (greeting, OK to
 * HELLO, OK to QUIT) and answers every other request line with what a test script says.
 */
import net from 'node:net';
import { SocketFile } from '../../src/io/index.js';

/** What the fake answers to one request line: bytes to send, then maybe a close. */
export interface Reply {
  send: Array<string | Buffer>;
  /** End the connection after sending. */
  close?: boolean;
}

export interface FakeServer {
  port: number;
  /** Every request line received after HELLO. */
  requests: string[];
  close(): Promise<void>;
}

/** The capabilities the fake's greeting lists unless told otherwise. */
export const FAKE_CAPS = 'range,sha256,resume,hash,list,mkdir';

/**
 * A fake tcpsend server: greeting and HELLO done right, every other line answered by `script`.
 * Close it when done (`close`).
 */
export async function fakeServer(script: (line: string) => Reply, options: { caps?: string } = {}): Promise<FakeServer> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    void (async () => {
      const file = new SocketFile(socket, { timeoutMs: 10_000 });
      try {
        for (;;) {
          const line = await file.readLine();
          if (line === null) break;
          if (line.startsWith('HELLO')) {
            await file.write(`TCPSEND 1 server=fake/0 caps=${options.caps ?? FAKE_CAPS} upload=0\r\nOK version=1\r\n`);
            continue;
          }
          if (line === 'QUIT') {
            await file.write('OK\r\n');
            break;
          }
          requests.push(line);
          const reply = script(line);
          for (const part of reply.send) await file.write(part);
          if (reply.close) break;
        }
        await file.end();
      } catch {
        // The client went away: nothing to do.
      } finally {
        socket.destroy();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeServer = {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return fake;
}

