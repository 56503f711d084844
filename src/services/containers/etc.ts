// What dockerd puts in every container besides the image: an "init layer" of mountpoints (so the runtime creates
// none in the container's own layer, and `diff`/`commit` stay clean), and the /etc/hostname, /etc/hosts and
// /etc/resolv.conf it bind-mounts from the container's directory, rewritten at each start.
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** Directory of the init layer, the lowest-but-one layer of the container's rootfs (above the image). */
export function initLayerDir(containerDir: string): string {
  return join(containerDir, 'init');
}

/**
 * Docker's init layer (moby daemon/initlayer): mountpoints for /proc, /sys, /dev/pts, /dev/shm and the /etc files,
 * /.dockerenv, and /etc/mtab → /proc/mounts. The /etc entries are left out when the image's /etc is not a plain
 * directory (a directory here would hide a symlinked /etc): the runtime then makes its mountpoints, inside the root.
 */
export function makeInitLayer(containerDir: string, imageLayers: string[]): void {
  // Synchronous: a dozen tiny calls cost less than a round trip each through the thread pool.
  const dir = initLayerDir(containerDir);
  const withEtc = imageEtcIsDirectory(imageLayers);
  for (const d of ['proc', 'sys', 'dev/pts', 'dev/shm', ...(withEtc ? ['etc'] : [])]) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of ['.dockerenv', 'dev/console', ...(withEtc ? ['etc/resolv.conf', 'etc/hosts', 'etc/hostname'] : [])]) writeFileSync(join(dir, f), '', { mode: 0o755 });
  if (withEtc) symlinkSync('/proc/mounts', join(dir, 'etc', 'mtab'));
}

/** Whether /etc in the image (its topmost layer that has one; top first) is a directory. */
function imageEtcIsDirectory(layers: string[]): boolean {
  for (const layer of layers) {
    const st = lstatSync(join(layer, 'etc'), { throwIfNoEntry: false });
    if (st) return st.isDirectory();
  }
  return true; // no /etc at all: the init layer's is the only one
}

export interface EtcOptions {
  hostname: string;
  networkMode: string;
}

/** Writes the container's hostname, hosts and resolv.conf files as dockerd would for its network mode (synchronously, as above). */
export function writeEtcFiles(containerDir: string, o: EtcOptions): EtcFiles {
  const files = etcFiles(containerDir);
  const host = o.networkMode === 'host';
  writeFileSync(files.hostname, `${host ? hostHostname() : o.hostname}\n`);
  writeFileSync(files.hosts, host ? readOr('/etc/hosts', defaultHosts) : defaultHosts);
  writeFileSync(files.resolvConf, resolvConf(host));
  return files;
}

const readOr = (path: string, fallback: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

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
 * from the container) are dropped, and Google's public ones are used if none is left. (`--dns` options come with
 * networking.)
 */
function resolvConf(hostNetwork: boolean): string {
  const lines = readOr('/etc/resolv.conf', '').split('\n');
  const field = (l: string) => l.trim().split(/\s+/)[0] ?? '';
  let nameservers = lines.filter((l) => field(l) === 'nameserver').map((l) => l.trim().split(/\s+/)[1] ?? '');
  if (!hostNetwork) nameservers = nameservers.filter((n) => !/^127\.|^::1$/.test(n));
  if (nameservers.length === 0) nameservers = ['8.8.8.8', '8.8.4.4'];
  const search = lines.filter((l) => ['search', 'domain'].includes(field(l)));
  const options = lines.filter((l) => field(l) === 'options');
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
