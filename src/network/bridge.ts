// The bridge driver: a Linux bridge per network with its gateway address, a network namespace per container
// (a file under /run/netns, so it outlives berthd and can be joined by the runtime and by `container:` modes), and
// a veth pair per endpoint, its host end on the bridge. All through iproute2: host-side changes through one
// long-lived `ip -batch`, and one `ip -n` per attachment inside the container's namespace.
import { access, readFile } from 'node:fs/promises';
import { Internal } from '../errors/index.js';
import { IpSession, ipBatch, linkExists, netnsDir, netnsNamed, nft, runWithInput, setIpv4Sysctl } from '../kernel/net.js';

/**
 * The containers' namespaces of one daemon: `<prefix><container id>` under /run/netns (`berth-<id>` for the
 * default daemon); names of any other shape are not its own. Host-side changes go through one long-lived `ip`
 * (IpSession): making a namespace, a veth and deleting a namespace cost a couple of milliseconds, no process.
 */
/** The host side's `ip` (bridges, namespaces, veths): one long-lived process, shared. */
const hostIp = new IpSession();

export class Sandboxes {
  private readonly host = hostIp;

  constructor(private readonly prefix: string) {}

  name(containerId: string): string {
    return `${this.prefix}${containerId}`;
  }

  path(containerId: string): string {
    return `${netnsDir}/${this.name(containerId)}`;
  }

  /** An empty namespace for the container (only loopback, down): the runtime can join it at once. */
  async create(containerId: string): Promise<void> {
    await this.host.run([`netns add ${this.name(containerId)}`]);
  }

  /**
   * The container's endpoints: veths with their host ends on their bridges, then, inside, addresses, routes and
   * loopback (one `ip -n`), and `resolverRules` (nftables, for the 127.0.0.11 resolver) alongside.
   */
  async plumb(containerId: string, endpoints: EndpointSpec[], o: { loopback: boolean; resolverRules?: string }): Promise<void> {
    const ns = this.name(containerId);
    await this.host.run(endpoints.flatMap((e) => [`link add ${e.hostIfname} mtu ${e.mtu} type veth peer name ${e.ifname} mtu ${e.mtu} netns ${ns}`, `link set ${e.hostIfname} master ${e.bridge} up`]));
    await Promise.all([
      ipBatch([
        ...(o.loopback ? ['link set lo up'] : []),
        ...endpoints.flatMap((e) => [
          `link set ${e.ifname} address ${e.mac}`,
          `addr add ${e.ip}/${e.prefix} dev ${e.ifname}`,
          `link set ${e.ifname} up`,
          ...(e.defaultGateway ? [`route replace default via ${e.defaultGateway.ip} dev ${e.ifname} mtu ${e.defaultGateway.mtu}`] : []),
        ]),
      ], { netns: ns }),
      o.resolverRules ? nft(o.resolverRules, { netnsPath: this.path(containerId) }) : undefined,
    ]);
  }

  /** Removes one endpoint from a running container (`network disconnect`); its host end goes with it. */
  async detachEndpoint(containerId: string, ifname: string): Promise<void> {
    await ipBatch([`link del ${ifname}`], { netns: this.name(containerId) });
  }

  /**
   * Deletes the container's namespace, if there is one, with its veths. The kernel would remove them with the
   * namespace, but later, in the background: they are deleted first, so that a start right after (a restart) can
   * make the same names again.
   */
  async destroy(containerId: string, hostIfnames: string[] = []): Promise<void> {
    if (!(await access(this.path(containerId)).then(() => true, () => false))) return;
    const present = (await Promise.all(hostIfnames.map(async (n) => ((await linkExists(n)) ? n : undefined)))).filter((n) => n !== undefined);
    await this.host.run([...present.map((n) => `link del ${n}`), `netns del ${this.name(containerId)}`]).catch((e: unknown) => {
      throw new Internal(`network namespace not removed: ${(e as Error).message}`, { cause: e });
    });
  }

  /** Removes the namespaces of containers not in `keep` (left by a crash or an unclean stop). */
  async sweep(keep: Set<string>): Promise<string[]> {
    const own = new RegExp(`^${this.prefix.replace(/[.-]/g, '\\$&')}([0-9a-f]{64})$`);
    const stale = (await netnsNamed(this.prefix)).filter((n) => own.exec(n) && !keep.has((own.exec(n) as RegExpExecArray)[1] as string));
    await this.destroyNamespaces(stale);
    return stale;
  }

  private async destroyNamespaces(names: string[]): Promise<void> {
    if (!names.length) return;
    await this.host.run(names.map((n) => `netns del ${n}`)).catch((e: unknown) => {
      throw new Internal(`network namespaces not removed: ${(e as Error).message}`, { cause: e });
    });
  }
}

export interface BridgeSpec {
  bridge: string;
  gateway: string;
  prefix: number;
  /**
   * The MTU inside the network. Berth's default is jumbo (see `jumboMtu`): traffic between containers and with the
   * host crosses no wire, and per-packet cost is what limits it; the way out keeps the uplink's MTU through the
   * containers' default routes.
   */
  mtu: number;
}

/** The MTU of Berth's bridges unless a network says otherwise: loopback's order of size (veths allow 65535). */
export const jumboMtu = 65520;

export interface EndpointSpec {
  /** Name inside the container (eth0, eth1, …). */
  ifname: string;
  /** Name of the host end (≤ 15 characters). */
  hostIfname: string;
  bridge: string;
  ip: string;
  prefix: number;
  mac: string;
  /** The link's MTU: the network's (see BridgeSpec.mtu). */
  mtu: number;
  /** Set on the endpoint that carries the default route, with the MTU of the way out of the host. */
  defaultGateway?: { ip: string; mtu: number };
}

/** The host end of a container's endpoint: `bv`, ten characters of the container ID, the endpoint's number. */
export const hostIfname = (containerId: string, n: number) => `bv${containerId.slice(0, 10)}${n.toString(16).padStart(2, '0')}`;

/**
 * Makes the bridge if it is missing, with its gateway address. Loopback sources may be routed onto it (published
 * ports reached from the host's own 127.0.0.1), and the host forwards IPv4.
 */
export async function ensureBridge(b: BridgeSpec): Promise<void> {
  if (!(await linkExists(b.bridge))) {
    await hostIp.run([`link add ${b.bridge} mtu ${b.mtu} type bridge`, `addr replace ${b.gateway}/${b.prefix} dev ${b.bridge}`, `link set ${b.bridge} up`]).catch(async (e: unknown) => {
      if (!(await linkExists(b.bridge))) throw e; // made by a concurrent call
    });
  }
  await Promise.all([setIpv4Sysctl(`conf/${b.bridge}/route_localnet`, '1'), setIpv4Sysctl('ip_forward', '1')]);
}

/** The MTU of the interface the host's default route leaves by (1500 when it has none). */
export async function uplinkMtu(): Promise<number> {
  const dev = /\bdev (\S+)/.exec(await runWithInput('ip', ['-4', 'route', 'show', 'default'], '').catch(() => ''))?.[1];
  const mtu = dev ? Number((await readFile(`/sys/class/net/${dev}/mtu`, 'utf8').catch(() => '')).trim()) : NaN;
  return mtu > 0 ? mtu : 1500;
}

export async function removeBridge(name: string): Promise<void> {
  if (await linkExists(name)) await hostIp.run([`link del ${name}`]);
}
