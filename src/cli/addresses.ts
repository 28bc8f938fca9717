/** The addresses a peer on the LAN can use to reach a server listening on `host`. */
import os from 'node:os';

export interface PeerAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  iface: string;
}

const ANY = new Set(['::', '0.0.0.0', '']);

export function reachableAddresses(host: string | undefined, interfaces = os.networkInterfaces()): PeerAddress[] {
  if (host !== undefined && !ANY.has(host)) {
    return [{ address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', iface: '' }];
  }
  const out: PeerAddress[] = [];
  for (const [iface, list] of Object.entries(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      // Link-local IPv6 needs its zone to be usable: fe80::1%eth0.
      const address = a.family === 'IPv6' && a.address.startsWith('fe80') ? `${a.address}%${iface}` : a.address;
      out.push({ address, family: a.family as 'IPv4' | 'IPv6', iface });
    }
  }
  return out;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
