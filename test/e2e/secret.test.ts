/** A shared secret: TLS 1.3 with a pre-shared key, no certificates. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getFile, listRemote, putFile } from '../../src/client/index.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  cleanup.push(() => s.close());
  return s;
}

const SECRET = 'correct horse battery staple';

describe('shared secret', () => {
  it('with the right secret, get and put work', async () => {
    const s = await server({ secret: SECRET, allowUpload: true });
    const secretText = 'the quarterly numbers nobody may read '.repeat(50);
    await fsp.writeFile(path.join(s.root, 'secret.txt'), secretText);
    const out = await tempDir();
    const got = await getFile(s.target, 'secret.txt', path.join(out, 's.txt'), { secret: SECRET });
    expect(await fsp.readFile(path.join(out, 's.txt'), 'utf8')).toBe(secretText);
    expect(got.bytes).toBe(secretText.length);
    await fsp.writeFile(path.join(out, 'up.txt'), 'uploaded over TLS');
    await putFile(s.target, path.join(out, 'up.txt'), 'up.txt', { secret: SECRET });
    expect(await fsp.readFile(path.join(s.root, 'up.txt'), 'utf8')).toBe('uploaded over TLS');
  });

  it('the wire carries ciphertext: a raw TCP peer sees no plaintext and no greeting', async () => {
    const s = await server({ secret: SECRET });
    await fsp.writeFile(path.join(s.root, 'plain.txt'), 'PLAINTEXT-MARKER '.repeat(100));
    const net = await import('node:net');
    const tls = await import('node:tls');
    const { clientTlsOptions, deriveKey } = await import('../../src/transport/psk.js');
    // Man in the middle that records what passes, both ways.
    const seen: Buffer[] = [];
    const mitm = net.createServer((c) => {
      const u = net.connect(s.port, '127.0.0.1');
      c.on('data', (d) => (seen.push(d), u.write(d)));
      u.on('data', (d) => (seen.push(d), c.write(d)));
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => mitm.close(() => r())));
    const port = (mitm.address() as { port: number }).port;
    const secure = tls.connect({ ...clientTlsOptions(await deriveKey(SECRET)), host: '127.0.0.1', port });
    await new Promise((r, j) => secure.once('secureConnect', r).once('error', j));
    secure.write('HELLO\r\nGET plain.txt\r\nQUIT\r\n');
    let text = '';
    secure.on('data', (d) => (text += d));
    await new Promise((r) => secure.on('end', r));
    expect(text).toContain('PLAINTEXT-MARKER');
    expect(text).toMatch(/^TCPSEND 1 /);
    const wire = Buffer.concat(seen).toString('latin1');
    expect(wire).not.toContain('PLAINTEXT-MARKER');
    expect(wire).not.toContain('TCPSEND');
    expect(wire).not.toContain('GET plain');
  });

  it('a wrong secret gets a clear AUTH error and no data', async () => {
    const s = await server({ secret: SECRET });
    await fsp.writeFile(path.join(s.root, 'a.txt'), 'x');
    const out = await tempDir();
    await expect(getFile(s.target, 'a.txt', path.join(out, 'a.txt'), { secret: 'wrong' })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_AUTH',
      message: expect.stringMatching(/did not accept the secret/),
    });
    expect(await fsp.readdir(out)).toEqual([]);
  });

  // Issue 15, item 18: a missing secret is a refusal like a wrong one (AUTH, never retried),
  // and the message says which it was. It was CONNECTION_LOST, retried three times.
  it('no secret against a server with one: AUTH at once, saying the secret is missing', async () => {
    const s = await server({ secret: SECRET });
    const started = Date.now();
    await expect(listRemote(s.target, '/', { retries: 5 })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_AUTH',
      message: expect.stringMatching(/^missing secret \(set TCPSEND_SECRET or use --secret-file\)/),
    });
    expect(Date.now() - started).toBeLessThan(1000); // no retry, no backoff
  });

  it('a wrong secret is AUTH too, saying it was wrong, and is not retried', async () => {
    const s = await server({ secret: SECRET });
    const refused: string[] = [];
    s.server.on('connectionRefused', ({ reason }) => refused.push(reason));
    await expect(listRemote(s.target, '/', { secret: 'not the secret', retries: 5 })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_AUTH',
      message: expect.stringMatching(/^wrong secret: 127\.0\.0\.1:\d+ did not accept the secret/),
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(refused).toHaveLength(1);
  });

  it('a secret against a server without one fails fast with AUTH, not a hang', async () => {
    const s = await server();
    const started = Date.now();
    await expect(listRemote(s.target, '/', { secret: SECRET })).rejects.toMatchObject({
      code: 'TCPSEND_ERR_AUTH',
      message: expect.stringMatching(/unexpected secret: .* does not use one/),
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('repeated failures from one address are slowed down', async () => {
    const s = await server({ secret: SECRET });
    const attempt = async () => {
      const t = Date.now();
      await listRemote(s.target, '/', { secret: 'nope', retries: 0 }).catch(() => {});
      return Date.now() - t;
    };
    const first = await attempt();
    await attempt();
    await attempt();
    await attempt(); // the server may count a failure a moment after the client saw it
    const fifth = await attempt();
    const sixth = await attempt();
    // After three failures each attempt waits 250 ms × 2^(n−3) before its handshake.
    expect(fifth).toBeGreaterThanOrEqual(240);
    expect(sixth).toBeGreaterThanOrEqual(490);
    expect(first).toBeLessThan(sixth);
  });
});
