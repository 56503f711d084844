// IPv4 address management: subnets, gateways, and the addresses handed to endpoints. Pure logic; what is in use
// is persisted by its owners (the container records), and rebuilt from them when berthd starts.
import { Conflict, InvalidArgument } from '../errors/index.js';

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((a, p) => a * 256 + p, 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Cidr {
  /** The network address (host bits cleared). */
  base: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr | undefined {
  const [ip = '', len, ...rest] = s.split('/');
  const addr = parseIPv4(ip);
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (addr === undefined || rest.length || !(prefix >= 0 && prefix <= 32)) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: addr - (addr % size), prefix };
}

export const cidrSize = (c: Cidr) => 2 ** (32 - c.prefix);
export const formatCidr = (c: Cidr) => `${formatIPv4(c.base)}/${c.prefix}`;
export const contains = (c: Cidr, ip: number) => ip >= c.base && ip < c.base + cidrSize(c);
export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);

/**
 * Where new networks take their subnets when none is given: Docker's default pools (172.17–31.0.0/16, then
 * 192.168.0–240.0/20), without 172.17.0.0/16, docker0's, so that Berth and Docker can share a host.
 */
export function* defaultPools(): Generator<Cidr> {
  for (let b = 18; b <= 31; b++) yield { base: (172 * 256 + b) * 65536, prefix: 16 };
  for (let c = 0; c <= 240; c += 16) yield { base: ((192 * 256 + 168) * 256 + c) * 256, prefix: 20 };
}

/** The first default pool that overlaps none of `taken` (the host's routes and the other networks' subnets). */
export function freeSubnet(taken: Cidr[]): Cidr {
  for (const pool of defaultPools()) if (!taken.some((t) => overlaps(t, pool))) return pool;
  throw new Conflict('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/**
 * The addresses of one subnet: the network and broadcast addresses and the gateway are never handed out; new
 * addresses come from `range` (`--ip-range`, the whole subnet by default), after the last one given, as
 * libnetwork does, so that a released address is not reused at once.
 */
export class AddressPool {
  private readonly used = new Map<number, string>();
  private last: number;

  constructor(
    readonly subnet: Cidr,
    readonly gateway: number,
    readonly range: Cidr = subnet,
  ) {
    this.last = range.base - 1; // the range's first address comes first (the network address never does)
  }

  /** `wanted` (a static address) or the next free one, recorded for `owner`. */
  allocate(owner: string, wanted?: string): string {
    if (wanted !== undefined) {
      const ip = parseIPv4(wanted);
      if (ip === undefined || !contains(this.subnet, ip)) throw new InvalidArgument(`Invalid address ${wanted}: It does not belong to any of this network's subnets`);
      if (!this.usable(ip, this.subnet)) throw new InvalidArgument(`Address ${wanted} is not usable in ${formatCidr(this.subnet)}`);
      const holder = this.used.get(ip);
      if (holder !== undefined && holder !== owner) throw new Conflict(`Address already in use: ${wanted}`);
      this.used.set(ip, owner);
      return wanted;
    }
    const size = cidrSize(this.range);
    for (let i = 1; i <= size; i++) {
      const ip = this.range.base + ((this.last - this.range.base + i) % size);
      if (this.usable(ip, this.range) && !this.used.has(ip)) {
        this.used.set(ip, owner);
        this.last = ip;
        return formatIPv4(ip);
      }
    }
    throw new Conflict(`no available IPv4 addresses on this network's address pools: ${formatCidr(this.range)}`);
  }

  /** An address already given (found in a record at start-up): kept for its owner. */
  reserve(ip: string, owner: string): void {
    const n = parseIPv4(ip);
    if (n !== undefined) this.used.set(n, owner);
  }

  release(ip: string, owner: string): void {
    const n = parseIPv4(ip);
    if (n !== undefined && this.used.get(n) === owner) this.used.delete(n);
  }

  inUse(): number {
    return this.used.size;
  }

  private usable(ip: number, within: Cidr): boolean {
    const first = this.subnet.base;
    const lastAddr = this.subnet.base + cidrSize(this.subnet) - 1;
    return contains(within, ip) && ip !== this.gateway && (this.subnet.prefix >= 31 || (ip !== first && ip !== lastAddr));
  }
}

/** A MAC address derived from the IPv4 address, as Docker does (02:42 and the four address bytes). */
export function macFor(ip: string): string {
  const n = parseIPv4(ip) ?? 0;
  return ['02', '42', ...[24, 16, 8, 0].map((s) => (Math.floor(n / 2 ** s) % 256).toString(16).padStart(2, '0'))].join(':');
}
