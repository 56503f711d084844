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
  /** A mirror's URL names its scheme, and only that one is used (`http://` is plain HTTP, wherever it is). */
  scheme?: 'http' | 'https';
}

/** docker.io's API lives on another host than its name. */
const dockerHubHost = 'registry-1.docker.io';

export function resolveEndpoint(domain: string, insecureRegistries: readonly string[] = []): Endpoint {
  const host = domain === 'docker.io' ? dockerHubHost : domain;
  return { name: domain, host, insecure: isInsecure(host, insecureRegistries) };
}

/**
 * Where a pull of a `domain` image goes, in order: for docker.io, the daemon's `registry-mirrors` first, then the
 * registry itself (pushes never use mirrors). A mirror keeps the reference's name: credentials, repo digests and
 * layer locations are docker.io's.
 */
export function pullEndpoints(domain: string, insecureRegistries: readonly string[] = [], mirrors: readonly string[] = []): Endpoint[] {
  const own = resolveEndpoint(domain, insecureRegistries);
  if (domain !== 'docker.io') return [own];
  return [
    ...mirrors.map((m): Endpoint => {
      const url = new URL(m);
      return { name: domain, host: url.host, insecure: isInsecure(url.host, insecureRegistries), scheme: url.protocol === 'http:' ? 'http' : 'https' };
    }),
    own,
  ];
}

/**
 * A `registry-mirrors` entry, checked and normalised as dockerd does (the same rules and messages): an http(s)
 * URL of a registry's root, no credentials; it ends with one `/`.
 */
export function validateMirror(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`invalid mirror: ${JSON.stringify(value)} is not a valid URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`invalid mirror: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${JSON.stringify(value)}`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new Error(`invalid mirror: path, query, or fragment at end of the URI ${JSON.stringify(value)}`);
  }
  if (url.username || url.password) throw new Error(`invalid mirror: username/password not allowed in URI ${JSON.stringify(`${url.protocol}//${url.username}:xxxxx@${url.host}/`)}`);
  return `${value.replace(/\/+$/, '')}/`;
}

/** `GET /info`'s RegistryConfig, as dockerd's. */
export interface RegistryServiceConfig {
  AllowNondistributableArtifactsCIDRs: string[];
  AllowNondistributableArtifactsHostnames: string[];
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>;
  Mirrors: string[];
}

/**
 * The daemon's registry settings as `info` reports them: loopback and CIDR entries are insecure ranges, host
 * entries insecure indexes, and docker.io's index lists the mirrors.
 */
export function registryServiceConfig(insecureRegistries: readonly string[], mirrors: readonly string[]): RegistryServiceConfig {
  const cidrs = insecureRegistries.filter((e) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(e));
  const hosts = insecureRegistries.filter((e) => !cidrs.includes(e)).map((e) => e.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  return {
    AllowNondistributableArtifactsCIDRs: [],
    AllowNondistributableArtifactsHostnames: [],
    InsecureRegistryCIDRs: ['127.0.0.0/8', ...cidrs.filter((c) => c !== '127.0.0.0/8')],
    IndexConfigs: {
      'docker.io': { Name: 'docker.io', Mirrors: [...mirrors], Secure: true, Official: true },
      ...Object.fromEntries(hosts.map((h) => [h, { Name: h, Mirrors: [], Secure: false, Official: false }])),
    },
    Mirrors: [...mirrors],
  };
}

function isInsecure(host: string, insecureRegistries: readonly string[]): boolean {
  return isLoopback(hostname(host)) || insecureRegistries.some((e) => matches(e, host));
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
