/** Raw exchanges with a server over loopback: send bytes as given, read until the server closes. */
import net from 'node:net';

export interface RawAnswer {
  bytes: Buffer;
  text: string;
  /** Milliseconds from the connection to the server's close. */
  ms: number;
}

/**
 * Connect to 127.0.0.1:`port`, write each of `writes` in turn (`gapMs` apart), optionally end
 * our side, and collect everything until the server closes (or `timeoutMs`, then reject).
 */
export function exchange(
  port: number,
  writes: (string | Buffer)[],
  options: { halfClose?: boolean; gapMs?: number; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${options.timeoutMs ?? 5000} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, options.timeoutMs ?? 5000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    // The server's FIN (or RST): with allowHalfOpen, 'close' would wait for our own end.
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ bytes, text: bytes.toString('latin1'), ms: performance.now() - started });
    };
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('connect', async () => {
      for (const [i, w] of writes.entries()) {
        if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        socket.write(w);
      }
      if (options.halfClose) socket.end();
    });
  });
}

/** The HTTP responses in `text`, split at each status line (bodies must not contain one). */
export function statusLines(text: string): string[] {
  return [...text.matchAll(/^HTTP\/1\.[01] (\d{3}) [^\r\n]*/gm)].map((m) => m[0]);
}
