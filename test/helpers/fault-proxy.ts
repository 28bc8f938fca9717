/**
 * A TCP proxy on loopback that misbehaves on purpose: cut a connection after N bytes in one
 * direction, reset it, stall it, pause it, or drip bytes one at a time. Each new connection asks
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
  /**
   * A hiccup that does not replace the cut: once this many bytes have gone in `direction`,
   * hold the rest back for `holdMs`, then go on (to a later cutAfter, if there is one).
   */
  holdAfter?: number;
  holdMs?: number;
}

export interface FaultProxy {
  port: number;
  /** Bytes forwarded server → client, over all connections. */
  bytesDown: number;
  bytesUp: number;
  /** The same, per connection, in the order they opened. */
  moved: Array<{ up: number; down: number }>;
  connections: number;
  /** Connections on which the planned fault (cut, reset, stall or pause) went off. */
  faults: number;
  /** Hiccups (holdAfter) that went off. */
  holds: number;
  close(): Promise<void>;
}

export async function startFaultProxy(
  targetPort: number,
  planFor: (index: number) => FaultPlan,
  targetHost = '127.0.0.1',
): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const proxy: FaultProxy = {
    port: 0,
    bytesDown: 0,
    bytesUp: 0,
    moved: [],
    connections: 0,
    faults: 0,
    holds: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
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
    const moved = { up: 0, down: 0 };
    const forwarded = { up: 0, down: 0 };
    proxy.moved.push(forwarded);
    /** Bytes handed on towards the other side. */
    const count = (dir: 'up' | 'down', n: number) => {
      forwarded[dir] += n;
      if (dir === 'down') proxy.bytesDown += n;
      else proxy.bytesUp += n;
    };
    let stalled = false;
    let fired = false;
    let held = false;
    const forward = (dir: 'up' | 'down', from: net.Socket, to: net.Socket) => {
      const onData = (chunk: Buffer): void => {
        if (stalled) return;
        const holdAt = !held && plan.holdAfter !== undefined && (plan.direction ?? 'down') === dir ? plan.holdAfter : Infinity;
        if (moved[dir] + chunk.length > holdAt && holdAt < (plan.cutAfter ?? Infinity)) {
          held = true;
          proxy.holds += 1;
          const head = chunk.subarray(0, Math.max(0, holdAt - moved[dir]));
          moved[dir] += head.length;
          count(dir, head.length);
          to.write(head);
          from.pause();
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (to.destroyed) return;
            from.resume();
            onData(chunk.subarray(head.length)); // before any later chunk: resume emits on the next tick
          }, plan.holdMs ?? 0);
          timers.add(timer);
          return;
        }
        const faulty = plan.cutAfter !== undefined && (plan.direction ?? 'down') === dir;
        if (faulty && moved[dir] + chunk.length >= plan.cutAfter!) {
          const head = chunk.subarray(0, plan.cutAfter! - moved[dir]);
          moved[dir] += head.length;
          count(dir, head.length);
          if (!fired) proxy.faults += 1;
          fired = true;
          if (plan.stall) {
            stalled = true;
            to.write(head);
            return;
          }
          if (plan.pauseMs !== undefined) {
            to.write(head);
            from.pause();
            plan.cutAfter = undefined; // once
            const timer = setTimeout(() => {
              timers.delete(timer);
              const rest = chunk.subarray(head.length);
              moved[dir] += rest.length;
              // Counted only if it can still go somewhere (the peer may have given up).
              if (!to.destroyed) count(dir, rest.length);
              to.write(rest);
              from.resume();
            }, plan.pauseMs);
            timers.add(timer);
            return;
          }
          to.write(head, () => kill());
          from.pause();
          return;
        }
        moved[dir] += chunk.length;
        count(dir, chunk.length);
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
      };
      from.on('data', onData);
      from.on('end', () => to.end());
    };
    forward('up', client, upstream);
    forward('down', upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}
