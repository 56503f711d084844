// OCI runtime-spec config.json for a container, with Docker's defaults (capabilities, mounts, masked paths,
// device rules). Pure: the caller supplies the rootfs path and resolved process settings.
import type { HostDevice } from '../kernel/devices.js';
import { defaultCapabilities } from './capabilities.js';
import type { LinuxSeccomp } from './seccomp.js';

export { defaultCapabilities };

/** A mount in the runtime spec (config.md "Mounts"). */
export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** A device node the runtime creates in the container (config-linux.md "Devices"): the host's, as read there. */
export type LinuxDevice = HostDevice;

/** cgroup limits (config-linux.md "Control groups"); also the body of `runc update -r`. */
export type DeviceRule = { allow: boolean; type?: string; major?: number; minor?: number; access: string };
type BlockIODevice = { major: number; minor: number };
type ThrottleDevice = BlockIODevice & { rate: number };

export interface LinuxResources {
  devices?: DeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: Array<BlockIODevice & { weight: number }>;
    throttleReadBpsDevice?: ThrottleDevice[];
    throttleWriteBpsDevice?: ThrottleDevice[];
    throttleReadIOPSDevice?: ThrottleDevice[];
    throttleWriteIOPSDevice?: ThrottleDevice[];
  };
}

/** The subset of the runtime spec (config.md, config-linux.md) that Berth writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
    rlimits?: Array<{ type: string; hard: number; soft: number }>;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  annotations?: Record<string, string>;
  mounts: SpecMount[];
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    cgroupsPath: string;
    resources: LinuxResources;
    devices?: LinuxDevice[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: LinuxSeccomp;
    sysctl?: Record<string, string>;
  };
}

/** Docker's default masked paths (none for a privileged container). */
export const defaultMaskedPaths = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
/** Docker's default read-only paths (none for a privileged container). */
export const defaultReadonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The character devices every container may use (null, zero, full, tty, random, urandom, pts, ptmx). */
const allowedDevices: Array<[number, number | undefined]> = [
  [1, 3],
  [1, 5],
  [1, 7],
  [5, 0],
  [1, 8],
  [1, 9],
  [136, undefined],
  [5, 2],
];

export type NamespaceType = 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup';

export interface SpecOptions {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
  /** Unset when the container shares the host's UTS namespace (the runtime refuses to set it then). */
  hostname?: string;
  /**
   * The NIS domain name (`--domainname`), with a private UTS namespace only. Set through the `kernel.domainname`
   * sysctl, as dockerd does: runc 1.1 ignores the spec's `domainname` field.
   */
  domainname?: string;
  cgroupsPath: string;
  /** A private cgroup namespace (Docker's default on cgroup v2 hosts, `--cgroupns private`). */
  cgroupns?: boolean;
  terminal?: boolean;
  /** The client's terminal size, so the process sees it from its first instruction. */
  consoleSize?: [height: number, width: number];
  readonlyRootfs?: boolean;
  /** Namespaces not made private: `host` shares the host's, a path joins that namespace (another container's). */
  joinNamespaces?: Partial<Record<NamespaceType, 'host' | string>>;
  capabilities?: string[];
  /** Lifts masked and read-only paths, device rules and read-only sysfs, as Docker's --privileged. */
  privileged?: boolean;
  /** Paths to mask and to make read-only instead of Docker's defaults (`systempaths=unconfined` gives none). */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  /** Host devices to create in the container (all of them for --privileged). */
  devices?: LinuxDevice[];
  /** Device cgroup rules after the defaults (`--device`, `--device-cgroup-rule`). */
  deviceRules?: DeviceRule[];
  oomScoreAdj?: number;
  sysctl?: Record<string, string>;
  annotations?: Record<string, string>;
  noNewPrivileges?: boolean;
  seccomp?: LinuxSeccomp;
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  resources?: Omit<LinuxResources, 'devices'>;
  shmSize?: number;
  /** More mounts after the defaults (e.g. the init binary). */
  mounts?: SpecMount[];
}

export function buildSpec(o: SpecOptions): RuntimeSpec {
  const joins = o.joinNamespaces ?? {};
  const types: NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount', ...(o.cgroupns ? (['cgroup'] as const) : [])];
  const namespaces = types.flatMap((type) => {
    const join = joins[type];
    if (join === 'host') return [];
    return [join ? { type, path: join } : { type }];
  });
  const caps = o.capabilities ?? defaultCapabilities;
  const privileged = !!o.privileged;
  const ro = privileged ? [] : ['ro'];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: !!o.terminal,
      ...(o.terminal && o.consoleSize?.[0] && o.consoleSize[1] && { consoleSize: { height: o.consoleSize[0], width: o.consoleSize[1] } }),
      user: { uid: o.uid, gid: o.gid, ...(o.additionalGids?.length && { additionalGids: o.additionalGids }) },
      args: o.args,
      env: o.env,
      cwd: o.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: !!o.noNewPrivileges,
      oomScoreAdj: o.oomScoreAdj ?? 0,
      ...(o.rlimits?.length && { rlimits: o.rlimits }),
    },
    root: { path: o.rootfs, readonly: !!o.readonlyRootfs },
    ...(o.hostname !== undefined && { hostname: o.hostname }),
    ...(o.annotations && { annotations: o.annotations }),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...ro, 'nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      joins.ipc === 'host'
        ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
        : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.floor((o.shmSize ?? 64 * 1024 * 1024) / 1024)}k`] },
      ...(o.mounts ?? []),
    ],
    linux: {
      namespaces,
      cgroupsPath: o.cgroupsPath,
      resources: {
        devices: privileged
          ? [{ allow: true, access: 'rwm' }]
          : [
              { allow: false, access: 'rwm' },
              ...allowedDevices.map(([major, minor]) => ({ allow: true, type: 'c', major, ...(minor !== undefined && { minor }), access: 'rwm' })),
              ...(o.deviceRules ?? []),
            ],
        ...o.resources,
      },
      ...(o.devices?.length && { devices: o.devices }),
      maskedPaths: privileged ? [] : (o.maskedPaths ?? defaultMaskedPaths),
      readonlyPaths: privileged ? [] : (o.readonlyPaths ?? defaultReadonlyPaths),
      ...(o.seccomp && !privileged && { seccomp: o.seccomp }),
      ...((o.domainname || o.sysctl) && { sysctl: { ...o.sysctl, ...(o.domainname && { 'kernel.domainname': o.domainname }) } }),
    },
  };
}
