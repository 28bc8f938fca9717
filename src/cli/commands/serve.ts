/** tcpsend serve [DIR]: serve a folder. */
import os from 'node:os';
import type { Writable } from 'node:stream';
import type { Argv, CommandModule } from 'yargs';
import type { TcpsendServer } from '../../server/server.js';
import { DEFAULT_SERVER_OPTIONS } from '../../server/options.js';
import type { CliContext, GlobalFlags } from '../context.js';
import { browserUrl, hostPort, reachableAddresses, type PeerAddress } from '../addresses.js';
import { terminalQr } from '../qr.js';
import { peerName, ServerLog } from '../server-log.js';
import { VERSION } from '../../version.js';
import { checksumFlag, offeredChecksums, type ChecksumFlags } from './shared.js';
import { DEFAULT_PORT } from '../../protocol/index.js';
import { portNumber } from '../options.js';
import { displayPath, resolveServeSecret } from '../secret.js';

interface ServeArgs extends GlobalFlags, ChecksumFlags {
  dir: string;
  port: number;
  host?: string;
  allowUpload: boolean;
  allowOverwrite: boolean;
  allowDelete: boolean;
  maxUpload: number;
  maxConnections: number;
  idleTimeout: number;
  maxLine: number;
  dotfiles: boolean;
  secret?: string;
  secretFile?: string;
  qr?: boolean;
}

/** "shutting down", and what it waits for, if anything (issue 15: never "for 0 connection(s)"). */
export function shutdownLine(connections: number): string {
  if (connections === 0) return 'shutting down';
  const what = connections === 1 ? '1 connection' : `${connections} connections`;
  return `shutting down: waiting up to ${DEFAULT_SERVER_OPTIONS.shutdownGraceMs / 1000} s for ${what} to finish; unfinished uploads stay resumable`;
}

/** One line per address, with the commands to use it (`auth`: what they need for a secret). */
export function writeAddresses(out: Writable, addresses: readonly PeerAddress[], port: number, upload: boolean, auth: string): void {
  if (addresses.length === 0) out.write('  (no network interface up: only this machine can connect, at 127.0.0.1)\n');
  for (const a of addresses) {
    const where = hostPort(a.address, port);
    if (a.linkLocal) {
      // The zone (%eth0) is the client's own interface, not ours: a command with ours would fail there.
      out.write(`  ${where}  (${a.iface ? `${a.iface}, ` : ''}IPv6 link-local: the client adds its own interface, as [${a.address}%IFACE]:${port})\n`);
      continue;
    }
    out.write(`  ${where}${a.iface ? `  (${a.iface}, ${a.family})` : ''}\n`);
    out.write(`      tcpsend get ${where} FILE${auth}      tcpsend ls ${where}${auth}\n`);
    if (upload) out.write(`      tcpsend put FILE ${where}${auth}\n`);
  }
}

/**
 * The URL for a browser, and its QR code for a phone's camera. The code is drawn only where a
 * person looks at it: both outputs a terminal (not piped, not logged), unless --qr; --quiet
 * leaves out both, unless --qr.
 */
async function writeBrowserUrl(ctx: CliContext, argv: ServeArgs, url: string): Promise<void> {
  const out = ctx.streams.stderr;
  if (argv.quiet && !argv.qr) return;
  out.write(`  in a browser: ${url}\n`);
  const onTerminal = Boolean(ctx.streams.stdout.isTTY && ctx.streams.stderr.isTTY);
  if (argv.qr || onTerminal) out.write(await terminalQr(url));
}

export function serveCommand(ctx: CliContext): CommandModule<GlobalFlags, any> {
  return {
    command: 'serve [dir]',
    describe: 'Serve a folder (read-only unless --allow-upload)',
    builder: (y: Argv) =>
      checksumFlag(y)
        .positional('dir', { type: 'string', default: '.', describe: 'Folder to serve' })
        .option('port', { alias: 'p', type: 'number', default: DEFAULT_PORT, describe: 'Port to serve on (0: any free one)', coerce: portNumber })
        .option('host', { type: 'string', describe: 'Address to listen on (default: every interface, IPv4 and IPv6)' })
        .option('allow-upload', { type: 'boolean', default: false, describe: 'Take uploads (put) into the folder' })
        .option('allow-overwrite', { type: 'boolean', default: false, describe: 'Let uploads replace existing files when the client asks' })
        .option('allow-delete', { type: 'boolean', default: false, describe: 'Let clients delete files, symlinks and whole folders (DELETE)' })
        .option('max-upload', { type: 'number', default: DEFAULT_SERVER_OPTIONS.maxUploadBytes, describe: 'Largest upload, in bytes' })
        .option('max-connections', { type: 'number', default: DEFAULT_SERVER_OPTIONS.maxConnections, describe: 'Connections at once' })
        .option('secret', {
          type: 'string',
          describe:
            'Require a shared secret (TLS 1.3 with a pre-shared key). Alone: the passphrase kept in ~/.config/tcpsend/secret (or --secret-file), made and shown once on the first start. With a value: that secret (prefer TCPSEND_SECRET)',
        })
        .option('secret-file', { type: 'string', describe: 'Read the shared secret from this file (with --secret: create it if missing)' })
        .option('dotfiles', { type: 'boolean', default: false, describe: "Share hidden files ('.git', '.env') and take uploads of them" })
        .option('max-line', { type: 'number', default: DEFAULT_SERVER_OPTIONS.maxLineLength, describe: 'Longest request line, in bytes' })
        .option('qr', { type: 'boolean', describe: 'Draw the browser URL as a QR code even when not on a terminal, or with --quiet' })
        .option('idle-timeout', { type: 'number', default: DEFAULT_SERVER_OPTIONS.idleTimeoutMs / 1000, describe: 'Seconds before an idle connection is dropped' })
        .example('$0 serve', 'Share the current folder, read-only, on port 7070')
        .example('$0 serve ~/inbox --allow-upload --port 9000', 'Take uploads into ~/inbox')
        .example('$0 serve . --host 127.0.0.1 --json', 'Only this machine; NDJSON request log')
        .example('$0 serve ~/share --secret', 'Encrypted and authenticated: a passphrase made once, kept in ~/.config/tcpsend/secret'),
    handler: async (args) => {
      const argv = args as unknown as ServeArgs;
      let server: TcpsendServer;
      let secret: Awaited<ReturnType<typeof resolveServeSecret>>;
      try {
        secret = await resolveServeSecret(argv, { argv: process.argv, env: process.env });
        const checksums = offeredChecksums(argv, (message) => {
          if (!argv.json) ctx.streams.stderr.write(`  ${message}\n`);
        });
        // Loaded here, not at start-up: the server (its HTTP front, tar, busboy, mime-db) is
        // half the CLI, and get, put and ls never run it.
        const { TcpsendServer } = await import('../../server/server.js');
        server = await TcpsendServer.create({
          checksums,
          secret: secret.secret ?? undefined,
          root: argv.dir,
          allowUpload: argv.allowUpload,
          allowOverwrite: argv.allowOverwrite,
          allowDelete: argv.allowDelete,
          maxUploadBytes: argv.maxUpload,
          maxConnections: argv.maxConnections,
          idleTimeoutMs: argv.idleTimeout * 1000,
          maxLineLength: argv.maxLine,
          dotfiles: argv.dotfiles,
        });
        await server.listen({ port: argv.port, host: argv.host });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') {
          ctx.fail(new Error(`port ${argv.port} is already in use (try --port with another number, or --port 0 for any free one)`), argv);
        } else ctx.fail(err, argv);
        return;
      }
      const { port } = server.address();
      const out = ctx.streams.stderr;
      const log = argv.json || argv.quiet ? null : new ServerLog(out, argv.verbose, Boolean(out.isTTY) && !process.env.CI);
      // Handle SIGTERM before announcing the port: a supervisor may stop us the moment it reads it.
      const stopped = new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (!argv.json && !argv.quiet) {
            const line = shutdownLine(server.connectionCount);
            if (log) log.say(line);
            else out.write(`${line}\n`);
          }
          void server.close().then(() => {
            log?.stop();
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const addresses = reachableAddresses(argv.host);
      // Browsers get a page only from a server without a secret (with one, they get a 403 page).
      const url = secret.secret ? null : (addresses.map((a) => browserUrl(a, port)).find((u) => u !== null) ?? browserUrl({ address: '127.0.0.1', family: 'IPv4', iface: '', linkLocal: false }, port));
      if (argv.json) {
        ctx.json.emit('listening', {
          version: VERSION,
          root: server.rootPath,
          port,
          upload: argv.allowUpload,
          encrypted: server.encrypted,
          ...(secret.generated ? { secret: secret.secret } : {}),
          ...(secret.file ? { secret_file: secret.file } : {}),
          hostname: os.hostname(),
          addresses: addresses.map((a) => hostPort(a.address, port)),
          ...(url ? { url } : {}),
        });
      } else if (!argv.quiet) {
        out.write(
          `tcpsend ${VERSION} serving ${server.rootPath} on port ${port}, ${argv.allowUpload ? 'uploads ON' : 'read-only'}, ${secret.secret ? 'encrypted (TLS 1.3, shared secret)' : 'NOT encrypted'}\n`,
        );
        out.write(`  host name: ${os.hostname()}\n`);
        for (const warning of secret.warnings) out.write(`  warning: ${warning}\n`);
        // The secret itself is printed once, when it is made; never inside a command line.
        const secretFile = secret.file ? displayPath(secret.file, process.env) : null;
        if (secret.generated) out.write(`  new secret, kept in ${secretFile} (mode 600) for the next start: ${secret.secret}\n`);
        else if (secretFile) out.write(`  secret: the one in ${secretFile}\n`);
        if (secret.secret) out.write(`  clients: keep it in a file of mode 600 and add --secret-file FILE (or set TCPSEND_SECRET)\n`);
        writeAddresses(out, addresses, port, argv.allowUpload, secret.secret ? ` --secret-file ${secretFile ?? 'FILE'}` : '');
        if (!secret.secret && argv.allowUpload && (argv.host === undefined || !/^(127\.|::1$|localhost$)/.test(argv.host))) {
          out.write('  warning: uploads are on without a secret: anyone who can reach this port can write here (serve --secret)\n');
        }
      } else if (secret.generated) {
        // Even --quiet says this once: it was just made, and clients need it.
        out.write(`new secret${secret.file ? `, kept in ${displayPath(secret.file, process.env)} (mode 600) for the next start` : ''}: ${secret.secret}\n`);
      }
      if (url && !argv.json) await writeBrowserUrl(ctx, argv, url);
      server.on('transferStart', (start) => {
        if (argv.json) ctx.json.emit('transfer_start', { peer: peerName(start.peer), verb: start.verb, path: start.path });
        else log?.started(start);
      });
      server.on('request', (entry) => {
        if (argv.json) ctx.json.emit('request', { ...entry, peer: peerName(entry.peer), ms: Number(entry.ms.toFixed(2)) });
        else log?.ended(entry);
      });
      server.on('connectionRefused', ({ peer, reason }) => {
        if (argv.json) ctx.json.emit('refused', { peer: peerName(peer), reason });
        else log?.refused(peer, reason);
      });
      await stopped;
    },
  };
}
