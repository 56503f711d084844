// Name resolution on user-defined networks, by Podman's aardvark-dns: one server process for all networks,
// listening on each network's gateway, configured by one file per network (the gateway on the first line, then
// `<container id> <ipv4> <ipv6> <name,alias,…>` per endpoint) and reloaded by SIGHUP; names it does not know
// go to the host's resolvers. Containers reach it as Docker's do, at 127.0.0.11 (see `containerResolverRules`).
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Internal } from '../errors/index.js';
import { coalesced } from '../util/coalesce.js';
import type { Logger } from '../util/logger.js';

/** Docker's embedded DNS address, as containers see it. */
export const containerResolver = '127.0.0.11';

export interface DnsEndpoint {
  containerId: string;
  ip: string;
  /** Container name, network aliases, short ID: what resolves to `ip` on this network. */
  names: string[];
  /** `--dns`: where this container's other queries go (the host's resolvers otherwise). */
  dnsServers?: string[];
}

export interface DnsNetwork {
  /** The file name: the network's ID (names may change meaning across removals; IDs do not). */
  id: string;
  gateway: string;
  endpoints: DnsEndpoint[];
}

export class NameServer {
  readonly sync: () => Promise<void>;
  private readonly dir: string;
  private readonly staging: string;

  constructor(
    root: string,
    private readonly binary: string,
    state: () => DnsNetwork[],
    private readonly log: Logger,
  ) {
    this.dir = join(root, 'aardvark-dns');
    this.staging = join(root, 'aardvark-dns.staging');
    this.sync = coalesced(() => this.write(state()));
  }

  /** Writes every network's file (each replaced whole, by rename, since the server reads the directory), then reloads. */
  private async write(networks: DnsNetwork[]): Promise<void> {
    await Promise.all([mkdir(this.dir, { recursive: true }), mkdir(this.staging, { recursive: true })]);
    const wanted = new Map(networks.filter((n) => n.endpoints.length).map((n) => [n.id, fileFor(n)]));
    const present = (await readdir(this.dir)).filter((f) => f !== pidFile);
    for (const [id, text] of wanted) {
      if ((await readFile(join(this.dir, id), 'utf8').catch(() => '')) === text) continue;
      await writeFile(join(this.staging, id), text);
      await rename(join(this.staging, id), join(this.dir, id));
    }
    await Promise.all(present.filter((f) => !wanted.has(f)).map((f) => rm(join(this.dir, f), { force: true })));
    await this.reload();
    // The server binds gateways after its reload (or start), and a container started before that would have its
    // first queries refused: wait until each served network's gateway is bound.
    if (wanted.size) await this.listening(networks.filter((n) => wanted.has(n.id)).map((n) => n.gateway));
  }

  /** Signals the running server to reload its directory, or starts one. With no network left it exits by itself. */
  private async reload(): Promise<void> {
    const pid = await this.serverPid();
    if (pid) process.kill(pid, 'SIGHUP');
    else if ((await readdir(this.dir)).some((f) => f !== pidFile)) await this.start();
  }

  /**
   * Waits (a bounded while) until the server's UDP sockets on `gateways` port 53 are bound, as the kernel lists
   * them. A server found exiting (its last network had just gone when the new one came) is started again, and one
   * that missed a gateway (not yet up when it reloaded) is asked to reload again.
   */
  private async listening(gateways: string[]): Promise<void> {
    const wanted = new Set(gateways.map((g) => `${procAddress(g)}:0035`));
    for (let i = 1; wanted.size && i <= 100; i++) {
      const table = await readFile('/proc/net/udp', 'utf8');
      for (const line of table.split('\n').slice(1)) wanted.delete(line.trim().split(/\s+/)[1] ?? '');
      if (!wanted.size) return;
      await new Promise((r) => setTimeout(r, 20));
      if (i % 20 === 0) await this.reload();
    }
    this.log.warn('aardvark-dns has not bound every gateway after its reload', { missing: [...wanted] });
  }

  /** The running server's PID, from its pid file (it outlives berthd, like the containers it serves). */
  private async serverPid(): Promise<number | undefined> {
    const pid = Number((await readFile(join(this.dir, pidFile), 'utf8').catch(() => '')).trim());
    if (!(pid > 0)) return undefined;
    try {
      process.kill(pid, 0);
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      return comm.startsWith('aardvark') ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** aardvark-dns daemonizes: its first process returns once the server listens. */
  private start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.binary, ['--config', this.dir, '-p', '53', 'run'], { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('error', (e) => reject(new Internal(`aardvark-dns: ${e.message}`, { cause: e })));
      child.on('close', (code) => {
        // It complains that it has no syslog on hosts without one: noise, not a failure.
        if (code === 0) resolve();
        else reject(new Internal(`aardvark-dns did not start: ${err.trim() || `exit status ${code}`}`));
      });
    }).then(() => this.log.debug('aardvark-dns started'));
  }
}

const pidFile = 'aardvark.pid';

/** An IPv4 address as /proc/net/udp prints it: the 32-bit value in host (little-endian) byte order, in hex. */
function procAddress(ip: string): string {
  return ip.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase()).join('');
}

function fileFor(n: DnsNetwork): string {
  const line = (e: DnsEndpoint) => `${e.containerId} ${e.ip}  ${[...new Set(e.names)].join(',')}${e.dnsServers?.length ? ` ${e.dnsServers.join(',')}` : ''}`;
  return [n.gateway, ...n.endpoints.map(line)].join('\n') + '\n';
}

/**
 * In a container's namespace: queries to 127.0.0.11:53 go to the server on `gateway`. The source must change too
 * (a loopback source cannot leave the namespace), and routing a loopback destination elsewhere needs
 * route_localnet, set by the caller.
 */
export function containerResolverRules(gateway: string): string {
  return [
    'table ip berth-dns {',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    `    ip daddr ${containerResolver} udp dport 53 dnat to ${gateway}:53`,
    `    ip daddr ${containerResolver} tcp dport 53 dnat to ${gateway}:53`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr 127.0.0.0/8 ip daddr ${gateway} masquerade`,
    '  }',
    '}',
  ].join('\n') + '\n';
}
