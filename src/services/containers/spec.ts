// From a container's record to its OCI runtime spec: user lookup in the image, capabilities, seccomp, devices,
// namespaces, limits and the init binary — the policy half of `buildSpec`.
import { InvalidArgument } from '../../errors/index.js';
import { realpath } from 'node:fs/promises';
import { type HostDevice, blockDevice, devicesAt, hostDevices } from '../../kernel/devices.js';
import { ScopedRoot } from '../../kernel/scoped.js';
import {
  type DeviceRule,
  type LinuxResources,
  type NamespaceType,
  type RuntimeSpec,
  type SeccompProfile,
  type SpecMount,
  buildSpec,
  containerCapabilities,
  parseSeccompProfile,
  seccompForContainer,
} from '../../runtime/index.js';
import type { ContainerRecord } from './record.js';
import { type EtcFiles, etcMounts } from './etc.js';
import { type HostConfig, type Resources, deviceCgroupRule, securityOptions, tmpfsData, tmpfsMount } from './hostconfig.js';

/** Where docker mounts its init (tini) in a container started with --init. */
const initDestination = '/sbin/docker-init';

export interface SpecContext {
  rootfs: string;
  /** The files bind-mounted on /etc/hostname, /etc/hosts and /etc/resolv.conf. */
  etc: EtcFiles;
  cgroupsPath: string;
  /** Whether the kernel runs x32 binaries (see seccompForContainer); undefined when unknown. */
  x32Abi?: boolean;
  /** Daemon's default seccomp profile (Docker format), if the host has one. */
  defaultSeccomp: () => Promise<SeccompProfile | undefined>;
  /** A static init binary for --init (tini), if installed. */
  initPath?: string;
  /** Volumes and bind mounts, ready (see mounts.ts), parents first; after the /etc files, so a user's wins. */
  volumeMounts?: SpecMount[];
  /** Legacy links' variables (`DB_PORT_80_TCP=…`), before the container's own. */
  linkEnv?: string[];
  /** The network namespace Berth made for the container (bridge networks). */
  netns?: string;
  /** It resolves names through 127.0.0.11, DNATed in its namespace: loopback destinations must be routable there. */
  resolver?: boolean;
  /** `/proc/<pid>/ns/<type>` of another running container, for `container:<name>` modes. */
  namespaceOf: (container: string, type: NamespaceType) => string;
}

export async function containerSpec(c: ContainerRecord, x: SpecContext): Promise<RuntimeSpec> {
  const hc = c.hostConfig;
  const { uid, gid, additionalGids } = await resolveUser(x.rootfs, c.config.User, hc.GroupAdd ?? []);
  const capabilities = containerCapabilities({ add: hc.CapAdd, drop: hc.CapDrop, privileged: hc.Privileged });
  const security = securityOptions(hc);
  const seccompProfile = security.seccomp === 'unconfined' ? undefined : security.seccomp ? parseSeccompProfile(security.seccomp) : await x.defaultSeccomp();
  const joinNamespaces: Partial<Record<NamespaceType, string>> = {};
  const modes: Array<[NamespaceType, string]> = [['pid', hc.PidMode], ['ipc', hc.IpcMode], ['uts', hc.UTSMode], ['network', hc.NetworkMode]];
  for (const [type, mode] of modes) {
    if (mode === 'host') joinNamespaces[type] = 'host';
    else if (mode.startsWith('container:')) joinNamespaces[type] = x.namespaceOf(mode.slice('container:'.length), type);
  }
  if (x.netns) joinNamespaces.network = x.netns;
  const sysctl = { ...(x.resolver && { 'net.ipv4.conf.all.route_localnet': '1' }), ...hc.Sysctls };
  let args = [c.path, ...c.args];
  const mounts = etcMounts(x.etc, hc.ReadonlyRootfs);
  mounts.push(...(x.volumeMounts ?? []));
  const tmpfs = [...Object.entries(hc.Tmpfs ?? {}), ...(hc.Mounts ?? []).filter((m) => m.Type === 'tmpfs').map((m) => [m.Target, tmpfsData(m)] as const)];
  for (const [path, data] of tmpfs) mounts.push({ ...tmpfsMount(path, data), type: 'tmpfs', source: 'tmpfs' });
  const devices = await userDevices(hc);
  if (hc.Init) {
    if (!x.initPath) throw new InvalidArgument('--init: no init binary (tini) is installed on this host');
    mounts.push({ destination: initDestination, type: 'bind', source: x.initPath, options: ['bind', 'ro'] });
    args = [initDestination, '--', ...args];
  }
  return buildSpec({
    rootfs: x.rootfs,
    args,
    env: processEnv(c.config, c.config.Tty, x.linkEnv),
    cwd: c.config.WorkingDir || '/',
    uid,
    gid,
    additionalGids,
    ...(hc.UTSMode !== 'host' && { hostname: c.config.Hostname, domainname: c.config.Domainname ?? '' }),
    cgroupsPath: x.cgroupsPath,
    cgroupns: hc.CgroupnsMode === 'private',
    terminal: c.config.Tty,
    ...(hc.ConsoleSize && { consoleSize: hc.ConsoleSize }),
    readonlyRootfs: hc.ReadonlyRootfs,
    joinNamespaces,
    capabilities,
    privileged: hc.Privileged,
    ...systemPaths(hc, security.unconfinedSystemPaths),
    devices: [...(hc.Privileged ? await hostDevices() : []), ...devices.nodes],
    deviceRules: devices.rules,
    oomScoreAdj: hc.OomScoreAdj ?? 0,
    ...(Object.keys(sysctl).length && { sysctl }),
    ...(hc.Annotations && { annotations: hc.Annotations }),
    noNewPrivileges: !!security.noNewPrivileges,
    ...(seccompProfile && { seccomp: seccompForContainer(seccompProfile, { capabilities, withoutArches: x.x32Abi === false ? ['SCMP_ARCH_X32'] : [] }) }),
    rlimits: (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })),
    resources: await withBlockIODevices(ociResources(hc), hc),
    shmSize: hc.ShmSize,
    mounts,
  });
}

/**
 * `--device`s (each a node, or a directory of them, as moby's DevicesFromPath) at their paths in the container, and
 * the cgroup rules letting the container use them, then the `--device-cgroup-rule`s. A privileged container may use
 * every device already.
 */
async function userDevices(hc: HostConfig): Promise<{ nodes: HostDevice[]; rules: DeviceRule[] }> {
  const nodes: HostDevice[] = [];
  const rules: DeviceRule[] = [];
  for (const m of hc.Devices ?? []) {
    if (hc.Privileged && m.PathOnHost === m.PathInContainer) continue;
    const failed = (why: string) => new InvalidArgument(`error gathering device information while adding custom device "${m.PathOnHost}": ${why}`);
    const base = await realpath(m.PathOnHost).catch((e: NodeJS.ErrnoException) => {
      throw failed(e.code === 'ENOENT' ? 'no such file or directory' : e.message);
    });
    const found = await devicesAt(base);
    if (found.length === 0) throw failed('not a device node');
    if (m.PathInContainer && !m.PathInContainer.startsWith('/')) throw new InvalidArgument(`bad format for path: ${m.PathInContainer}`);
    for (const d of found) {
      nodes.push({ ...d, path: (m.PathInContainer || m.PathOnHost) + d.path.slice(base.length) });
      if (!hc.Privileged) rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: m.CgroupPermissions || 'rwm' });
    }
  }
  if (!hc.Privileged) for (const rule of hc.DeviceCgroupRules ?? []) rules.push(deviceCgroupRule(rule));
  return { nodes, rules };
}

/** The masked and read-only paths a client asked for, if any (else the runtime's defaults apply). */
function systemPaths(hc: HostConfig, unconfined?: boolean): { maskedPaths?: string[]; readonlyPaths?: string[] } {
  if (unconfined) return { maskedPaths: [], readonlyPaths: [] };
  return { ...(hc.MaskedPaths && { maskedPaths: hc.MaskedPaths }), ...(hc.ReadonlyPaths && { readonlyPaths: hc.ReadonlyPaths }) };
}

/** Engine API resources in the runtime spec's terms (also the body of a live `runc update`). */
export function ociResources(r: Resources): Omit<LinuxResources, 'devices'> {
  const cpuPeriod = r.NanoCpus ? 100_000 : r.CpuPeriod;
  const cpuQuota = r.NanoCpus ? Math.round((r.NanoCpus * 100_000) / 1e9) : r.CpuQuota;
  const memory = {
    ...(r.Memory > 0 && { limit: r.Memory }),
    ...(typeof r.MemorySwappiness === 'number' && r.MemorySwappiness >= 0 && { swappiness: r.MemorySwappiness }),
    ...(r.MemoryReservation > 0 && { reservation: r.MemoryReservation }),
    ...(r.MemorySwap !== 0 && { swap: r.MemorySwap }),
    ...(r.OomKillDisable && { disableOOMKiller: true }),
  };
  const cpu = {
    ...(r.CpuShares > 0 && { shares: r.CpuShares }),
    ...(cpuPeriod > 0 && { period: cpuPeriod }),
    ...(cpuQuota !== 0 && { quota: cpuQuota }),
    ...(r.CpuRealtimeRuntime && { realtimeRuntime: r.CpuRealtimeRuntime }),
    ...(r.CpuRealtimePeriod && { realtimePeriod: r.CpuRealtimePeriod }),
    ...(r.CpusetCpus && { cpus: r.CpusetCpus }),
    ...(r.CpusetMems && { mems: r.CpusetMems }),
  };
  return {
    ...(Object.keys(memory).length && { memory }),
    ...(Object.keys(cpu).length && { cpu }),
    ...(r.PidsLimit && { pids: { limit: r.PidsLimit } }),
    ...(r.BlkioWeight > 0 && { blockIO: { weight: r.BlkioWeight } }),
  };
}

/**
 * The per-device I/O weights and throttles, by the devices' numbers (dockerd's getBlkioWeightDevices and
 * getBlkioThrottleDevices: each path must be a block device).
 */
async function withBlockIODevices(resources: Omit<LinuxResources, 'devices'>, r: Resources): Promise<Omit<LinuxResources, 'devices'>> {
  const numbered = async (field: string, list: Array<{ Path: string; Weight?: number; Rate?: number }> | null | undefined) =>
    list?.length ? { [field]: await Promise.all(list.map(async ({ Path, Weight, Rate }) => ({ ...(await blockDevice(Path)), ...(Weight !== undefined ? { weight: Weight } : { rate: Rate }) }))) } : {};
  const blockIO = {
    ...resources.blockIO,
    ...(await numbered('weightDevice', r.BlkioWeightDevice)),
    ...(await numbered('throttleReadBpsDevice', r.BlkioDeviceReadBps)),
    ...(await numbered('throttleWriteBpsDevice', r.BlkioDeviceWriteBps)),
    ...(await numbered('throttleReadIOPSDevice', r.BlkioDeviceReadIOps)),
    ...(await numbered('throttleWriteIOPSDevice', r.BlkioDeviceWriteIOps)),
  };
  return Object.keys(blockIO).length ? { ...resources, blockIO } : resources;
}

/** Numeric user and groups of a container's process. */
export interface ProcessUser {
  uid: number;
  gid: number;
  /** The primary group first, then the user's supplementary groups, as dockerd sets them. */
  additionalGids: number[];
}

/** `user[:group]` resolved in the container's rootfs (see lookupUser). */
export function resolveUser(rootfs: string, user: string, groupAdd: string[] = []): Promise<ProcessUser> {
  return ScopedRoot.with(rootfs, (r) => lookupUser(r, user || '0', groupAdd));
}

const maxId = 2147483647;

/**
 * `user[:group]` as numeric IDs, by number or by name from the container's own /etc/passwd and /etc/group, read
 * inside its root (an image's /etc/passwd may be a symlink to anywhere), as moby/sys/user's GetExecUser: a UID
 * without a passwd entry gets GID 0; a user found in passwd also gets the groups listing it as a member, unless a
 * group is given.
 */
export async function lookupUser(r: ScopedRoot, user: string, groupAdd: string[] = []): Promise<ProcessUser> {
  const [u = '', g] = user.split(':');
  const table = async (file: string) =>
    ((await r.readFile(`/etc/${file}`))?.toString('utf8') ?? '')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => f.length >= 3);
  const passwd = await table('passwd');
  const entry = /^\d+$/.test(u) ? passwd.find((f) => f[2] === String(Number(u))) : passwd.find((f) => f[0] === u);
  if (!entry && !/^\d+$/.test(u)) throw new InvalidArgument(`unable to find user ${u}: no matching entries in passwd file`);
  const uid = Number(entry?.[2] ?? u);
  let gid = Number(entry?.[3] ?? 0);
  const groups = g !== undefined || entry || groupAdd.length ? await table('group') : [];
  let supplementary: number[] = [];
  if (g) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const group = groups.find((f) => f[0] === g);
      if (!group) throw new InvalidArgument(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(group[2]);
    }
  } else if (entry) {
    supplementary = groups.filter((f) => (f[3] ?? '').split(',').includes(entry[0] ?? '')).map((f) => Number(f[2]));
  }
  // `--group-add`: a number as is, a name from the container's /etc/group (moby/sys/user's GetAdditionalGroups).
  for (const added of groupAdd) {
    const group = groups.find((f) => f[0] === added);
    if (!group && !/^\d+$/.test(added)) throw new InvalidArgument(`Unable to find group ${added}: no matching entries in group file`);
    supplementary.push(Number(group?.[2] ?? added));
  }
  if (uid > maxId || gid > maxId || supplementary.some((id) => id > maxId)) throw new InvalidArgument(`uids and gids must be in range 0-${maxId}`);
  return { uid, gid, additionalGids: [...new Set([gid, ...supplementary])] };
}

/** The PATH dockerd gives a Linux container whose config has none. */
const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A container's Config.Env as dockerd merges it at create: the user's variables, then the image's not overridden. */
export function configEnv(image: string[], user: string[]): string[] {
  if (user.length === 0) return [...image];
  const keys = new Set(user.map(envKey));
  return [...user, ...image.filter((e) => !keys.has(envKey(e)))];
}

/** The process environment, as dockerd's CreateDaemonEnvironment: PATH, HOSTNAME and TERM, then Config.Env. */
export function processEnv(config: { Env: string[]; Hostname: string; Tty: boolean }, tty = config.Tty, linkEnv: string[] = []): string[] {
  return mergeEnv([defaultPath, `HOSTNAME=${config.Hostname}`, ...(tty ? ['TERM=xterm'] : []), ...linkEnv], config.Env);
}

/** dockerd's ReplaceOrAppendEnvValues: values replace same-named ones in place or are appended; a bare NAME unsets it. */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const out: Array<string | undefined> = [...base];
  for (const e of overrides) {
    const i = out.findIndex((x) => x !== undefined && envKey(x) === envKey(e));
    if (!e.includes('=')) {
      if (i >= 0) out[i] = undefined;
    } else if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out.filter((e): e is string => e !== undefined);
}

const envKey = (e: string) => e.split('=', 1)[0] ?? '';
