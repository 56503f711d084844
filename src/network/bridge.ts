// The bridge driver: a Linux bridge per network with its gateway address, a network namespace per container
// (a file under /run/netns, so it outlives berthd and can be joined by the runtime and by `container:` modes), and
// a veth pair per endpoint, its host end on the bridge. All through iproute2 batches: a container's attachment is
// two `ip` processes, one per namespace.
import { access } from 'node:fs/promises';
import { Internal } from '../errors/index.js';
import { ipBatch, linkExists, netnsDir, netnsNamed, nft, setIpv4Sysctl } from '../kernel/net.js';

/**
 * The containers' namespaces of one daemon: `<prefix><container id>` under /run/netns (`berth-<id>` for the
 * default daemon); names of any other shape are not its own.
 */
export class Sandboxes {
  constructor(private readonly prefix: string) {}

  name(containerId: string): string {
    return `${this.prefix}${containerId}`;
  }

  path(containerId: string): string {
    return `${netnsDir}/${this.name(containerId)}`;
  }

  /**
   * Creates the container's namespace (when `create`) and its endpoints. `resolverRules` (nftables, for the
   * 127.0.0.11 resolver) are loaded in the namespace alongside.
   */
  async attach(containerId: string, endpoints: EndpointSpec[], o: { create: boolean; resolverRules?: string }): Promise<void> {
    const ns = this.name(containerId);
    await ipBatch([
      ...(o.create ? [`netns add ${ns}`] : []),
      ...endpoints.flatMap((e) => [`link add ${e.hostIfname} type veth peer name ${e.ifname} netns ${ns}`, `link set ${e.hostIfname} master ${e.bridge} up`]),
    ]);
    await Promise.all([
      ipBatch([
        ...(o.create ? ['link set lo up'] : []),
        ...endpoints.flatMap((e) => [
          `link set ${e.ifname} address ${e.mac}`,
          `addr add ${e.ip}/${e.prefix} dev ${e.ifname}`,
          `link set ${e.ifname} up`,
          ...(e.defaultGateway ? [`route replace default via ${e.defaultGateway} dev ${e.ifname}`] : []),
        ]),
      ], { netns: ns }),
      o.resolverRules ? nft(o.resolverRules, { netnsPath: this.path(containerId) }) : undefined,
    ]);
  }

  /** Removes one endpoint from a running container (`network disconnect`); its host end goes with it. */
  async detachEndpoint(containerId: string, ifname: string): Promise<void> {
    await ipBatch([`link del ${ifname}`], { netns: this.name(containerId) });
  }

  /** Deletes the container's namespace, if there is one; the kernel removes its veths (and their host ends) with it. */
  async destroy(containerId: string): Promise<void> {
    if (await access(this.path(containerId)).then(() => true, () => false)) await destroyNamespaces([this.name(containerId)]);
  }

  /** Removes the namespaces of containers not in `keep` (left by a crash or an unclean stop). */
  async sweep(keep: Set<string>): Promise<string[]> {
    const own = new RegExp(`^${this.prefix.replace(/[.-]/g, '\\$&')}([0-9a-f]{64})$`);
    const stale = (await netnsNamed(this.prefix)).filter((n) => own.exec(n) && !keep.has((own.exec(n) as RegExpExecArray)[1] as string));
    await destroyNamespaces(stale);
    return stale;
  }
}

export interface BridgeSpec {
  bridge: string;
  gateway: string;
  prefix: number;
}

export interface EndpointSpec {
  /** Name inside the container (eth0, eth1, …). */
  ifname: string;
  /** Name of the host end (≤ 15 characters). */
  hostIfname: string;
  bridge: string;
  ip: string;
  prefix: number;
  mac: string;
  /** Set on the endpoint that carries the default route. */
  defaultGateway?: string;
}

/** The host end of a container's endpoint: `bv`, ten characters of the container ID, the endpoint's number. */
export const hostIfname = (containerId: string, n: number) => `bv${containerId.slice(0, 10)}${n.toString(16).padStart(2, '0')}`;

/**
 * Makes the bridge if it is missing, with its gateway address. Loopback sources may be routed onto it (published
 * ports reached from the host's own 127.0.0.1), and the host forwards IPv4.
 */
export async function ensureBridge(b: BridgeSpec): Promise<void> {
  if (!(await linkExists(b.bridge))) {
    await ipBatch([`link add ${b.bridge} type bridge`, `addr replace ${b.gateway}/${b.prefix} dev ${b.bridge}`, `link set ${b.bridge} up`]).catch(async (e: unknown) => {
      if (!(await linkExists(b.bridge))) throw e; // made by a concurrent call
    });
  }
  await Promise.all([setIpv4Sysctl(`conf/${b.bridge}/route_localnet`, '1'), setIpv4Sysctl('ip_forward', '1')]);
}

export async function removeBridge(name: string): Promise<void> {
  if (await linkExists(name)) await ipBatch([`link del ${name}`]);
}

async function destroyNamespaces(names: string[]): Promise<void> {
  if (!names.length) return;
  await ipBatch(names.map((n) => `netns del ${n}`), { force: true }).catch((e: unknown) => {
    throw new Internal(`network namespaces not removed: ${(e as Error).message}`, { cause: e });
  });
}
