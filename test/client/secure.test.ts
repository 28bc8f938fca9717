/**
 * The client's TLS-PSK handshake against servers that misbehave (issue 14, findings 7 and 8):
 * it is bounded by the timeout, stops on an abort (Ctrl-C), and a close during the handshake is
 * an error with a message, never a promise left hanging.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listRemote } from '../../src/client/index.js';
import { deriveKey, serverTlsOptions } from '../../src/transport/psk.js';
import { spawn } from 'node:child_process';
import { assertBuilt, BIN, cliEnv, oneLineError, runCli, stopAllCli, tempDir } from '../helpers/cli.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await stopAllCli();
});
beforeAll(() => assertBuilt());

/** A TCP server on loopback that does `onConnection` with every socket it accepts. */
async function fakeServer(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

// A secret no earlier test derived, so the key is derived while the server is already closing.
let fresh = 0;
const freshSecret = () => `a secret nobody derived yet #${++fresh} ${Date.now()}`;

describe('the client handshake', () => {
  it('a server that accepts and never answers: CONNECT_TIMEOUT after the timeout, not a hang', async () => {
    const port = await fakeServer(() => {});
    const started = Date.now();
    await expect(
      listRemote(`127.0.0.1:${port}`, '/', { secret: freshSecret(), idleTimeoutMs: 400, retries: 0 }),
    ).rejects.toMatchObject({ code: 'TCPSEND_ERR_CONNECT_TIMEOUT', message: expect.stringMatching(/no answer to the TLS handshake/) });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an abort (Ctrl-C) during the handshake ends it at once with the abort reason', async () => {
    const port = await fakeServer(() => {});
    const controller = new AbortController();
    const reason = new Error('stopped by the test');
    setTimeout(() => controller.abort(reason), 300);
    const started = Date.now();
    await expect(
      listRemote(`127.0.0.1:${port}`, '/', { secret: freshSecret(), idleTimeoutMs: 60_000, retries: 3, signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a server that closes right after accepting (while the key is derived): CONNECTION_LOST with a message', async () => {
    const port = await fakeServer((socket) => socket.end());
    await expect(listRemote(`127.0.0.1:${port}`, '/', { secret: freshSecret(), retries: 0 })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_CONNECTION_LOST',
      message: expect.stringMatching(/closed the connection/),
    });
  });

  it('a server that closes mid-handshake: CONNECTION_LOST with a message', async () => {
    const port = await fakeServer((socket) => socket.once('data', () => socket.destroy()));
    await expect(listRemote(`127.0.0.1:${port}`, '/', { secret: freshSecret(), retries: 0 })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_CONNECTION_LOST',
      message: expect.stringMatching(/closed the connection during the TLS handshake/),
    });
  });
});

describe('after the handshake, a server that never greets', () => {
  const SECRET = 'a secret for a server that never greets';
  /** Completes TLS with the right key, then says nothing. */
  const silentTls = async () => {
    const key = await deriveKey(SECRET);
    return fakeServer((socket) => {
      const secure = new tls.TLSSocket(socket, { isServer: true, ...serverTlsOptions(key) });
      secure.on('error', () => {});
    });
  };

  it('the timeout still applies (TIMEOUT, not a hang)', async () => {
    const port = await silentTls();
    const started = Date.now();
    await expect(listRemote(`127.0.0.1:${port}`, '/', { secret: SECRET, idleTimeoutMs: 400, retries: 0 })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_TIMEOUT',
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an abort while waiting for the greeting ends it at once', async () => {
    const port = await silentTls();
    const controller = new AbortController();
    const reason = new Error('stopped while waiting for the greeting');
    setTimeout(() => controller.abort(reason), 300);
    await expect(
      listRemote(`127.0.0.1:${port}`, '/', { secret: SECRET, idleTimeoutMs: 60_000, retries: 3, signal: controller.signal }),
    ).rejects.toBe(reason);
  });
});

describe('the CLI with a secret against a misbehaving server', () => {
  it('closes during the handshake: exit 3 and one line saying so (was exit 13 and nothing)', async () => {
    const port = await fakeServer((socket) => socket.end());
    const cwd = await tempDir();
    const r = await runCli(['ls', `127.0.0.1:${port}`, '--retries', '0'], { cwd, env: { TCPSEND_SECRET: freshSecret() } });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toMatch(/closed the connection/);
  });

  it('never answers: --timeout applies (exit 3, says no answer)', async () => {
    const port = await fakeServer(() => {});
    const cwd = await tempDir();
    const r = await runCli(['ls', `127.0.0.1:${port}`, '--timeout', '1'], { cwd, env: { TCPSEND_SECRET: freshSecret() } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no answer to the TLS handshake/);
    expect(r.ms).toBeLessThan(6000);
  });

  it('never answers: the first SIGTERM stops it (exit 130)', async () => {
    let accepted: () => void;
    const connected = new Promise<void>((resolve) => (accepted = resolve));
    const port = await fakeServer(() => accepted());
    const cwd = await tempDir();
    const child = spawn(process.execPath, [BIN, 'ls', `127.0.0.1:${port}`], {
      cwd,
      env: cliEnv({ TCPSEND_SECRET: freshSecret() }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    cleanup.push(async () => void child.kill('SIGKILL'));
    await connected;
    await new Promise((r) => setTimeout(r, 300)); // into the handshake (the key is derived)
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(stderr).toMatch(/interrupted/);
  });
});
