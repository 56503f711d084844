// Networks as Docker users see them: the predefined `bridge`, `host` and `none`, user-defined bridge networks,
// and each running container's endpoints on them. Records are persisted (metadata/networks); addresses in use
// live in the records of the containers that hold them and are rebuilt from those at start-up (`adopt`).
import { randomBytes } from 'node:crypto';
import { AlreadyExists, Conflict, Forbidden, InvalidArgument, NotFound } from '../../errors/index.js';
import { hostRoutes } from '../../kernel/net.js';
import type { RecordStore } from '../../metadata/records.js';
import {
  AddressPool,
  type Cidr,
  type DnsNetwork,
  type EndpointSpec,
  Firewall,
  NameServer,
  type PortRequest,
  PortReservations,
  type PublishedPort,
  Sandboxes,
  containerResolverRules,
  contains,
  ensureBridge,
  formatCidr,
  freeSubnet,
  hostIfname,
  jumboMtu,
  macFor,
  overlaps,
  parseCidr,
  parseIPv4,
  removeBridge,
  uplinkMtu,
} from '../../network/index.js';
import type { Logger } from '../../util/logger.js';
import { nowNano } from '../../util/timestamp.js';
import type { EventBus } from '../system/events.js';
import type { Attachment, Endpoint, EndpointConfig, IpamConfig, NetworkRecord, NetworkedContainer, PortMap } from './types.js';

export type * from './types.js';

/** The default daemon's names on the host: its default bridge, its nftables table, its namespaces' prefix. */
export const defaultScope = { bridge: 'berth0', table: 'berth', netnsPrefix: 'berth-' };
/** User-defined networks' bridges: `berth-` and the start of the network's ID. */
const bridgePrefix = 'berth-';

export interface NetworkDeps {
  records: RecordStore<NetworkRecord>;
  log: Logger;
  events: EventBus;
  /** Run-time state (aardvark-dns's configuration). */
  runRoot: string;
  aardvarkPath: string;
  /** `--bip`: the default bridge's gateway address and prefix (`172.20.0.1/16`). */
  bip?: string;
  /** Host names of this daemon's objects (another daemon on the host, a test's, has its own). */
  scope: typeof defaultScope;
}

/** Network create request (the Engine API's NetworkCreateRequest, the fields Berth uses). */
export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** The Engine API's Network object. */
export interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

interface Attached {
  c: NetworkedContainer;
  att: Attachment;
  /** The endpoints being made (see attach). */
  ready?: Promise<void>;
}

const predefined = new Set(['bridge', 'host', 'none']);

export class NetworkService {
  private readonly pools = new Map<string, AddressPool>();
  private readonly attached = new Map<string, Attached>();
  private readonly ports = new PortReservations();
  /** Bridges known to exist (checked once, and again after a failed attachment). */
  private readonly bridgesUp = new Set<string>();
  /** The host's way out: containers' default routes keep to it. */
  private uplinkMtu = 1500;
  private readonly firewall: Firewall;
  /** Networks being removed: left out of the ruleset while their bridges go. */
  private readonly removing = new Set<string>();
  private readonly dns: NameServer;
  private readonly sandboxes: Sandboxes;

  constructor(private readonly d: NetworkDeps) {
    this.sandboxes = new Sandboxes(d.scope.netnsPrefix);
    this.firewall = new Firewall(d.scope.table, () => this.firewallState(), d.log);
    this.dns = new NameServer(d.runRoot, d.aardvarkPath, () => this.dnsState(), d.log);
  }

  // ---- start-up -----------------------------------------------------------------------------------------------

  /** The predefined networks, every bridge, and address pools; containers are adopted next, then `recovered`. */
  async init(): Promise<void> {
    this.uplinkMtu = await uplinkMtu();
    await this.ensurePredefined();
    for (const n of this.d.records.list()) {
      if (n.driver !== 'bridge') continue;
      this.pools.set(n.id, poolOf(n));
      await ensureBridge(bridgeSpec(n));
    }
  }

  /** A container found running at start-up: its addresses and ports are held again. */
  async adopt(c: NetworkedContainer, att: Attachment): Promise<void> {
    for (const [name, e] of Object.entries(att.endpoints)) {
      const n = this.d.records.get(e.NetworkID) ?? this.byName(name);
      if (n) this.pools.get(n.id)?.reserve(e.IPAddress, c.id);
    }
    const requests = portRequestsOf(att.ports);
    await this.ports.reserve(c.id, requests).catch((error: unknown) => this.d.log.warn('published ports not held again', { container: c.id, error }));
    this.attached.set(c.id, { c, att });
  }

  /** After adoption: namespaces of containers not running go, and the ruleset and name servers match the rest. */
  async recovered(): Promise<void> {
    const stale = await this.sandboxes.sweep(new Set(this.attached.keys()));
    if (stale.length) this.d.log.info('removed network namespaces of containers no longer running', { count: stale.length });
    await Promise.all([this.firewall.apply(), this.dns.sync()]);
  }

  /**
   * berthd is stopping. With no container running, the bridges and the nftables table go, so that a stopped
   * engine leaves the host's network as it found it; the records stay and `init` makes them again. With
   * containers running everything stays: they outlive berthd.
   */
  async shutdown(): Promise<void> {
    if (this.attached.size) return;
    for (const n of this.d.records.list()) if (n.bridge) await removeBridge(n.bridge);
    await this.firewall.remove();
    this.bridgesUp.clear();
  }

  private async ensurePredefined(): Promise<void> {
    const have = new Set(this.d.records.list().map((n) => n.name));
    const base = { created: nowNano(), internal: false, attachable: false, options: {}, labels: {} };
    if (!have.has('host')) await this.d.records.put({ ...base, id: newNetworkId(), name: 'host', driver: 'host', ipam: [] });
    if (!have.has('none')) await this.d.records.put({ ...base, id: newNetworkId(), name: 'none', driver: 'null', ipam: [] });
    const wanted = this.d.bip ? bipConfig(this.d.bip) : undefined;
    const current = this.byName('bridge');
    if (current && (!wanted || (current.ipam[0]?.Subnet === wanted.Subnet && current.ipam[0]?.Gateway === wanted.Gateway))) return;
    if (current) await removeBridge(this.d.scope.bridge); // --bip changed: the bridge is made again with the new address
    const ipam = wanted ?? (await this.freeIpam());
    await this.d.records.put({
      ...base,
      id: current?.id ?? newNetworkId(),
      name: 'bridge',
      driver: 'bridge',
      ipam: [ipam],
      bridge: this.d.scope.bridge,
      isDefault: true,
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        'com.docker.network.bridge.name': this.d.scope.bridge,
        'com.docker.network.driver.mtu': String(jumboMtu),
      },
    });
  }

  /** A subnet from the default pools that no host route and no other network uses. */
  private async freeIpam(): Promise<IpamConfig> {
    const taken = [...(await hostRoutes()).map((r) => parseCidr(r)), ...this.d.records.list().flatMap((n) => n.ipam.map((i) => parseCidr(i.Subnet)))].filter((c): c is Cidr => !!c);
    const subnet = freeSubnet(taken);
    return { Subnet: formatCidr(subnet), Gateway: ipAt(subnet, 1) };
  }

  // ---- networks -----------------------------------------------------------------------------------------------

  /** By full ID, exact name, or unique ID prefix, as dockerd looks networks up. */
  resolve(idOrName: string): NetworkRecord {
    const all = this.d.records.list();
    const found = all.find((n) => n.id === idOrName) ?? all.find((n) => n.name === idOrName);
    if (found) return found;
    const byPrefix = idOrName ? all.filter((n) => n.id.startsWith(idOrName)) : [];
    if (byPrefix.length === 1) return byPrefix[0] as NetworkRecord;
    if (byPrefix.length > 1) throw new InvalidArgument(`network ${idOrName} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw new NotFound(`network ${idOrName} not found`);
  }

  /** Whether this is the default `bridge` (no name resolution there, as in Docker). */
  isDefault(networkId: string): boolean {
    return !!this.d.records.get(networkId)?.isDefault;
  }

  private byName(name: string): NetworkRecord | undefined {
    return this.d.records.list().find((n) => n.name === name);
  }

  list(filters: Record<string, string[]> = {}): NetworkRecord[] {
    const unknown = Object.keys(filters).find((k) => !['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'].includes(k));
    if (unknown) throw new InvalidArgument(`invalid filter '${unknown}'`);
    for (const t of filters['type'] ?? []) if (t !== 'custom' && t !== 'builtin') throw new InvalidArgument(`invalid filter: 'type'='${t}'`);
    const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key].some(test);
    return this.d.records
      .list()
      .filter(
        (n) =>
          any('driver', (v) => n.driver === v) &&
          any('id', (v) => n.id.startsWith(v)) &&
          any('name', (v) => n.name.includes(v)) &&
          any('scope', (v) => v === 'local') &&
          any('type', (v) => (v === 'builtin') === predefined.has(n.name)) &&
          any('dangling', (v) => ['true', '1'].includes(v) === (!predefined.has(n.name) && !this.inUse(n))) &&
          (filters['label'] ?? []).every((l) => labelMatches(n.labels, l)),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A network as the API shows it; `network inspect` lists its containers, `network ls` does not. */
  view(n: NetworkRecord, withContainers: boolean): NetworkView {
    const containers: NetworkView['Containers'] = {};
    if (withContainers) {
      for (const { containerId, name, endpoint: e } of this.endpointsOn(n)) {
        containers[containerId] = { Name: name, EndpointID: e.EndpointID, MacAddress: e.MacAddress, IPv4Address: `${e.IPAddress}/${e.IPPrefixLen}`, IPv6Address: '' };
      }
    }
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: 'local',
      Driver: n.driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: n.ipam.map((i) => ({ ...i })) },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: n.options,
      Labels: n.labels,
    };
  }

  /** The containers with an endpoint on `n` now, as `network inspect` lists them. */
  endpointsOn(n: NetworkRecord): Array<{ containerId: string; name: string; endpoint: Endpoint }> {
    const out: Array<{ containerId: string; name: string; endpoint: Endpoint }> = [];
    for (const { c, att } of this.attached.values()) {
      for (const e of Object.values(att.endpoints)) if (e.NetworkID === n.id) out.push({ containerId: c.id, name: c.name, endpoint: e });
    }
    return out;
  }

  private inUse(n: NetworkRecord): boolean {
    return this.endpointsOn(n).length > 0;
  }

  async create(req: NetworkCreateRequest): Promise<{ id: string; warning: string }> {
    const name = req.Name ?? '';
    if (!name) throw new InvalidArgument('network name must be specified');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const driver = req.Driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new Forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFound(`plugin "${driver}" not found`);
    if (predefined.has(name)) throw new Forbidden(`${name} is a pre-defined network and cannot be created`);
    if (this.byName(name)) throw new AlreadyExists(`network with name ${name} already exists`);
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw new NotFound(`plugin "${req.IPAM.Driver}" not found`);
    const configs = req.IPAM?.Config ?? [];
    if (configs.length > 1) throw new InvalidArgument('berthd supports one IPv4 subnet per network');
    const options = req.Options ?? {};
    const bridge = options['com.docker.network.bridge.name'] || undefined;
    if (bridge !== undefined && (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge) || this.d.records.list().some((n) => n.bridge === bridge))) {
      throw new Conflict(`bridge name ${bridge} is invalid or already in use`);
    }
    const mtu = options['com.docker.network.driver.mtu'];
    if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65535)) throw new InvalidArgument(`invalid MTU ${mtu}: it must be between 68 and 65535`);
    const ipam = configs[0]?.Subnet ? this.checkedIpam(configs[0]) : await this.freeIpam();
    if (!configs[0]?.Subnet && (configs[0]?.Gateway || configs[0]?.IPRange)) throw new InvalidArgument('a gateway or an IP range needs a subnet (--subnet)');
    const id = newNetworkId();
    const rec: NetworkRecord = {
      id,
      name,
      created: nowNano(),
      driver: 'bridge',
      internal: !!req.Internal,
      attachable: !!req.Attachable,
      ipam: [ipam],
      options,
      labels: req.Labels ?? {},
      bridge: bridge ?? `${bridgePrefix}${id.slice(0, 9)}`,
    };
    // The record first: a crash before the bridge exists leaves a network whose bridge start-up makes.
    await this.d.records.put(rec);
    try {
      await ensureBridge(bridgeSpec(rec));
      this.pools.set(id, poolOf(rec));
      await this.firewall.apply();
    } catch (e) {
      this.pools.delete(id);
      await this.d.records.delete(id);
      await removeBridge(rec.bridge as string).catch(() => {});
      await this.firewall.apply().catch(() => {});
      throw e;
    }
    this.d.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { id, warning: '' };
  }

  /** A user's subnet, gateway and range: well-formed, consistent, and overlapping no other network. */
  private checkedIpam(cfg: { Subnet?: string; IPRange?: string; Gateway?: string }): IpamConfig {
    const subnet = parseCidr(cfg.Subnet ?? '');
    if (!subnet) throw new InvalidArgument(`invalid CIDR address: ${cfg.Subnet}`);
    if (subnet.prefix > 30) throw new InvalidArgument(`subnet ${cfg.Subnet} is too small for a network`);
    for (const n of this.d.records.list()) {
      for (const i of n.ipam) {
        const other = parseCidr(i.Subnet);
        if (other && overlaps(other, subnet)) throw new Forbidden('Pool overlaps with other one on this address space');
      }
    }
    let gateway = ipAt(subnet, 1);
    if (cfg.Gateway) {
      const g = parseIPv4(cfg.Gateway);
      if (g === undefined) throw new InvalidArgument(`invalid gateway address ${cfg.Gateway}`);
      if (!contains(subnet, g)) throw new InvalidArgument(`no matching subnet for gateway ${cfg.Gateway}`);
      gateway = cfg.Gateway;
    }
    const out: IpamConfig = { Subnet: formatCidr(subnet), Gateway: gateway };
    if (cfg.IPRange) {
      const range = parseCidr(cfg.IPRange);
      if (!range) throw new InvalidArgument(`invalid CIDR address: ${cfg.IPRange}`);
      if (!contains(subnet, range.base) || range.prefix < subnet.prefix) throw new InvalidArgument(`no matching subnet for range ${cfg.IPRange}`);
      out.IPRange = formatCidr(range);
    }
    return out;
  }

  async remove(idOrName: string): Promise<void> {
    const n = this.resolve(idOrName);
    if (predefined.has(n.name)) throw new Forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    const eps = this.endpointsOn(n);
    if (eps.length) {
      throw new Forbidden(`error while removing network: network ${n.name} has active endpoints (${eps.map((e) => `name:${JSON.stringify(e.name)} id:${JSON.stringify(e.containerId.slice(0, 12))}`).join(', ')})`);
    }
    // The bridge before the record: a crash between the two leaves a record whose bridge start-up makes again,
    // never a bridge that nothing knows. The ruleset without the network is applied while the bridge goes (the
    // kernel takes ~30 ms for that, under its lock): a compose down removes its networks one after another.
    this.removing.add(n.id);
    try {
      await Promise.all([n.bridge ? removeBridge(n.bridge) : undefined, this.firewall.apply()]);
    } catch (e) {
      this.removing.delete(n.id);
      await this.firewall.apply().catch((error: unknown) => this.d.log.warn('firewall not restored', { network: n.id, error }));
      throw e;
    }
    await this.d.records.delete(n.id);
    this.removing.delete(n.id);
    this.pools.delete(n.id);
    this.d.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  /** Removes the user-defined networks no container uses (`until`, `label` filters). */
  async prune(filters: Record<string, string[]> = {}): Promise<string[]> {
    const unknown = Object.keys(filters).find((k) => !['until', 'label', 'label!'].includes(k));
    if (unknown) throw new InvalidArgument(`invalid filter '${unknown}'`);
    const until = filters['until']?.[0];
    const cutoff = until ? untilTime(until) : Infinity;
    const removed: string[] = [];
    for (const n of this.d.records.list()) {
      if (predefined.has(n.name) || this.inUse(n) || Date.parse(n.created) >= cutoff) continue;
      if (!(filters['label'] ?? []).every((l) => labelMatches(n.labels, l))) continue;
      if ((filters['label!'] ?? []).some((l) => labelMatches(n.labels, l))) continue;
      await this.remove(n.id).then(() => removed.push(n.name), () => {});
    }
    return removed.sort();
  }

  // ---- containers ---------------------------------------------------------------------------------------------

  /**
   * The networks a new container joins, from its network mode and NetworkingConfig's endpoints, checked as dockerd
   * does at create: the networks exist, a static address belongs to a user-configured subnet.
   */
  endpointsForCreate(mode: string, endpoints: Record<string, Partial<EndpointConfig>> = {}): { networkMode: string; networks: Record<string, EndpointConfig> } {
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      const named = Object.keys(endpoints).filter((k) => k !== mode);
      if (named.length) throw new InvalidArgument('Container cannot be connected to network endpoints: ' + [mode, ...named].join(', '));
      return { networkMode: mode, networks: mode.startsWith('container:') ? {} : { [mode]: { NetworkID: this.resolve(mode).id } } };
    }
    const primary = this.resolve(mode === 'default' ? 'bridge' : mode);
    if (primary.driver !== 'bridge') return this.endpointsForCreate(primary.name, endpoints);
    const networks: Record<string, EndpointConfig> = {};
    // The docker CLI names the default network `default` in EndpointsConfig.
    const own = endpoints[mode] ?? endpoints[primary.name] ?? endpoints['default'] ?? {};
    for (const [key, cfg] of Object.entries({ [mode]: own, ...endpoints })) {
      const n = key === mode || key === 'default' ? primary : this.resolve(key);
      if (networks[n.name]) continue;
      networks[n.name] = this.endpointConfig(n, cfg ?? {});
    }
    return { networkMode: mode === 'default' ? 'bridge' : mode, networks };
  }

  /** A container's settings for one network, checked against it (create and connect). */
  endpointConfig(n: NetworkRecord, cfg: Partial<EndpointConfig>): EndpointConfig {
    if (n.driver !== 'bridge') throw new InvalidArgument(`container cannot be connected to network ${n.name} with other networks`);
    const ip = cfg.IPAMConfig?.IPv4Address;
    if (ip) {
      if (n.isDefault) throw new InvalidArgument('user specified IP address is supported on user defined networks only');
      const subnet = parseCidr(n.ipam[0]?.Subnet ?? '');
      const addr = parseIPv4(ip);
      if (addr === undefined) throw new InvalidArgument(`invalid IPv4 address: ${ip}`);
      if (!subnet || !contains(subnet, addr)) throw new InvalidArgument(`Invalid address ${ip}: It does not belong to any of this network's subnets`);
    }
    if (cfg.Aliases?.length && n.isDefault) throw new InvalidArgument('network-scoped alias is supported only for containers in user defined networks');
    return {
      NetworkID: n.id,
      ...(cfg.Aliases?.length && { Aliases: [...cfg.Aliases] }),
      ...(ip && { IPAMConfig: { IPv4Address: ip } }),
      ...(cfg.Links?.length && { Links: [...cfg.Links] }),
      ...(cfg.MacAddress && { MacAddress: cfg.MacAddress }),
    };
  }

  /** Whether a container in this mode gets a namespace of Berth's (bridge networks) rather than the runtime's. */
  static bridged(networkMode: string): boolean {
    return !['host', 'none'].includes(networkMode) && !networkMode.startsWith('container:');
  }

  /**
   * Gives a starting container its namespace at once, so that the runtime can create the container in it, and in
   * `ready` (while the runtime works) an endpoint on each of its networks (the first carries the default route and
   * the published ports) and its names in the DNS of user-defined networks. The caller awaits `ready` before the
   * container's process runs; `detach` undoes everything, a failed `ready` included.
   */
  async attach(c: NetworkedContainer): Promise<{ attachment: Attachment; ready: Promise<void> }> {
    const order = Object.keys(c.networks).sort((a, b) => (a === c.networkMode ? -1 : b === c.networkMode ? 1 : a.localeCompare(b)));
    const endpoints: Record<string, Endpoint> = {};
    const specs: EndpointSpec[] = [];
    let resolverGateway: string | undefined;
    let published: PortMap = {};
    try {
      for (const [i, name] of order.entries()) {
        const { endpoint, spec, network } = await this.newEndpoint(c, name, i, specs.length === 0);
        endpoints[name] = endpoint;
        specs.push(spec);
        if (!network.isDefault) resolverGateway ??= endpoint.Gateway;
      }
      if (specs.length) published = await this.publish(c);
      await this.sandboxes.create(c.id);
    } catch (e) {
      this.releaseAddresses(c.id, endpoints);
      this.ports.release(c.id);
      await this.sandboxes.destroy(c.id).catch(() => {});
      throw e;
    }
    const att: Attachment = { sandboxKey: this.sandboxes.path(c.id), endpoints, ports: published };
    const ready = (async () => {
      await this.sandboxes.plumb(c.id, specs, { loopback: true, ...(resolverGateway && { resolverRules: containerResolverRules(resolverGateway) }) }).catch((e: unknown) => {
        for (const s of specs) this.bridgesUp.delete(s.bridge); // checked again next time: one may have gone
        throw e;
      });
      await Promise.all([Object.keys(published).length ? this.firewall.apply() : undefined, resolverGateway ? this.dns.sync() : undefined]);
    })();
    ready.catch(() => {}); // the caller awaits it; a failure is theirs to report
    this.attached.set(c.id, { c, att, ready });
    return { attachment: att, ready };
  }

  /**
   * The container's namespace, addresses and ports are given back (it stopped, or failed to start). `recorded` is
   * what its record says it had, for an exit found at start-up (nothing was adopted then).
   */
  async detach(containerId: string, recorded?: Attachment): Promise<void> {
    const a = this.attached.get(containerId);
    await a?.ready?.catch(() => {}); // never undo what is still being made
    this.attached.delete(containerId);
    if (a) this.releaseAddresses(containerId, a.att.endpoints);
    this.ports.release(containerId);
    await this.sandboxes.destroy(containerId, Object.values((a?.att ?? recorded)?.endpoints ?? {}).map((e) => e.hostIfname));
    if (a) {
      const named = Object.values(a.att.endpoints).some((e) => !this.d.records.get(e.NetworkID)?.isDefault);
      await Promise.all([Object.keys(a.att.ports).some((k) => a.att.ports[k]?.length) ? this.firewall.apply() : undefined, named ? this.dns.sync() : undefined]);
    }
  }

  /** `network connect` of a running container: one more endpoint, live. Returns the new attachment. */
  async connectLive(c: NetworkedContainer, name: string): Promise<Attachment> {
    const a = this.attached.get(c.id);
    if (!a) throw new Conflict(`container ${c.name} is not running`);
    const used = new Set(Object.values(a.att.endpoints).map((e) => e.ifname));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const { endpoint, spec, network } = await this.newEndpoint(c, name, i, false);
    try {
      await this.sandboxes.plumb(c.id, [spec], { loopback: false });
    } catch (e) {
      this.releaseAddresses(c.id, { [name]: endpoint });
      throw e;
    }
    const att: Attachment = { ...a.att, endpoints: { ...a.att.endpoints, [name]: endpoint } };
    this.attached.set(c.id, { c, att });
    if (!network.isDefault) await this.dns.sync();
    return att;
  }

  /** `network disconnect` of a running container. */
  async disconnectLive(c: NetworkedContainer, name: string): Promise<Attachment> {
    const a = this.attached.get(c.id);
    const e = a?.att.endpoints[name];
    if (!a || !e) return a?.att ?? { sandboxKey: '', endpoints: {}, ports: {} };
    await this.sandboxes.detachEndpoint(c.id, e.ifname);
    this.releaseAddresses(c.id, { [name]: e });
    const { [name]: _gone, ...rest } = a.att.endpoints;
    const att: Attachment = { ...a.att, endpoints: rest };
    this.attached.set(c.id, { c, att });
    await this.dns.sync();
    return att;
  }

  /** Container renamed: its DNS names follow. */
  async renamed(c: NetworkedContainer): Promise<void> {
    const a = this.attached.get(c.id);
    if (!a) return;
    this.attached.set(c.id, { ...a, c });
    await this.dns.sync();
  }

  private async newEndpoint(c: NetworkedContainer, name: string, index: number, primary: boolean) {
    const cfg = c.networks[name] as EndpointConfig;
    const network = this.d.records.get(cfg.NetworkID) ?? this.byName(name);
    if (!network) throw new NotFound(`network ${name} not found`);
    const pool = this.pools.get(network.id);
    if (network.driver !== 'bridge' || !network.bridge || !pool) throw new InvalidArgument(`network ${name} cannot hold container endpoints`);
    if (!this.bridgesUp.has(network.bridge)) {
      await ensureBridge(bridgeSpec(network));
      this.bridgesUp.add(network.bridge);
    }
    const ip = pool.allocate(c.id, cfg.IPAMConfig?.IPv4Address || undefined);
    const ipam = network.ipam[0] as IpamConfig;
    const endpoint: Endpoint = {
      NetworkID: network.id,
      EndpointID: randomBytes(32).toString('hex'),
      IPAddress: ip,
      IPPrefixLen: pool.subnet.prefix,
      Gateway: ipam.Gateway,
      MacAddress: cfg.MacAddress || macFor(ip),
      ifname: `eth${index}`,
      hostIfname: hostIfname(c.id, index),
    };
    const spec: EndpointSpec = {
      ifname: endpoint.ifname,
      hostIfname: endpoint.hostIfname,
      bridge: network.bridge,
      ip,
      prefix: pool.subnet.prefix,
      mac: endpoint.MacAddress,
      mtu: mtuOf(network),
      ...(primary && !network.internal && { defaultGateway: { ip: ipam.Gateway, mtu: Math.min(mtuOf(network), this.uplinkMtu) } }),
    };
    return { endpoint, spec, network };
  }

  private releaseAddresses(containerId: string, endpoints: Record<string, Endpoint>): void {
    for (const e of Object.values(endpoints)) this.pools.get(e.NetworkID)?.release(e.IPAddress, containerId);
  }

  /** Holds the host ports of `-p` and `-P` and returns inspect's PortMap (exposed-only ports as null). */
  private async publish(c: NetworkedContainer): Promise<PortMap> {
    const wanted = new Map<string, Array<{ HostIp?: string; HostPort?: string }>>();
    for (const [port, bindings] of Object.entries(c.portBindings ?? {})) if (bindings?.length) wanted.set(normalizePort(port), bindings);
    if (c.publishAllPorts) for (const port of Object.keys(c.exposedPorts ?? {})) if (!wanted.has(normalizePort(port))) wanted.set(normalizePort(port), [{}]);
    const out: PortMap = {};
    for (const port of Object.keys(c.exposedPorts ?? {})) out[normalizePort(port)] = null;
    const requests: Array<{ port: string; req: PortRequest }> = [];
    for (const [port, bindings] of wanted) {
      const protocol = port.endsWith('/udp') ? 'udp' : 'tcp';
      for (const b of bindings) requests.push({ port, req: { hostIp: b.HostIp ?? '', hostPort: b.HostPort ?? '', protocol } });
    }
    const held = await this.ports.reserve(c.id, requests.map((r) => r.req));
    for (const [i, h] of held.entries()) {
      const port = (requests[i] as { port: string }).port;
      (out[port] ??= []).push({ HostIp: h.hostIp, HostPort: String(h.hostPort) });
    }
    return out;
  }

  private firewallState(): { networks: Array<{ bridge: string; subnet: string; internal: boolean }>; ports: PublishedPort[] } {
    const networks = this.d.records
      .list()
      .filter((n) => n.driver === 'bridge' && n.bridge && n.ipam[0] && !this.removing.has(n.id))
      .map((n) => ({ bridge: n.bridge as string, subnet: (n.ipam[0] as IpamConfig).Subnet, internal: n.internal }));
    const ports: PublishedPort[] = [];
    for (const { att } of this.attached.values()) {
      const first = Object.values(att.endpoints).find((e) => e.ifname === 'eth0');
      if (!first) continue;
      for (const [port, bindings] of Object.entries(att.ports)) {
        const [num, proto] = port.split('/');
        for (const b of bindings ?? []) {
          ports.push({ hostIp: b.HostIp, hostPort: Number(b.HostPort), protocol: proto === 'udp' ? 'udp' : 'tcp', containerIp: first.IPAddress, containerPort: Number(num) });
        }
      }
    }
    return { networks, ports };
  }

  /** Per user-defined network, the names of its endpoints: container name, aliases and short ID (as Docker's DNS). */
  private dnsState(): DnsNetwork[] {
    const byNetwork = new Map<string, DnsNetwork>();
    for (const { c, att } of this.attached.values()) {
      for (const [name, e] of Object.entries(att.endpoints)) {
        const n = this.d.records.get(e.NetworkID);
        if (!n || n.isDefault) continue;
        let entry = byNetwork.get(n.id);
        if (!entry) byNetwork.set(n.id, (entry = { id: n.id, gateway: e.Gateway, endpoints: [] }));
        entry.endpoints.push({ containerId: c.id, ip: e.IPAddress, names: NetworkService.dnsNames(c, name), ...(c.dns?.length && { dnsServers: c.dns }) });
      }
    }
    return [...byNetwork.values()];
  }

  /** The names a container answers to on a network (inspect's DNSNames). */
  static dnsNames(c: NetworkedContainer, network: string): string[] {
    return [c.name, ...(c.networks[network]?.Aliases ?? []), c.id.slice(0, 12)];
  }
}

function newNetworkId(): string {
  return randomBytes(32).toString('hex');
}

function bridgeSpec(n: NetworkRecord) {
  const ipam = n.ipam[0] as IpamConfig;
  return { bridge: n.bridge as string, gateway: ipam.Gateway, prefix: (parseCidr(ipam.Subnet) as Cidr).prefix, mtu: mtuOf(n) };
}

/** `-o com.docker.network.driver.mtu`, else Berth's jumbo default (see BridgeSpec.mtu). */
function mtuOf(n: NetworkRecord): number {
  const given = Number(n.options['com.docker.network.driver.mtu']);
  return given >= 68 && given <= 65535 ? given : jumboMtu;
}

function poolOf(n: NetworkRecord): AddressPool {
  const ipam = n.ipam[0] as IpamConfig;
  const subnet = parseCidr(ipam.Subnet) as Cidr;
  return new AddressPool(subnet, parseIPv4(ipam.Gateway) ?? subnet.base + 1, (ipam.IPRange && parseCidr(ipam.IPRange)) || subnet);
}

const ipAt = (c: Cidr, offset: number) => formatCidr({ base: c.base + offset, prefix: 32 }).split('/')[0] as string;

function bipConfig(bip: string): IpamConfig {
  const [ip = '', len] = bip.split('/');
  const subnet = parseCidr(bip);
  if (parseIPv4(ip) === undefined || !subnet || len === undefined) throw new InvalidArgument(`invalid --bip ${bip}: want an address with its prefix length, such as 172.20.0.1/16`);
  return { Subnet: formatCidr(subnet), Gateway: ip };
}

function normalizePort(port: string): string {
  return port.includes('/') ? port : `${port}/tcp`;
}

function portRequestsOf(ports: PortMap): PortRequest[] {
  return Object.entries(ports).flatMap(([port, bindings]) => (bindings ?? []).map((b) => ({ hostIp: b.HostIp, hostPort: b.HostPort, protocol: port.endsWith('/udp') ? ('udp' as const) : ('tcp' as const) })));
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

function untilTime(until: string): number {
  if (/^\d+(\.\d+)?$/.test(until)) return Number(until) * 1000;
  const m = /^(\d+)(s|m|h)$/.exec(until);
  if (m) return Date.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
  const t = Date.parse(until);
  if (Number.isNaN(t)) throw new InvalidArgument(`failed to parse value as time or duration: "${until}"`);
  return t;
}
