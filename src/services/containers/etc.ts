// What dockerd puts in every container besides the image: an "init layer" of mountpoints (so the runtime creates
// none in the container's own layer, and `diff`/`commit` stay clean), and the /etc/hostname, /etc/hosts and
// /etc/resolv.conf it bind-mounts from the container's directory, rewritten at each start.
import { lstat, mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import type { SpecMount } from '../../runtime/index.js';

/** The container's own copies of the files dockerd bind-mounts into /etc. */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

export function etcFiles(containerDir: string): EtcFiles {
  return { hostname: join(containerDir, 'hostname'), hosts: join(containerDir, 'hosts'), resolvConf: join(containerDir, 'resolv.conf') };
}

export type InitLayerKind = 'etc' | 'no-etc';

/**
 * Docker's init layer (moby daemon/initlayer): mountpoints for /proc, /sys, /dev/pts, /dev/shm and the /etc files,
 * /.dockerenv, and /etc/mtab → /proc/mounts. The /etc entries are left out when the image's /etc is not a plain
 * directory (a directory here would hide a symlinked /etc): the runtime then makes its mountpoints, inside the root.
 *
 * dockerd writes one per container; its content never varies, so Berth makes each kind once under `root` and every
 * container shares it as a read-only lower layer (a dozen metadata writes cost ~10 ms on a slow disk).
 */
export class InitLayers {
  private readonly made = new Map<InitLayerKind, Promise<void>>();
  constructor(private readonly root: string) {}

  path(kind: InitLayerKind): string {
    return join(this.root, kind);
  }

  /** The kind an image needs, made if it is not there yet. */
  async forImage(imageLayers: string[]): Promise<InitLayerKind> {
    const kind: InitLayerKind = (await imageEtcIsDirectory(imageLayers)) ? 'etc' : 'no-etc';
    let made = this.made.get(kind);
    if (!made) {
      made = this.make(kind);
      this.made.set(kind, made);
      made.catch(() => this.made.delete(kind));
    }
    await made;
    return kind;
  }

  /** Built aside and renamed into place, so a crash never leaves a half-made layer in use. */
  private async make(kind: InitLayerKind): Promise<void> {
    const dir = this.path(kind);
    if (await stat(dir).then(() => true, () => false)) return;
    // What an earlier daemon left half-made when it died.
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (name.startsWith(`${kind}.tmp-`)) await rm(join(this.root, name), { recursive: true, force: true });
    }
    const tmp = `${dir}.tmp-${process.pid}`;
    const withEtc = kind === 'etc';
    await Promise.all(['proc', 'sys', 'dev/pts', 'dev/shm', ...(withEtc ? ['etc'] : [])].map((d) => mkdir(join(tmp, d), { recursive: true, mode: 0o755 })));
    await Promise.all([
      ...['.dockerenv', 'dev/console', ...(withEtc ? ['etc/resolv.conf', 'etc/hosts', 'etc/hostname'] : [])].map((f) => writeFile(join(tmp, f), '', { mode: 0o755 })),
      ...(withEtc ? [symlink('/proc/mounts', join(tmp, 'etc', 'mtab'))] : []),
    ]);
    await rename(tmp, dir);
  }
}

/** Whether /etc in the image (its topmost layer that has one; top first) is a directory. */
async function imageEtcIsDirectory(layers: string[]): Promise<boolean> {
  for (const layer of layers) {
    const st = await lstat(join(layer, 'etc')).catch(() => undefined);
    if (st) return st.isDirectory();
  }
  return true; // no /etc at all: the init layer's is the only one
}

export interface EtcOptions {
  hostname: string;
  domainname?: string;
  networkMode: string;
  /** The container's address on its first network: /etc/hosts maps its hostname to it. */
  ip?: string;
  /** Docker's resolver address on user-defined networks (127.0.0.11), instead of the host's nameservers. */
  resolver?: string;
  /** `--link` lines for /etc/hosts. */
  links?: string[];
  /** `--add-host` lines for /etc/hosts. */
  extraHosts?: string[];
  /** `--dns`, `--dns-search`, `--dns-option`: each replaces the host's kind in /etc/resolv.conf. */
  dns?: { nameservers: string[]; search: string[]; options: string[] };
}

/** Writes the container's hostname, hosts and resolv.conf files as dockerd would for its network mode. */
export async function writeEtcFiles(containerDir: string, o: EtcOptions): Promise<EtcFiles> {
  const files = etcFiles(containerDir);
  const host = o.networkMode === 'host';
  const hosts = host ? readFile('/etc/hosts', 'utf8').catch(() => defaultHosts) : defaultHosts;
  const self = o.ip ? [`${o.ip}\t${o.domainname ? `${o.hostname}.${o.domainname} ` : ''}${o.hostname}`] : [];
  const extra = [...(o.extraHosts ?? []), ...(o.links ?? []), ...self].map((l) => `${l}\n`).join('');
  await Promise.all([
    writeFile(files.hostname, `${host ? hostHostname() : o.hostname}\n`),
    writeFile(files.hosts, (await hosts) + extra),
    writeFile(files.resolvConf, await resolvConf(host, o.dns, o.resolver)),
  ]);
  return files;
}

const defaultHosts = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
].join('\n') + '\n';

/**
 * The host's resolv.conf as dockerd adapts it: on a private network the host's loopback nameservers (unreachable
 * from the container) are dropped, and Google's public ones are used if none is left. `--dns`, `--dns-search` and
 * `--dns-option` each replace the host's lines of their kind (`.` as the search domain means none).
 */
async function resolvConf(hostNetwork: boolean, dns: EtcOptions['dns'], resolver?: string): Promise<string> {
  const lines = (await readFile('/etc/resolv.conf', 'utf8').catch(() => '')).split('\n');
  const field = (l: string) => l.trim().split(/\s+/)[0] ?? '';
  let nameservers = lines.filter((l) => field(l) === 'nameserver').map((l) => l.trim().split(/\s+/)[1] ?? '');
  if (!hostNetwork) nameservers = nameservers.filter((n) => !/^127\.|^::1$/.test(n));
  if (nameservers.length === 0) nameservers = ['8.8.8.8', '8.8.4.4'];
  if (dns?.nameservers.length) nameservers = dns.nameservers;
  // On user-defined networks the resolver answers container names and forwards the rest to the host's servers.
  if (resolver) nameservers = [resolver];
  let search = lines.filter((l) => ['search', 'domain'].includes(field(l)));
  if (dns?.search.length) search = dns.search.filter((d) => d !== '.').length ? [`search ${dns.search.filter((d) => d !== '.').join(' ')}`] : [];
  const options = dns?.options.length ? [`options ${dns.options.join(' ')}`] : resolver ? ['options ndots:0'] : lines.filter((l) => field(l) === 'options');
  return [...search, ...nameservers.map((n) => `nameserver ${n}`), ...options].join('\n') + '\n';
}

/** The bind mounts of the /etc files, read-only with a read-only rootfs as dockerd does. */
export function etcMounts(files: EtcFiles, readonly: boolean): SpecMount[] {
  const options = ['rbind', 'rprivate', ...(readonly ? ['ro'] : [])];
  return [
    { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options },
    { destination: '/etc/hostname', type: 'bind', source: files.hostname, options },
    { destination: '/etc/hosts', type: 'bind', source: files.hosts, options },
  ];
}
