// The Engine API's HostConfig: the subset Berth honours, validated and normalised as dockerd does at create (and
// at update), with dockerd's messages. Pure: host capabilities come in as `HostLimits`.
import { isIP } from 'node:net';
import { InvalidArgument } from '../../errors/index.js';
import { parseBytes, parseHumanSize } from '../../util/size.js';

export type RestartPolicyName = '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** The cgroup limits that `update` may change live (Engine API `Resources`). */
export interface Resources {
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  PidsLimit: number | null;
  BlkioWeight: number;
  OomKillDisable: boolean | null;
  /** 0–100; null (or -1, from older clients) leaves the kernel's. */
  MemorySwappiness: number | null;
  BlkioWeightDevice: Array<{ Path: string; Weight: number }> | null;
  BlkioDeviceReadBps: ThrottleDevice[] | null;
  BlkioDeviceWriteBps: ThrottleDevice[] | null;
  BlkioDeviceReadIOps: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps: ThrottleDevice[] | null;
  CpuRealtimePeriod: number;
  CpuRealtimeRuntime: number;
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

/** An Engine API `Mount` (the fields Berth reads). */
export interface MountRequest {
  Type: string;
  Target: string;
  Source?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> }; Subpath?: string } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** `--device`: a host device node (or a directory of them) to make in the container, with its cgroup access. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface HostConfig extends Resources {
  AutoRemove: boolean;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  SecurityOpt: string[] | null;
  Init: boolean | null;
  PidMode: string;
  IpcMode: string;
  UTSMode: string;
  NetworkMode: string;
  /** `host` or `private`; set at create from the host's cgroup version when not given. */
  CgroupnsMode?: string;
  /** The cgroup under which the container's own is made (`--cgroup-parent`), instead of the daemon's. */
  CgroupParent?: string;
  /** `--group-add`: more groups for the process, by name (from the container's /etc/group) or number. */
  GroupAdd?: string[] | null;
  OomScoreAdj?: number;
  /** Namespaced kernel parameters (`--sysctl`); the runtime refuses those of namespaces the container shares. */
  Sysctls?: Record<string, string> | null;
  /** `--tmpfs`: a tmpfs at each path, with its mount options. */
  Tmpfs?: Record<string, string> | null;
  Devices?: DeviceMapping[] | null;
  /** `--device-cgroup-rule`s, as `c|b|a <major|*>:<minor|*> <rwm>`. */
  DeviceCgroupRules?: string[] | null;
  /** `--add-host`s, as `name:IP`: more lines for /etc/hosts. */
  ExtraHosts?: string[] | null;
  /** `--dns`, `--dns-search`, `--dns-option`: instead of the host's in /etc/resolv.conf. */
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  /** `-p`: container port (`80/tcp`) → host bindings. */
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  /** `-P`: every exposed port on a free host port. */
  PublishAllPorts?: boolean;
  /** `--link name:alias` (legacy links of the default bridge). */
  Links?: string[] | null;
  /** `-v`: `source:destination[:mode]` (see mounts.ts). */
  Binds?: string[] | null;
  /** `--volumes-from container[:ro|rw]`. */
  VolumesFrom?: string[] | null;
  /** `--mount`s: volume, bind and tmpfs (see mounts.ts). */
  Mounts?: MountRequest[] | null;
  /** Runtime annotations (`--annotation`), passed to the OCI spec. */
  Annotations?: Record<string, string> | null;
  /** Instead of the default masked and read-only paths (the docker CLI sends [] for `systempaths=unconfined`). */
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  RestartPolicy: { Name: RestartPolicyName; MaximumRetryCount: number };
  Ulimits: Ulimit[] | null;
  ShmSize: number;
  /** The client's terminal [height, width] at create (a TTY container starts with it). */
  ConsoleSize?: [number, number] | null;
  /** `--log-driver` and `--log-opt`s: json-file (the default) or none. */
  LogConfig: LogConfig;
}

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** What the host's kernel offers, as dockerd's sysinfo: limits it lacks are dropped with a warning. */
export interface HostLimits {
  ncpu: number;
  swapLimit: boolean;
  blkioWeight: boolean;
  /** Whether the kernel runs x32 binaries; undefined when unknown. */
  x32Abi?: boolean;
  /** cgroup v1's memory.swappiness, cpu.rt_runtime_us and blkio.throttle.* files. */
  memorySwappiness: boolean;
  cpuRealtime: boolean;
  blkioThrottle: boolean;
}

export const resourceDefaults: Resources = {
  Memory: 0,
  MemorySwap: 0,
  MemoryReservation: 0,
  NanoCpus: 0,
  CpuShares: 0,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpusetCpus: '',
  CpusetMems: '',
  PidsLimit: null,
  BlkioWeight: 0,
  OomKillDisable: null,
  MemorySwappiness: null,
  BlkioWeightDevice: null,
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
};

const defaults: HostConfig = {
  ...resourceDefaults,
  AutoRemove: false,
  Privileged: false,
  ReadonlyRootfs: false,
  CapAdd: null,
  CapDrop: null,
  SecurityOpt: null,
  Init: null,
  PidMode: '',
  IpcMode: 'private',
  UTSMode: '',
  NetworkMode: 'bridge',
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  Ulimits: null,
  ShmSize: 64 * 1024 * 1024,
  LogConfig: { Type: 'json-file', Config: {} },
};

const ulimitNames = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];
const minMemory = 6 * 1024 * 1024;

/** Fills defaults and validates a create request's HostConfig; returns it with dockerd's warnings. */
export function normalizeHostConfig(input: Partial<HostConfig> | null | undefined, host: HostLimits): { hostConfig: HostConfig; warnings: string[] } {
  const given = Object.fromEntries(Object.entries(input ?? {}).filter(([, v]) => v !== null && v !== undefined)) as Partial<HostConfig>;
  const hc: HostConfig = { ...defaults, ...given, RestartPolicy: { ...defaults.RestartPolicy, ...given.RestartPolicy }, LogConfig: normalizeLogConfig(given.LogConfig) };
  if (!hc.NetworkMode || hc.NetworkMode === 'default') hc.NetworkMode = 'bridge';
  if (!hc.IpcMode) hc.IpcMode = 'private';
  if (!hc.ShmSize) hc.ShmSize = defaults.ShmSize;
  validateRestartPolicy(hc);
  validateModes(hc);
  for (const u of hc.Ulimits ?? []) {
    if (!ulimitNames.includes(u.Name)) throw new InvalidArgument(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) throw new InvalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  for (const opt of hc.SecurityOpt ?? []) parseSecurityOpt(opt);
  const oomScoreAdj = hc.OomScoreAdj ?? 0;
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw new InvalidArgument(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  refuseUnsupported(hc, given as Record<string, unknown>);
  for (const [path, options] of Object.entries(hc.Tmpfs ?? {})) tmpfsMount(path, options);
  for (const m of hc.Mounts ?? []) if (m.Type === 'tmpfs') tmpfsMount(m.Target, tmpfsData(m));
  for (const entry of hc.ExtraHosts ?? []) extraHost(entry);
  validatePortBindings(hc);
  for (const ip of hc.Dns ?? []) if (!isIP(ip)) throw new InvalidArgument(`${ip} is not an ip address`);
  // Each is one word of a resolv.conf line: a line break would write lines of its own.
  for (const v of [...(hc.DnsSearch ?? []), ...(hc.DnsOptions ?? [])]) if (/\s/.test(v)) throw new InvalidArgument(`invalid DNS search domain or option: ${JSON.stringify(v)}`);
  for (const rule of hc.DeviceCgroupRules ?? []) deviceCgroupRule(rule);
  if (hc.CgroupParent && hc.CgroupParent.split('/').includes('..')) throw new InvalidArgument(`invalid cgroup parent: ${hc.CgroupParent}`);
  const warnings = validateResources(hc, host, true);
  if ((given as Record<string, unknown>)['KernelMemory']) warnings.push('Specifying a kernel memory limit is deprecated and will be removed in a future release.');
  if (hc.NetworkMode === 'host' && Object.keys((given as Record<string, object>)['PortBindings'] ?? {}).length) warnings.push('Published ports are discarded when using host network mode');
  return { hostConfig: hc, warnings };
}

/**
 * Validates resources (at create, and the new values at `update`) in place, as dockerd's
 * verifyPlatformContainerResources does: errors for impossible values, warnings (and the value dropped) for
 * limits the kernel cannot enforce.
 */
export function validateResources(r: Resources, host: HostLimits, creating: boolean): string[] {
  const warnings: string[] = [];
  if (r.Memory !== 0 && r.Memory < minMemory) throw new InvalidArgument('Minimum memory limit allowed is 6MB');
  if (r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory) {
    throw new InvalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (r.Memory === 0 && r.MemorySwap > 0 && creating) {
    throw new InvalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (r.Memory > 0 && r.MemoryReservation > 0 && r.MemoryReservation > r.Memory) {
    throw new InvalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (r.Memory > 0 && r.MemorySwap === 0 && creating) r.MemorySwap = host.swapLimit ? r.Memory * 2 : -1;
  if (r.MemorySwap > 0 && !host.swapLimit) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    r.MemorySwap = -1;
  }
  if (r.NanoCpus > 0 && (r.CpuPeriod > 0 || r.CpuQuota > 0)) {
    throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set');
  }
  if (r.NanoCpus < 0 || r.NanoCpus > host.ncpu * 1e9) {
    throw new InvalidArgument(`Range of CPUs is from 0.01 to ${host.ncpu}.00, as there are only ${host.ncpu} CPUs available`);
  }
  if (r.CpuPeriod !== 0 && (r.CpuPeriod < 1000 || r.CpuPeriod > 1_000_000)) {
    throw new InvalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (r.CpuQuota !== 0 && r.CpuQuota > 0 && r.CpuQuota < 1000) throw new InvalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (r.CpusetCpus && !cpusetAvailable(r.CpusetCpus, host.ncpu)) {
    throw new InvalidArgument(`Requested CPUs are not available - requested ${r.CpusetCpus}, available: 0-${host.ncpu - 1}`);
  }
  if (r.BlkioWeight !== 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000)) {
    throw new InvalidArgument('Range of blkio weight is from 10 to 1000');
  }
  if (r.BlkioWeight > 0 && !host.blkioWeight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    r.BlkioWeight = 0;
  }
  if (r.PidsLimit !== null && r.PidsLimit <= 0) r.PidsLimit = 0; // 0 and -1 both mean unlimited
  if (r.MemorySwappiness === -1) r.MemorySwappiness = null;
  if (r.MemorySwappiness !== null && r.MemorySwappiness !== undefined) {
    if (!host.memorySwappiness) {
      warnings.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
      r.MemorySwappiness = null;
    } else if (r.MemorySwappiness < 0 || r.MemorySwappiness > 100) {
      throw new InvalidArgument(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
    }
  }
  if (r.CpuRealtimePeriod > 0 && !host.cpuRealtime) {
    warnings.push('Your kernel does not support cgroup cpu real-time period. Period discarded.');
    r.CpuRealtimePeriod = 0;
  }
  if (r.CpuRealtimeRuntime > 0 && !host.cpuRealtime) {
    warnings.push('Your kernel does not support cgroup cpu real-time runtime. Runtime discarded.');
    r.CpuRealtimeRuntime = 0;
  }
  if (r.CpuRealtimePeriod && r.CpuRealtimeRuntime && r.CpuRealtimeRuntime > r.CpuRealtimePeriod) {
    throw new InvalidArgument('cpu real-time runtime cannot be higher than cpu real-time period');
  }
  if (r.BlkioWeightDevice?.length && !host.blkioWeight) {
    warnings.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    r.BlkioWeightDevice = null;
  }
  const throttles = [
    ['BlkioDeviceReadBps', 'read_bps_device'],
    ['BlkioDeviceWriteBps', 'write_bps_device'],
    ['BlkioDeviceReadIOps', 'read_iops_device'],
    ['BlkioDeviceWriteIOps', 'write_iops_device'],
  ] as const;
  for (const [key, name] of throttles) {
    if (r[key]?.length && !host.blkioThrottle) {
      warnings.push(`Your kernel does not support BPS Block I/O ${name.startsWith('read') ? 'read' : 'write'} limit or the cgroup is not mounted. Block I/O BPS ${name} limit discarded.`);
      r[key] = null;
    }
  }
  return warnings;
}

/**
 * What Berth cannot do is refused at create rather than ignored. Without a network (`none`) ports and links mean
 * nothing, and dockerd ignores them too; the conflicts
 * dockerd refuses for `host` and `container:` modes are refused with its messages.
 */
function refuseUnsupported(hc: HostConfig, given: Record<string, unknown>): void {
  const some = (key: string) => {
    const v = given[key];
    return Array.isArray(v) ? v.length > 0 : typeof v === 'object' && v !== null ? Object.keys(v).length > 0 : !!v;
  };
  const ports = some('PortBindings') || given['PublishAllPorts'] === true;
  const mode = hc.NetworkMode;
  if (some('StorageOpt')) throw new InvalidArgument("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  if (some('DeviceRequests')) throw new InvalidArgument('could not select device driver "" with capabilities: [[gpu]]');
  const isolation = given['Isolation'];
  if (isolation && isolation !== 'default') throw new InvalidArgument(`invalid isolation (${String(isolation)}): linux only supports 'default'`);
  const userns = given['UsernsMode'];
  if (userns && userns !== 'host') throw new InvalidArgument(`invalid USER mode: ${String(userns)} (berthd has no user namespace remapping)`);
  if (mode.startsWith('container:')) {
    if (some('Links')) throw new InvalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if (some('Dns') || some('DnsSearch') || some('DnsOptions')) throw new InvalidArgument('conflicting options: dns and the network mode');
    if (some('ExtraHosts')) throw new InvalidArgument('conflicting options: custom host-to-IP mapping and the network mode');
    if (ports) throw new InvalidArgument('conflicting options: port publishing and the container type network mode');
  }
  if (mode === 'host' && some('Links')) throw new InvalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
}

/** Published ports as dockerd checks them: `port[/tcp|udp]` keys, host ports that are numbers or ranges. */
function validatePortBindings(hc: HostConfig): void {
  const port = (p: string) => /^\d+$/.test(p) && Number(p) > 0 && Number(p) <= 65535;
  for (const [key, bindings] of Object.entries(hc.PortBindings ?? {})) {
    const [num = '', proto = 'tcp', ...rest] = key.split('/');
    if (!port(num) || rest.length) throw new InvalidArgument(`invalid port specification: "${key}"`);
    if (proto !== 'tcp' && proto !== 'udp') throw new InvalidArgument(`invalid proto: ${proto} (berthd publishes tcp and udp ports)`);
    for (const b of bindings ?? []) {
      const hp = b.HostPort ?? '';
      if (hp && hp !== '0' && !hp.split('-').every(port)) throw new InvalidArgument(`invalid port specification: "${hp}"`);
      if (b.HostIp && !isIP(b.HostIp)) throw new InvalidArgument(`invalid IP address: ${b.HostIp}`);
      if (b.HostIp && isIP(b.HostIp) === 6) throw new InvalidArgument(`invalid IP address: ${b.HostIp} (berthd publishes ports on IPv4 addresses)`);
    }
  }
}

/** `--mount type=tmpfs`'s options as `--tmpfs` data. */
export function tmpfsData(m: MountRequest): string {
  const o = m.TmpfsOptions ?? {};
  return [...(m.ReadOnly ? ['ro'] : []), ...(o.SizeBytes ? [`size=${o.SizeBytes}`] : []), ...(o.Mode ? [`mode=${o.Mode.toString(8)}`] : [])].join(',');
}

/** An `--add-host` entry (`name:IP`) as its /etc/hosts line; `host-gateway` is the default bridge's gateway. */
export function extraHost(entry: string, hostGateway = '0.0.0.0'): string {
  const i = entry.indexOf(':');
  const [name, ip] = [entry.slice(0, i), entry.slice(i + 1)];
  if (i <= 0 || /\s/.test(name)) throw new InvalidArgument(`bad format for add-host: "${entry}"`);
  if (ip === 'host-gateway') return `${hostGateway}\t${name}`;
  if (!isIP(ip.replace(/^\[|\]$/g, ''))) throw new InvalidArgument(`invalid IP address in add-host: "${ip}"`);
  return `${ip.replace(/^\[|\]$/g, '')}\t${name}`;
}

/** A `--tmpfs` mount's options, as dockerd gives them: noexec, nosuid, nodev and rprivate unless the user's say otherwise. */
export function tmpfsMount(path: string, data: string): { destination: string; options: string[] } {
  if (!path.startsWith('/')) throw new InvalidArgument(`invalid mount path: '${path}' mount path must be absolute`);
  if (path.replace(/\/+$/, '') === '') throw new InvalidArgument("invalid specification: destination can't be '/'");
  return { destination: path, options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])]) };
}

/** Mount flags and which of them a later option replaces (the opposite, or another propagation mode). */
const flagGroups: Record<string, string> = {
  ro: 'ro', rw: 'ro', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev', exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand', atime: 'noatime',
  noatime: 'noatime', diratime: 'nodiratime', nodiratime: 'nodiratime', relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
  bind: 'propagation', rbind: 'propagation', unbindable: 'propagation', runbindable: 'propagation', private: 'propagation',
  rprivate: 'propagation', shared: 'propagation', rshared: 'propagation', slave: 'propagation', rslave: 'propagation',
};
const tmpfsDataKeys = ['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol'];

/** moby/sys/mount's MergeTmpfsOptions: the last of conflicting options wins, in the order given. */
function mergeTmpfsOptions(options: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const option of [...options].reverse()) {
    if (option === 'defaults') continue;
    const key = flagGroups[option] ?? option.split('=', 1)[0] ?? '';
    if (!flagGroups[option] && (!option.includes('=') || !tmpfsDataKeys.includes(key))) throw new InvalidArgument(`invalid tmpfs option "${key}"`);
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(option);
  }
  return out;
}

/** A `--device-cgroup-rule` in the runtime spec's terms (a `*` leaves the number out: any). */
export function deviceCgroupRule(rule: string): { allow: true; type: string; major?: number; minor?: number; access: string } {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
  if (!m) throw new InvalidArgument(`invalid device cgroup rule format: '${rule}'`);
  const [, type = 'a', major = '*', minor = '*', access = ''] = m;
  return { allow: true, type, ...(major !== '*' && { major: Number(major) }), ...(minor !== '*' && { minor: Number(minor) }), access };
}

function validateRestartPolicy(hc: HostConfig): void {
  const p = hc.RestartPolicy;
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(p.Name)) {
    throw new InvalidArgument(`invalid restart policy: unknown policy '${p.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (p.MaximumRetryCount < 0) throw new InvalidArgument('invalid restart policy: max-retries must be a positive integer');
  if (p.MaximumRetryCount > 0 && p.Name !== 'on-failure') {
    throw new InvalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (hc.AutoRemove && p.Name !== '' && p.Name !== 'no') {
    throw new InvalidArgument("can't create 'AutoRemove' container with restart policy");
  }
}

/** Namespace modes this release supports: private, `host`, or another container's (`container:<name|id>`). */
function validateModes(hc: HostConfig): void {
  const check = (flag: string, value: string, allowed: string[]) => {
    if (value && !allowed.includes(value) && !value.startsWith('container:')) throw new InvalidArgument(`invalid ${flag} mode: ${value}`);
  };
  check('PID', hc.PidMode, ['host']);
  check('IPC', hc.IpcMode, ['private', 'shareable', 'host', 'none']);
  check('UTS', hc.UTSMode, ['host']);
  if (hc.CgroupnsMode && !['host', 'private'].includes(hc.CgroupnsMode)) throw new InvalidArgument(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
  if (hc.UTSMode.startsWith('container:')) throw new InvalidArgument(`invalid UTS mode: ${hc.UTSMode}`);
}

export interface SecurityOptions {
  noNewPrivileges?: boolean;
  /** `unconfined`, or a profile's JSON (the docker CLI sends the file's content, not its path). */
  seccomp?: string;
  /** `systempaths=unconfined` sent as is (the docker CLI turns it into empty MaskedPaths and ReadonlyPaths). */
  unconfinedSystemPaths?: boolean;
}

/** `--security-opt` values: `no-new-privileges[=|:bool]`, `seccomp=…`, and the LSM options (accepted, no LSM here). */
export function parseSecurityOpt(opt: string): SecurityOptions {
  if (opt === 'no-new-privileges') return { noNewPrivileges: true };
  const m = /^([a-z-]+)[=:](.*)$/s.exec(opt);
  if (!m) throw new InvalidArgument(`invalid --security-opt 1: "${opt}"`);
  const [, key = '', value = ''] = m;
  switch (key) {
    case 'no-new-privileges':
      if (value !== 'true' && value !== 'false') throw new InvalidArgument(`invalid --security-opt 2: "${opt}"`);
      return { noNewPrivileges: value === 'true' };
    case 'seccomp':
      return { seccomp: value };
    case 'systempaths':
      if (value !== 'unconfined') throw new InvalidArgument(`invalid --security-opt 2: "${opt}"`);
      return { unconfinedSystemPaths: true };
    case 'apparmor':
    case 'label':
      return {};
    default:
      throw new InvalidArgument(`invalid --security-opt 2: "${opt}"`);
  }
}

export function securityOptions(hc: HostConfig): SecurityOptions {
  return Object.assign({}, ...(hc.SecurityOpt ?? []).map(parseSecurityOpt)) as SecurityOptions;
}

function cpusetAvailable(set: string, ncpu: number): boolean {
  for (const part of set.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InvalidArgument(`Invalid value ${set} for cpuset cpus`);
    const hi = Number(m[2] ?? m[1]);
    if (hi >= ncpu || Number(m[1]) > hi) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Logging

/** Log drivers dockerd has built in that Berth does not offer (anything else is an unknown plugin to dockerd). */
const otherBuiltinDrivers = ['local', 'syslog', 'journald', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries'];
/** The json-file options dockerd knows (`mode` and `max-buffer-size` are every driver's). */
const jsonFileOptions = ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

/** The container's log driver and options, defaults filled (json-file), checked as dockerd checks them. */
export function normalizeLogConfig(input: Partial<LogConfig> | null | undefined): LogConfig {
  const c: LogConfig = { Type: input?.Type || 'json-file', Config: { ...(input?.Config ?? {}) } };
  if (c.Type === 'none') return c; // dockerd ignores options given to `none` (its CLI refuses them)
  if (c.Type !== 'json-file') {
    if (otherBuiltinDrivers.includes(c.Type)) throw new InvalidArgument(`logging driver "${c.Type}" is not supported: use json-file or none`);
    throw new InvalidArgument(`error looking up logging plugin ${c.Type}: plugin "${c.Type}" not found`);
  }
  logRotation(c);
  return c;
}

/**
 * What a json-file config asks for: bytes per file (-1: no limit, dockerd's default) and files kept (1). Checks
 * the option names as dockerd's validator does and the values as its driver does, with their messages (dockerd
 * finds bad values only at start, "failed to initialize logging driver: …"; Berth refuses them at create).
 */
export function logRotation(c: LogConfig): { maxSize: number; maxFiles: number } {
  const o = c.Config;
  for (const key of Object.keys(o)) {
    if (!jsonFileOptions.includes(key)) throw new InvalidArgument(`unknown log opt '${key}' for json-file log driver`);
  }
  validateLogMode(o);
  const failed = (message: string) => new InvalidArgument(`failed to initialize logging driver: ${message}`);
  const parse = (f: () => number) => {
    try {
      return f();
    } catch (e) {
      throw failed((e as Error).message);
    }
  };
  let maxSize = -1;
  if (o['max-size'] !== undefined) {
    maxSize = parse(() => parseHumanSize(o['max-size'] as string));
    if (maxSize <= 0) throw failed('max-size must be a positive number');
  }
  let maxFiles = 1;
  if (o['max-file'] !== undefined) {
    maxFiles = goInt(o['max-file'], failed);
    if (maxFiles < 1) throw failed('max-file cannot be less than 1');
  }
  if (o['compress'] !== undefined && goBool(o['compress'], failed)) {
    if (maxFiles === 1 || maxSize === -1) throw failed('compress cannot be true when max-file is less than 2 or max-size is not set');
    throw new InvalidArgument('compress=true is not supported: rotated json-file logs are kept uncompressed');
  }
  return { maxSize, maxFiles };
}

/** dockerd's checks of the options all drivers share: `mode` and its `max-buffer-size`. */
function validateLogMode(o: Record<string, string>): void {
  const mode = o['mode'] ?? '';
  if (!['', 'blocking', 'non-blocking'].includes(mode)) throw new InvalidArgument(`logger: logging mode not supported: ${mode}`);
  if (o['max-buffer-size'] === undefined) return;
  if (mode !== 'non-blocking') throw new InvalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  try {
    parseBytes(o['max-buffer-size']);
  } catch (e) {
    throw new InvalidArgument(`error parsing option max-buffer-size: ${(e as Error).message}`);
  }
}

function goInt(text: string, fail: (message: string) => Error): number {
  if (!/^[+-]?\d+$/.test(text)) throw fail(`strconv.Atoi: parsing "${text}": invalid syntax`);
  return Number(text);
}

function goBool(text: string, fail: (message: string) => Error): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw fail(`strconv.ParseBool: parsing "${text}": invalid syntax`);
}
