// OCI runtime-spec config.json for a container, with Docker's defaults (capabilities, mounts, masked paths,
// device rules). Pure: the caller supplies the rootfs path and resolved process settings.

/** The subset of the runtime spec (config.md, config-linux.md) that Berth writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
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
  hostname: string;
  mounts: Array<{ destination: string; type: string; source: string; options: string[] }>;
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    cgroupsPath: string;
    resources: { devices: Array<{ allow: boolean; type?: string; major?: number; minor?: number; access: string }> };
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const defaultCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const maskedPaths = [
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
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

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

export interface SpecOptions {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  hostname: string;
  cgroupsPath: string;
  terminal?: boolean;
  readonlyRootfs?: boolean;
  /** Namespaces to share with the host instead of creating (e.g. `network` for --network host). */
  hostNamespaces?: string[];
  /** cgroup namespaces are private on cgroup v2 hosts only, as Docker does. */
  cgroupVersion: '1' | '2';
}

export function buildSpec(o: SpecOptions): RuntimeSpec {
  const shared = new Set(o.hostNamespaces ?? []);
  const namespaces = ['pid', 'network', 'ipc', 'uts', 'mount', ...(o.cgroupVersion === '2' ? ['cgroup'] : [])]
    .filter((t) => !shared.has(t))
    .map((type) => ({ type }));
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: !!o.terminal,
      user: { uid: o.uid, gid: o.gid },
      args: o.args,
      env: o.env,
      cwd: o.cwd || '/',
      capabilities: { bounding: defaultCapabilities, effective: defaultCapabilities, permitted: defaultCapabilities },
      noNewPrivileges: false,
      oomScoreAdj: 0,
    },
    root: { path: o.rootfs, readonly: !!o.readonlyRootfs },
    hostname: o.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    ],
    linux: {
      namespaces,
      cgroupsPath: o.cgroupsPath,
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          ...allowedDevices.map(([major, minor]) => ({ allow: true, type: 'c', major, ...(minor !== undefined && { minor }), access: 'rwm' })),
        ],
      },
      maskedPaths,
      readonlyPaths,
    },
  };
}
