/**
 * The serve banner for people on the LAN (issues 10 and 15): the host name, the URL a browser
 * opens and its QR code (only on a terminal, or with --qr), link-local addresses without the
 * server's own zone, --quiet that prints nothing, and a shutdown line that says what it waits for.
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import QRCode from 'qrcode';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserUrl, reachableAddresses } from '../../src/cli/addresses.js';
import { shutdownLine, writeAddresses } from '../../src/cli/commands/serve.js';
import { assertBuilt, BIN, cliEnv, closedPort, ServeProcess, startServe, stopAllCli, removeTemps, tempDir } from '../helpers/cli.js';

beforeAll(() => assertBuilt());
const started: ServeProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop(2000)));
  await stopAllCli();
  await removeTemps();
});

/** Both outputs claim to be terminals, as in a shell. */
const FAKE_TTYS = [
  '--import',
  `data:text/javascript,${encodeURIComponent("for (const s of [process.stdout, process.stderr]) Object.defineProperty(s, 'isTTY', { value: true });")}`,
];

async function folder(): Promise<string> {
  const root = await tempDir('tcpsend-banner-');
  await fsp.writeFile(path.join(root, 'notes.txt'), 'hello\n');
  return root;
}

/** `tcpsend serve` on a port chosen here (the banner may not say it), with node flags. */
async function serveOn(root: string, args: string[], nodeArgs: string[] = []): Promise<ServeProcess & { port: number }> {
  const port = await closedPort();
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', root, '--port', String(port), '--host', '127.0.0.1', ...args], {
    cwd: root,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serve = new ServeProcess(child);
  serve.port = port;
  started.push(serve);
  // Listening once a connection is accepted.
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 100 || !serve.running) throw new Error(`serve did not listen: ${serve.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return serve;
}

const qrOf = (url: string) => QRCode.toString(url, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });

describe('the banner', () => {
  it('shows the host name and the URL for a browser; no QR code when the output is not a terminal', async () => {
    const serve = await startServe(await folder());
    const banner = await serve.waitFor(() => serve.stderr.includes('in a browser:') && serve.stderr, 'the browser line');
    expect(banner).toContain(`  host name: ${os.hostname()}\n`);
    expect(banner).toContain(`  in a browser: http://127.0.0.1:${serve.port}/\n`);
    expect(banner).not.toMatch(/[▀▄█]/);
    // The URL it prints serves the folder page.
    const res = await fetch(`http://127.0.0.1:${serve.port}/`);
    expect(await res.text()).toContain('notes.txt');
  });

  it('draws the QR code of that URL on a terminal', async () => {
    const serve = await serveOn(await folder(), [], FAKE_TTYS);
    const qr = await qrOf(`http://127.0.0.1:${serve.port}/`);
    await serve.waitFor(() => serve.stderr.includes(qr), 'the QR code');
  });

  it('draws it with --qr when the output is not a terminal', async () => {
    const serve = await serveOn(await folder(), ['--qr']);
    const qr = await qrOf(`http://127.0.0.1:${serve.port}/`);
    await serve.waitFor(() => serve.stderr.includes(qr), 'the QR code');
  });

  it('has no browser URL or QR code with a secret (browsers are refused there)', async () => {
    const serve = await serveOn(await folder(), ['--secret-file', await secretFile()], FAKE_TTYS);
    await serve.waitFor(() => serve.stderr.includes('host name:') && serve.stderr.includes('tcpsend ls'), 'the banner');
    await new Promise((r) => setTimeout(r, 300));
    expect(serve.stderr).not.toContain('in a browser');
    expect(serve.stderr).not.toMatch(/[▀▄█]/);
  });

  it('--json tells the host name and the URL', async () => {
    const serve = await startServe(await folder(), { json: true });
    const listening = JSON.parse(serve.stdout.split('\n')[0]!);
    expect(listening).toMatchObject({ event: 'listening', hostname: os.hostname(), url: `http://127.0.0.1:${serve.port}/` });
  });
});

describe('serve --quiet (issue 15, item 11)', () => {
  it('prints no banner, no QR code, no request log and no shutdown line, even on a terminal', async () => {
    const serve = await serveOn(await folder(), ['--quiet'], FAKE_TTYS);
    await (await fetch(`http://127.0.0.1:${serve.port}/notes.txt`)).text();
    const stopped = await serve.stop(5000);
    expect(stopped.code).toBe(0);
    expect(serve.stderr).toBe('');
    expect(serve.stdout).toBe('');
  });

  it('with --qr still draws the QR code, and nothing else', async () => {
    const serve = await serveOn(await folder(), ['--quiet', '--qr']);
    const qr = await qrOf(`http://127.0.0.1:${serve.port}/`);
    await serve.waitFor(() => serve.stderr.includes(qr), 'the QR code');
    await serve.stop(5000);
    expect(serve.stderr).toBe(`  in a browser: http://127.0.0.1:${serve.port}/\n${qr}`);
  });
});

describe('shutdown (issue 15, item 12)', () => {
  it('says nothing about 0 connections when none is open', async () => {
    const serve = await startServe(await folder());
    await serve.stop(5000);
    expect(serve.stderr).toMatch(/\nshutting down\n$/);
    expect(serve.stderr).not.toContain('0 connection');
  });

  it('counts the connections it waits for, in plain words', () => {
    expect(shutdownLine(0)).toBe('shutting down');
    expect(shutdownLine(1)).toBe('shutting down: waiting up to 5 s for 1 connection to finish; unfinished uploads stay resumable');
    expect(shutdownLine(3)).toMatch(/for 3 connections to finish/);
  });
});

describe('addresses (issue 15, item 12)', () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    eth0: [
      { address: 'fe80::fc:ff:fe00:1', family: 'IPv6', internal: false },
      { address: 'fd00::2', family: 'IPv6', internal: false },
      { address: '192.168.1.23', family: 'IPv4', internal: false },
    ],
  } as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;

  it('IPv4 first, then global IPv6, then link-local, which carries no zone of ours', () => {
    const found = reachableAddresses(undefined, interfaces);
    expect(found.map((a) => a.address)).toEqual(['192.168.1.23', 'fd00::2', 'fe80::fc:ff:fe00:1']);
    expect(found.map((a) => a.linkLocal)).toEqual([false, false, true]);
    expect(found.some((a) => a.address.includes('%'))).toBe(false);
  });

  it('a link-local address gets no command with the server\'s %eth0, and no browser URL', () => {
    let text = '';
    const out = new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) });
    writeAddresses(out, reachableAddresses(undefined, interfaces), 7070, true, '');
    expect(text).not.toContain('%eth0');
    expect(text).toContain('[fe80::fc:ff:fe00:1]:7070  (eth0, IPv6 link-local: the client adds its own interface, as [fe80::fc:ff:fe00:1%IFACE]:7070)');
    expect(text).not.toMatch(/tcpsend get \[fe80/);
    expect(text).toContain('tcpsend get 192.168.1.23:7070 FILE');
    expect(text).toContain('tcpsend put FILE [fd00::2]:7070');
    const [v4, , ll] = reachableAddresses(undefined, interfaces);
    expect(browserUrl(v4!, 7070)).toBe('http://192.168.1.23:7070/');
    expect(browserUrl(ll!, 7070)).toBeNull();
  });
});

async function secretFile(): Promise<string> {
  const dir = await tempDir('tcpsend-banner-secret-');
  const file = path.join(dir, 'secret');
  await fsp.writeFile(file, 'a long enough shared secret for the banner test\n', { mode: 0o600 });
  return file;
}
