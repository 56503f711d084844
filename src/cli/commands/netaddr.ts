// The address parsing docker's CLI does with Go's net package: which IPs, CIDRs and MACs it takes, and how it
// prints them, so the CLI refuses (and accepts) the same flag values docker does.
import { isIPv4 } from 'node:net';

/** net.ParseIP: 4 bytes for IPv4, 16 for IPv6; undefined for anything else (zones, leading zeros, names). */
export function parseIP(s: string): Uint8Array | undefined {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number)); // node's check refuses leading zeros, as Go does
  return parseIPv6(s);
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes('.')) {
        // an embedded IPv4 address, only as the last two groups
        if (!isIPv4(f)) return undefined;
        const [a, b, c, d] = f.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
      out.push(parseInt(f, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** IP.To4: the IPv4 form of a 4-byte or IPv4-mapped 16-byte address. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  if (ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12);
  return undefined;
}

/** IP.String: dotted IPv4 (also for IPv4-mapped IPv6), else RFC 5952 (the longest run of zero groups as `::`). */
export function formatIP(ip: Uint8Array): string {
  const v4 = to4(ip);
  if (v4) return [...v4].join('.');
  const g = Array.from({ length: 8 }, (_, i) => (ip[2 * i]! << 8) | ip[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export interface Cidr {
  ip: Uint8Array;
  bits: number;
}

/** net.ParseCIDR; throws Go's `invalid CIDR address: s`. */
export function parseCIDR(s: string): Cidr {
  const slash = s.indexOf('/');
  const fail = () => new Error(`invalid CIDR address: ${s}`);
  if (slash < 0) throw fail();
  const ip = parseIP(s.slice(0, slash));
  const mask = s.slice(slash + 1);
  if (!ip || !/^\d+$/.test(mask)) throw fail();
  const bits = Number(mask);
  if (bits > ip.length * 8) throw fail();
  return { ip, bits };
}

/** IPNet.Contains: the same family (an IPv4-mapped address counts as IPv4) and the same leading bits. */
export function cidrContains(net: Cidr, ip: Uint8Array): boolean {
  const n = to4(net.ip) ?? net.ip;
  // an IPv4-mapped network keeps only the IPv4 part of its mask
  const bits = n.length < net.ip.length ? Math.max(0, net.bits - 96) : net.bits;
  const x = to4(ip) ?? ip;
  if (x.length !== n.length) return false;
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((x[bit >> 3]! & mask) !== (n[bit >> 3]! & mask)) return false;
  }
  return true;
}

/** net.ParseMAC's accepted spellings: 6, 8 or 20 octets, `:`/`-` separated pairs or `.` separated quads. */
export function isMAC(s: string): boolean {
  const pairs = /^[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2})+$/.exec(s);
  if (pairs) {
    const parts = s.split(pairs[1]!);
    return [6, 8, 20].includes(parts.length);
  }
  if (/^[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4})+$/.test(s)) return [3, 4, 10].includes(s.split('.').length);
  return false;
}

/**
 * net.SplitHostPort's checks for a bracketed host (`[::1]:`), as docker's port parser uses it; returns the host or
 * Go's error text (`address [::1:: missing ']' in address`).
 */
export function splitBracketedHost(hostport: string): { host: string } | { error: string } {
  const err = (why: string) => ({ error: `address ${hostport}: ${why}` });
  const last = hostport.lastIndexOf(':');
  if (last < 0) return err('missing port in address');
  const end = hostport.indexOf(']');
  if (end < 0) return err("missing ']' in address");
  if (end + 1 === hostport.length) return err('missing port in address');
  if (end + 1 !== last) return err(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
  if (hostport.indexOf('[', 1) >= 0) return err("unexpected '[' in address");
  if (hostport.indexOf(']', end + 1) >= 0) return err("unexpected ']' in address");
  return { host: hostport.slice(1, end) };
}
