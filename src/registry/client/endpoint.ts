import { isIP } from 'node:net';

/** Where a registry named in a reference is reached. */
export interface Endpoint {
  /** The name in references (`docker.io`, `127.0.0.1:5000`): what credentials and repo digests are keyed by. */
  name: string;
  /** host[:port] actually dialled (`registry-1.docker.io` for docker.io). */
  host: string;
  /**
   * Loopback and `insecure-registries` hosts: HTTPS without certificate checks is tried first and plain HTTP
   * after it, as dockerd does; every other host is HTTPS with verified certificates only.
   */
  insecure: boolean;
}

/** docker.io's API lives on another host than its name. */
const dockerHubHost = 'registry-1.docker.io';

export function resolveEndpoint(domain: string, insecureRegistries: readonly string[] = []): Endpoint {
  const host = domain === 'docker.io' ? dockerHubHost : domain;
  return { name: domain, host, insecure: isLoopback(hostname(host)) || insecureRegistries.some((e) => matches(e, host)) };
}

/** The host without its port (and without IPv6 brackets). */
function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

function isLoopback(name: string): boolean {
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return name === '::1';
}

/** An `insecure-registries` entry: `host[:port]` exactly, or an IPv4 CIDR the host's address falls in. */
function matches(entry: string, host: string): boolean {
  const e = entry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (e === host || e === hostname(host)) return true;
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
  const addr = hostname(host);
  if (!cidr || isIP(addr) !== 4) return false;
  const bits = Number(cidr[2]);
  if (bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipv4(addr) & mask) >>> 0) === ((ipv4(cidr[1] ?? '') & mask) >>> 0);
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}
