/** The addresses a peer on the LAN can use to reach a server listening on `host`. */
import os from 'node:os';

export interface PeerAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  iface: string;
  /**
   * An IPv6 link-local address (fe80::/10). A client needs its own zone to use one
   * (`fe80::1%wlan0`, the client's interface, not the server's), so it is shown without one.
   */
  linkLocal: boolean;
}

const ANY = new Set(['::', '0.0.0.0', '']);

export function reachableAddresses(host: string | undefined, interfaces = os.networkInterfaces()): PeerAddress[] {
  if (host !== undefined && !ANY.has(host)) {
    const family = host.includes(':') ? 'IPv6' : 'IPv4';
    return [{ address: host, family, iface: '', linkLocal: isLinkLocal(host) }];
  }
  const out: PeerAddress[] = [];
  for (const [iface, list] of Object.entries(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      const family = a.family as 'IPv4' | 'IPv6';
      out.push({ address: a.address, family, iface, linkLocal: family === 'IPv6' && isLinkLocal(a.address) });
    }
  }
  // The address most clients can use first: IPv4, then global IPv6, then link-local.
  const rank = (a: PeerAddress) => (a.family === 'IPv4' ? 0 : a.linkLocal ? 2 : 1);
  return out.sort((a, b) => rank(a) - rank(b));
}

function isLinkLocal(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address);
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The URL a browser on the LAN opens; null for a link-local address (browsers take no zone). */
export function browserUrl(a: PeerAddress, port: number): string | null {
  return a.linkLocal ? null : `http://${hostPort(a.address, port)}/`;
}
