/**
 * A TCP proxy on loopback that misbehaves on purpose: cut a connection after N bytes in one
 * direction, reset it, stall it, or drip bytes one at a time. Each new connection asks
 * `planFor(index)` what to do, so a test can cut the first few and let the last one through.
 */
import net from 'node:net';

export interface FaultPlan {
  /** Cut (destroy both sides) once this many bytes have gone in `direction`. */
  cutAfter?: number;
  /** 'down' is server → client, 'up' client → server. */
  direction?: 'up' | 'down';
  /** With cutAfter: send a TCP RST instead of a clean close. */
  reset?: boolean;
  /** Forward one byte at a time, with this many ms between them (down direction). */
  dripMs?: number;
  /** Stop forwarding (but keep the connection) after cutAfter bytes. */
  stall?: boolean;
  /** With cutAfter: instead of cutting, hold the rest back for this many ms, then go on. */
  pauseMs?: number;
}

export interface FaultProxy {
  port: number;
  /** Bytes forwarded server → client, over all connections. */
  bytesDown: number;
  bytesUp: number;
  connections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(
  targetPort: number,
  planFor: (index: number) => FaultPlan,
  targetHost = '127.0.0.1',
): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: FaultProxy = {
    port: 0,
    bytesDown: 0,
    bytesUp: 0,
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = net.createServer((client) => {
    const plan = planFor(proxy.connections);
    proxy.connections += 1;
    const upstream = net.connect({ host: targetHost, port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const kill = () => {
      if (plan.reset) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      } else {
        client.destroy();
        upstream.destroy();
      }
    };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.end();
    });
    let moved = { up: 0, down: 0 };
    let stalled = false;
    const forward = (dir: 'up' | 'down', from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (stalled) return;
        const faulty = plan.cutAfter !== undefined && (plan.direction ?? 'down') === dir;
        if (faulty && moved[dir] + chunk.length >= plan.cutAfter!) {
          const head = chunk.subarray(0, plan.cutAfter! - moved[dir]);
          moved[dir] += head.length;
          if (dir === 'down') proxy.bytesDown += head.length;
          else proxy.bytesUp += head.length;
          if (plan.stall) {
            stalled = true;
            to.write(head);
            return;
          }
          if (plan.pauseMs !== undefined) {
            to.write(head);
            from.pause();
            plan.cutAfter = undefined; // once
            setTimeout(() => {
              to.write(chunk.subarray(head.length));
              moved[dir] += chunk.length - head.length;
              from.resume();
            }, plan.pauseMs);
            return;
          }
          to.write(head, () => kill());
          from.pause();
          return;
        }
        moved[dir] += chunk.length;
        if (dir === 'down') proxy.bytesDown += chunk.length;
        else proxy.bytesUp += chunk.length;
        if (dir === 'down' && plan.dripMs !== undefined) {
          from.pause();
          let i = 0;
          const drip = () => {
            if (i >= chunk.length || to.destroyed) {
              from.resume();
              return;
            }
            to.write(chunk.subarray(i, i + 1));
            i += 1;
            setTimeout(drip, plan.dripMs);
          };
          drip();
          return;
        }
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => to.end());
    };
    forward('up', client, upstream);
    forward('down', upstream, client);
    void moved;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}
