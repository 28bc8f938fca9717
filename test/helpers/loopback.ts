/** A real TCP connection over loopback (port 0), both ends in this process. */
import net from 'node:net';

export interface LoopbackPair {
  client: net.Socket;
  server: net.Socket;
  close(): Promise<void>;
}

export async function loopbackPair(host = '127.0.0.1'): Promise<LoopbackPair> {
  const listener = net.createServer();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, host, () => resolve());
  });
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const server = await accepted;
  listener.close();
  return {
    client,
    server,
    async close() {
      client.destroy();
      server.destroy();
    },
  };
}
