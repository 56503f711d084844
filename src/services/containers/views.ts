// Wire shapes of containers (Engine API 1.45 ContainerSummary and ContainerInspectResponse), as moby's
// daemon/inspect.go and container/view.go render them from a container record. Pure functions.
import { defaultMaskedPaths, defaultReadonlyPaths } from '../../runtime/index.js';
import { humanDuration } from '../../util/duration.js';
import { rfc3339Nano, zeroTime } from '../../util/timestamp.js';
import type { EtcFiles } from './etc.js';
import { type Health, healthLabel } from './health.js';
import { NetworkService } from '../networks/index.js';
import { networkedContainer } from './networking.js';
import type { ContainerRecord } from './record.js';


/** A network endpoint (EndpointSettings): what the container asked, and its address while it runs. */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DriverOpts: Record<string, string> | null;
  DNSNames: string[] | null;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: unknown[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  State: string;
  Status: string;
  HostConfig: { NetworkMode?: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: unknown[];
}

export interface ContainerState {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

/** NetworkSettings of inspect: the deprecated top-level fields (of the `bridge` network only) and the endpoints. */
export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  Ports: Record<string, unknown>;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  /** Every key of moby's HostConfig, in its order (see `hostConfigKeys`). */
  HostConfig: Record<string, unknown>;
  GraphDriver: { Data: Record<string, string>; Name: string };
  Mounts: unknown[];
  Config: Record<string, unknown>;
  NetworkSettings: NetworkSettings;
}


export function containerStatus(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  if (s.status === 'running') return `Up ${humanDuration(now - Date.parse(s.startedAt))}${s.health ? ` (${healthLabel(s.health)})` : ''}`;
  if (s.status === 'paused') return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
  if (s.status === 'exited') return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  if (s.status === 'restarting') return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  if (s.status === 'removing') return 'Removal In Progress';
  if (s.status === 'dead') return 'Dead';
  return 'Created';
}

/** An endpoint as dockerd shows one it has not connected (or has disconnected): all values empty. */
function emptyEndpoint(): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: null,
  };
}

/**
 * The networks a container is attached to, by name, with their addresses while it runs. A container sharing
 * another's network namespace (`container:…`) has none, as in Docker.
 */
function networks(c: ContainerRecord): Record<string, EndpointSettings> {
  const mode = c.hostConfig.NetworkMode;
  if (mode.startsWith('container:')) return {};
  const configured = c.networks ?? (mode === 'none' || mode === 'host' ? { [mode]: { NetworkID: '' } } : {});
  const live = c.state.network?.endpoints ?? {};
  return Object.fromEntries(
    Object.entries(configured).map(([name, cfg]) => {
      const e = live[name];
      const endpoint: EndpointSettings = {
        ...emptyEndpoint(),
        IPAMConfig: cfg.IPAMConfig ?? null,
        Links: cfg.Links ?? null,
        Aliases: cfg.Aliases ?? null,
        NetworkID: cfg.NetworkID,
        ...(e && { MacAddress: e.MacAddress, EndpointID: e.EndpointID, Gateway: e.Gateway, IPAddress: e.IPAddress, IPPrefixLen: e.IPPrefixLen }),
        ...(e && name !== 'bridge' && { DNSNames: NetworkService.dnsNames(networkedContainer(c), name) }),
      };
      return [name, endpoint];
    }),
  );
}

/** `ps`'s PORTS: each published binding, and the exposed ports that are not published. */
function summaryPorts(c: ContainerRecord): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const ports = c.state.network?.ports ?? Object.fromEntries(Object.keys(c.config.ExposedPorts ?? {}).map((p) => [p, null]));
  return Object.entries(ports).flatMap(([port, bindings]) => {
    const [num, type = 'tcp'] = port.split('/');
    if (!bindings?.length) return [{ PrivatePort: Number(num), Type: type }];
    return bindings.map((b) => ({ IP: b.HostIp, PrivatePort: Number(num), PublicPort: Number(b.HostPort), Type: type }));
  });
}

/** `ps`'s COMMAND, as moby's container view: the arguments containing a space in single quotes. */
function command(c: ContainerRecord): string {
  return [c.path, ...c.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** `image` is the name the container was made from, or its image ID once that name means another image. */
export function containerSummary(c: ContainerRecord, image: string, volumePath: (name: string) => string): ContainerSummary {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: image,
    ImageID: c.image,
    Command: command(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: summaryPorts(c),
    Labels: c.config.Labels,
    State: c.state.status,
    Status: containerStatus(c),
    HostConfig: { ...(c.hostConfig.NetworkMode && { NetworkMode: c.hostConfig.NetworkMode }) },
    NetworkSettings: { Networks: networks(c) },
    Mounts: mountPoints(c, volumePath),
  };
}

/**
 * Inspect's and ps's Mounts, as dockerd lists them: volumes (with their data directory as the source) and binds,
 * then the `--mount` tmpfs mounts (`--tmpfs` ones it does not list). `volumePath` maps a volume to its directory.
 */
function mountPoints(c: ContainerRecord, volumePath: (name: string) => string): unknown[] {
  const points = (c.mounts ?? []).map((m) =>
    m.Type === 'volume'
      ? { Type: 'volume', Name: m.Name, Source: volumePath(m.Name ?? ''), Destination: m.Destination, Driver: 'local', Mode: m.Mode, RW: m.RW, Propagation: '' }
      : { Type: 'bind', Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation },
  );
  const tmpfs = (c.hostConfig.Mounts ?? []).filter((m) => m.Type === 'tmpfs').map((m) => ({ Type: m.Type, Source: '', Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: '' }));
  return [...points, ...tmpfs];
}

/**
 * moby's HostConfig (API 1.45) key by key, in its JSON order, with what dockerd stores for a key the client left
 * out. Keys marked `omit` are Go's `omitempty`: left out when empty.
 */
const hostConfigKeys: Array<[key: string, absent: unknown, omit?: 'omit']> = [
  ['Binds', null],
  ['ContainerIDFile', ''],
  ['LogConfig', { Type: 'json-file', Config: {} }],
  ['NetworkMode', ''],
  ['PortBindings', null],
  ['RestartPolicy', { Name: 'no', MaximumRetryCount: 0 }],
  ['AutoRemove', false],
  ['VolumeDriver', ''],
  ['VolumesFrom', null],
  ['ConsoleSize', [0, 0]],
  ['Annotations', null, 'omit'],
  ['CapAdd', null],
  ['CapDrop', null],
  ['CgroupnsMode', ''],
  ['Dns', null],
  ['DnsOptions', null],
  ['DnsSearch', null],
  ['ExtraHosts', null],
  ['GroupAdd', null],
  ['IpcMode', ''],
  ['Cgroup', ''],
  ['Links', null],
  ['OomScoreAdj', 0],
  ['PidMode', ''],
  ['Privileged', false],
  ['PublishAllPorts', false],
  ['ReadonlyRootfs', false],
  ['SecurityOpt', null],
  ['StorageOpt', null, 'omit'],
  ['Tmpfs', null, 'omit'],
  ['UTSMode', ''],
  ['UsernsMode', ''],
  ['ShmSize', 0],
  ['Sysctls', null, 'omit'],
  ['Runtime', '', 'omit'],
  ['Isolation', ''],
  ['CpuShares', 0],
  ['Memory', 0],
  ['NanoCpus', 0],
  ['CgroupParent', ''],
  ['BlkioWeight', 0],
  ['BlkioWeightDevice', null],
  ['BlkioDeviceReadBps', null],
  ['BlkioDeviceWriteBps', null],
  ['BlkioDeviceReadIOps', null],
  ['BlkioDeviceWriteIOps', null],
  ['CpuPeriod', 0],
  ['CpuQuota', 0],
  ['CpuRealtimePeriod', 0],
  ['CpuRealtimeRuntime', 0],
  ['CpusetCpus', ''],
  ['CpusetMems', ''],
  ['Devices', null],
  ['DeviceCgroupRules', null],
  ['DeviceRequests', null],
  ['KernelMemory', 0, 'omit'],
  ['KernelMemoryTCP', 0, 'omit'],
  ['MemoryReservation', 0],
  ['MemorySwap', 0],
  ['MemorySwappiness', null],
  ['OomKillDisable', false],
  ['PidsLimit', null],
  ['Ulimits', null],
  ['CpuCount', 0],
  ['CpuPercent', 0],
  ['IOMaximumIOps', 0],
  ['IOMaximumBandwidth', 0],
  ['Mounts', null, 'omit'],
  ['MaskedPaths', null],
  ['ReadonlyPaths', null],
  ['Init', null, 'omit'],
];

/** Go's omitempty: nil, false, 0, "" and empty maps and slices are left out (a pointer to false is kept). */
function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/**
 * The record's HostConfig with every key dockerd shows, and the values dockerd's create (and inspect) would have
 * given it: defaults for what the client left out, the default masked and read-only paths (none for a privileged
 * container), the cgroup namespace mode of the host's cgroup version, `label=disable` for a privileged container,
 * no limit shown as null (PidsLimit 0, MemorySwappiness -1), and no links (Berth makes none).
 */
function inspectHostConfig(c: ContainerRecord): Record<string, unknown> {
  const hc = c.hostConfig;
  const stored = hc as unknown as Record<string, unknown>;
  const securityOpt = hc.SecurityOpt ?? [];
  const swappiness = stored['MemorySwappiness'];
  const derived: Record<string, unknown> = {
    LogConfig: hc.LogConfig ?? { Type: 'json-file', Config: {} },
    SecurityOpt: hc.Privileged && !securityOpt.includes('label=disable') ? [...securityOpt, 'label=disable'] : hc.SecurityOpt,
    Links: null,
    MemorySwappiness: typeof swappiness === 'number' && swappiness >= 0 ? swappiness : null,
    OomKillDisable: hc.OomKillDisable ?? false,
    Ulimits: hc.Ulimits?.map((u) => ({ Name: u.Name, Hard: u.Hard, Soft: u.Soft })) ?? null, // Go's field order
    PidsLimit: hc.PidsLimit && hc.PidsLimit > 0 ? hc.PidsLimit : null,
    MaskedPaths: stored['MaskedPaths'] ?? (hc.Privileged ? null : defaultMaskedPaths),
    ReadonlyPaths: stored['ReadonlyPaths'] ?? (hc.Privileged ? null : defaultReadonlyPaths),
  };
  const out: Record<string, unknown> = {};
  for (const [key, absent, omit] of hostConfigKeys) {
    const value = key in derived ? derived[key] : (stored[key] ?? absent);
    if (omit && (key === 'Init' ? value === null || value === undefined : isEmpty(value))) continue;
    out[key] = value;
  }
  return out;
}

/** NetworkSettings of inspect: the namespace, published ports, the endpoints by network, and (deprecated, of the default `bridge` only) the top-level address fields. */
function inspectNetworkSettings(c: ContainerRecord): NetworkSettings {
  const eps = networks(c);
  const bridge = c.state.network?.endpoints['bridge'] ? eps['bridge'] : undefined;
  return {
    Bridge: '',
    SandboxID: c.state.network ? c.id : '',
    SandboxKey: c.state.network?.sandboxKey ?? '',
    Ports: c.state.network?.ports ?? {},
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: eps,
  };
}

/**
 * `etc` is where the container's /etc files are, once it has started (those of the container whose network it
 * shares, for `container:` mode), as dockerd fills ResolvConfPath, HostnamePath and HostsPath.
 */
export function containerInspect(
  c: ContainerRecord,
  dirs: { upper: string; work: string; merged: string; lower: string[] },
  logPath: string,
  etc: EtcFiles | undefined,
  volumePath: (name: string) => string,
): ContainerInspect {
  const s = c.state;
  const config = c.config;
  return {
    Id: c.id,
    Created: rfc3339Nano(c.created),
    Path: c.path,
    Args: c.args,
    State: {
      Status: s.status,
      Running: s.status === 'running' || s.status === 'paused' || s.status === 'restarting',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: !!s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: rfc3339Nano(s.startedAt),
      FinishedAt: rfc3339Nano(s.finishedAt),
      ...(s.health && { Health: s.health }),
    },
    Image: c.image,
    ResolvConfPath: etc?.resolvConf ?? '',
    HostnamePath: etc?.hostname ?? '',
    HostsPath: etc?.hosts ?? '',
    // dockerd sets it when the container's logger first starts: empty until the first start.
    LogPath: s.startedAt === zeroTime ? '' : logPath,
    Name: `/${c.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: inspectHostConfig(c),
    GraphDriver: {
      Data: { LowerDir: dirs.lower.join(':'), MergedDir: dirs.merged, UpperDir: dirs.upper, WorkDir: dirs.work },
      Name: 'overlay2',
    },
    Mounts: mountPoints(c, volumePath),
    Config: {
      Hostname: config.Hostname,
      Domainname: config.Domainname ?? '',
      User: config.User,
      AttachStdin: !!config.AttachStdin,
      AttachStdout: !!config.AttachStdout,
      AttachStderr: !!config.AttachStderr,
      ...(config.ExposedPorts && { ExposedPorts: config.ExposedPorts }),
      Tty: config.Tty,
      OpenStdin: config.OpenStdin,
      StdinOnce: config.StdinOnce,
      Env: config.Env,
      Cmd: config.Cmd,
      ...(config.Healthcheck && { Healthcheck: config.Healthcheck }),
      Image: config.Image,
      Volumes: config.Volumes ?? null,
      WorkingDir: config.WorkingDir,
      Entrypoint: config.Entrypoint,
      OnBuild: null,
      Labels: config.Labels,
      ...(config.StopSignal && { StopSignal: config.StopSignal }),
      ...(config.StopTimeout !== undefined && { StopTimeout: config.StopTimeout }),
    },
    NetworkSettings: inspectNetworkSettings(c),
  };
}
