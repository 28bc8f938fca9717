/**
 * A loopback proxy that makes either end look like a tcpsend from before BLAKE3: it removes
 * the ` checksums=...` field from the server's greeting (an older server lists none) and from
 * the client's HELLO (an older client sends none), and passes every other byte through. It
 * records what the client sent, so a test can check no newer field reached the server.
 */
import net from 'node:net';

export interface LegacyProxy {
  port: number;
  /** Everything the client sent, after the rewrite. */
  upstream(): string;
  close(): Promise<void>;
}

const CHECKSUMS_FIELD = / checksums=\S*/;

/** Pass `from` to `to`, rewriting the first line with `rewrite`; `seen` gets what went out. */
function pipeRewritingFirstLine(from: net.Socket, to: net.Socket, rewrite: (line: string) => string, seen?: Buffer[]): void {
  let head: Buffer | null = Buffer.alloc(0);
  from.on('data', (chunk: Buffer) => {
    let out = chunk;
    if (head !== null) {
      head = Buffer.concat([head, chunk]);
      const eol = head.indexOf('\n');
      if (eol < 0) return;
      out = Buffer.concat([Buffer.from(rewrite(head.subarray(0, eol + 1).toString('latin1')), 'latin1'), head.subarray(eol + 1)]);
      head = null;
    }
    seen?.push(out);
    to.write(out);
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
  from.on('close', () => to.destroy());
}

export async function startLegacyProxy(targetPort: number, ends: { server?: boolean; client?: boolean }): Promise<LegacyProxy> {
  const sockets = new Set<net.Socket>();
  const up: Buffer[] = [];
  const drop = (line: string) => line.replace(CHECKSUMS_FIELD, '');
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    pipeRewritingFirstLine(client, upstream, ends.client ? drop : (line) => line, up);
    pipeRewritingFirstLine(upstream, client, ends.server ? drop : (line) => line);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    upstream: () => Buffer.concat(up).toString('latin1'),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
