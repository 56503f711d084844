// `run`/`create` (and `update`) flags, docker's names and parsing, turned into the Engine API's create body.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseBytes } from '../format/units.js';
import { parseGoDuration } from '../../util/duration.js';
import { CliError, ExitCode } from '../context.js';
import { quote } from '../format/gofmt.js';
import { collect } from './common.js';
import { envFile } from './env-file.js';
import { formatIP, isMAC, parseIP, splitBracketedHost } from './netaddr.js';

export interface ResourceFlags {
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  cpus?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  blkioWeight?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  restart?: { Name: string; MaximumRetryCount: number };
}

/** Flags of `run`/`create` only (`update` cannot change them). */
interface DeviceAndKernelFlags {
  groupAdd: string[];
  sysctl: string[];
  oomScoreAdj?: number;
  device: string[];
  deviceCgroupRule: string[];
  tmpfs: string[];
  cgroupns?: string;
  cgroupParent?: string;
  memorySwappiness?: number;
  blkioWeightDevice: string[];
  deviceReadBps: string[];
  deviceWriteBps: string[];
  deviceReadIops: string[];
  deviceWriteIops: string[];
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  /** docker's hidden older spelling of --dns-option. */
  dnsOpt: string[];
  annotation: string[];
  mount: string[];
  volume: string[];
  publish: string[];
  publishAll?: boolean;
  link: string[];
  linkLocalIp: string[];
  volumesFrom: string[];
  volumeDriver?: string;
  storageOpt: string[];
  userns?: string;
  isolation?: string;
  gpus?: string;
  kernelMemory?: number;
  attach: string[];
  expose: string[];
  healthCmd?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthStartPeriod?: number;
  healthStartInterval?: number;
  healthRetries?: number;
  /** commander's name for --no-healthcheck: false when given. */
  healthcheck?: boolean;
}

export interface RunFlags extends ResourceFlags, DeviceAndKernelFlags {
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  domainname?: string;
  label: string[];
  labelFile: string[];
  cidfile?: string;
  quiet?: boolean;
  platform?: string;
  rm?: boolean;
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  detachKeys?: string;
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  readOnly?: boolean;
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  ulimit: Array<{ Name: string; Soft: number; Hard: number }>;
  pid?: string;
  ipc?: string;
  uts?: string;
  network: string[];
  /** docker's older spelling of --network. */
  net: string[];
  ip?: string;
  ip6?: string;
  networkAlias: string[];
  /** docker's hidden older spelling of --network-alias. */
  netAlias: string[];
  macAddress?: string;
  oomKillDisable?: boolean;
  shmSize?: number;
  runtime?: string;
  logDriver?: string;
  logOpt: string[];
  /** `--pull`: "missing" (the default), "always" or "never"; checked by the command. */
  pull: string;
}

/** Commander parsers failing with docker's `invalid argument "v" for "--flag" flag: …` shape. */
const bytes = (v: string) => {
  if (v === '-1') return -1;
  try {
    return parseBytes(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const int = (v: string) => {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
};
const duration = (v: string) => {
  try {
    return parseGoDuration(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const decimal = (v: string) => {
  if (!/^\d*\.?\d+$/.test(v)) throw new InvalidArgumentError(`failed to parse ${v} as a rational number`);
  return Number(v);
};
function restartPolicy(v: string): { Name: string; MaximumRetryCount: number } {
  const [name = '', count] = v.split(':');
  if (count !== undefined && name !== 'on-failure') throw new InvalidArgumentError(`maximum retry count can only be used with 'on-failure'`);
  if (count !== undefined && !/^\d+$/.test(count)) throw new InvalidArgumentError(`invalid restart policy format: maximum retry count must be an integer`);
  return { Name: name, MaximumRetryCount: Number(count ?? 0) };
}
function ulimit(v: string, previous: RunFlags['ulimit']): RunFlags['ulimit'] {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw new InvalidArgumentError(`invalid ulimit argument: ${v}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard) throw new InvalidArgumentError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return [...previous, { Name: m[1] as string, Soft: soft, Hard: hard }];
}

/** The flags `update` shares with `run`: cgroup limits and the restart policy. */
export const withResourceFlags = (cmd: Command) =>
  cmd
    .option('-m, --memory <bytes>', 'Memory limit', bytes)
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", bytes)
    .option('--memory-reservation <bytes>', 'Memory soft limit', bytes)
    .option('--cpus <decimal>', 'Number of CPUs', decimal)
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', int)
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period', int)
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota', int)
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)', int)
    .option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable', int)
    .option('--cpu-rt-period <int>', 'Limit CPU real-time period in microseconds', int)
    .option('--cpu-rt-runtime <int>', 'Limit CPU real-time runtime in microseconds', int)
    .option('--restart <string>', 'Restart policy to apply when a container exits', restartPolicy);

export const withCreateFlags = (cmd: Command) =>
  withResourceFlags(
    cmd
      .argument('<IMAGE>')
      .argument('[COMMAND...]')
      .option('--name <string>', 'Assign a name to the container')
      .option('-e, --env <list>', 'Set environment variables', collect, [])
      .option('--env-file <list>', 'Read in a file of environment variables', collect, [])
      .option('-w, --workdir <string>', 'Working directory inside the container')
      .option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])')
      .option('--entrypoint <string>', 'Overwrite the default ENTRYPOINT of the image')
      .option('-h, --hostname <string>', 'Container host name')
      .option('--domainname <string>', 'Container NIS domain name')
      .option('-l, --label <list>', 'Set meta data on a container', collect, [])
      .option('--label-file <list>', 'Read in a line delimited file of labels', collect, [])
      .option('--cidfile <string>', 'Write the container ID to the file')
      .option('-q, --quiet', 'Suppress the pull output')
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
      .option('-i, --interactive', 'Keep STDIN open even if not attached')
      .option('-t, --tty', 'Allocate a pseudo-TTY')
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
      .option('--stop-signal <string>', 'Signal to stop the container')
      .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container', int)
      .option('--read-only', "Mount the container's root filesystem as read only")
      .option('--privileged', 'Give extended privileges to this container')
      .option('--cap-add <list>', 'Add Linux capabilities', collect, [])
      .option('--cap-drop <list>', 'Drop Linux capabilities', collect, [])
      .option('--security-opt <list>', 'Security Options', collect, [])
      .option('--ulimit <ulimit>', 'Ulimit options', ulimit, [])
      .option('--pid <string>', 'PID namespace to use')
      .option('--ipc <string>', 'IPC mode to use')
      .option('--uts <string>', 'UTS namespace to use')
      .option('--network <network>', 'Connect a container to a network', collect, [])
      .addOption(new Option('--net <network>').hideHelp().argParser(collect).default([]))
      .option('--network-alias <list>', 'Add network-scoped alias for the container', collect, [])
      .addOption(new Option('--net-alias <list>').hideHelp().argParser(collect).default([]))
      .option('--ip <string>', 'IPv4 address (e.g., 172.30.100.104)')
      .option('--ip6 <string>', 'IPv6 address (e.g., 2001:db8::33)')
      .option('--link-local-ip <list>', 'Container IPv4/IPv6 link-local addresses', collect, [])
      .option('--mac-address <string>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
      .option('--oom-kill-disable', 'Disable OOM Killer')
      .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)", int)
      .option('--group-add <list>', 'Add additional groups to join', collect, [])
      .option('--sysctl <map>', 'Sysctl options', collect, [])
      .option('--device <list>', 'Add a host device to the container', collect, [])
      .option('--device-cgroup-rule <list>', 'Add a rule to the cgroup allowed devices list', collect, [])
      .option('--tmpfs <list>', 'Mount a tmpfs directory', collect, [])
      .option('--cgroupns <string>', 'Cgroup namespace to use (host|private)')
      .option('--cgroup-parent <string>', 'Optional parent cgroup for the container')
      .option('--memory-swappiness <int>', 'Tune container memory swappiness (0 to 100)', int)
      .option('--blkio-weight-device <list>', 'Block IO weight (relative device weight)', collect, [])
      .option('--device-read-bps <list>', 'Limit read rate (bytes per second) from a device', collect, [])
      .option('--device-write-bps <list>', 'Limit write rate (bytes per second) to a device', collect, [])
      .option('--device-read-iops <list>', 'Limit read rate (IO per second) from a device', collect, [])
      .option('--device-write-iops <list>', 'Limit write rate (IO per second) to a device', collect, [])
      .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect, [])
      .option('--dns <list>', 'Set custom DNS servers', collect, [])
      .option('--dns-search <list>', 'Set custom DNS search domains', collect, [])
      .option('--dns-option <list>', 'Set DNS options', collect, [])
      .addOption(new Option('--dns-opt <list>').hideHelp().argParser(collect).default([]))
      .option('--annotation <map>', 'Add an annotation to the container (passed through to the OCI runtime)', collect, [])
      .option('--mount <mount>', 'Attach a filesystem mount to the container', collect, [])
      .option('-v, --volume <list>', 'Bind mount a volume', collect, [])
      .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect, [])
      .option('-P, --publish-all', 'Publish all exposed ports to random ports')
      .option('--link <list>', 'Add link to another container', collect, [])
      .option('--volumes-from <list>', 'Mount volumes from the specified container(s)', collect, [])
      .option('--volume-driver <string>', 'Optional volume driver for the container')
      .option('--storage-opt <list>', 'Storage driver options for the container', collect, [])
      .option('--userns <string>', 'User namespace to use')
      .option('--isolation <string>', 'Container isolation technology')
      .option('--gpus <gpu-request>', 'GPU devices to add to the container ("all" to pass all GPUs)')
      .option('--kernel-memory <bytes>', 'Kernel memory limit', bytes)
      .option('-a, --attach <list>', 'Attach to STDIN, STDOUT or STDERR', collect, [])
      .addOption(new Option('--disable-content-trust').hideHelp())
      .option('--expose <list>', 'Expose a port or a range of ports', collect, [])
      .option('--health-cmd <string>', 'Command to run to check health')
      .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h)', duration)
      .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h)', duration)
      .option('--health-start-period <duration>', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)', duration)
      .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h)', duration)
      .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy', int)
      .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK')
      .option('--shm-size <bytes>', 'Size of /dev/shm', bytes)
      .option('--runtime <string>', 'Runtime to use for this container')
      .option('--log-driver <string>', 'Logging driver for the container')
      .option('--log-opt <list>', 'Log driver options', collect, [])
      .option('--pull <string>', 'Pull image before running ("always", "missing", "never")', 'missing'),
  ).passThroughOptions();

/** The Engine API `Resources` fields set by flags (only those given). */
export function resourcesBody(o: ResourceFlags) {
  return {
    ...(o.memory !== undefined && { Memory: o.memory }),
    ...(o.memorySwap !== undefined && { MemorySwap: o.memorySwap }),
    ...(o.memoryReservation !== undefined && { MemoryReservation: o.memoryReservation }),
    ...(o.cpus !== undefined && { NanoCpus: Math.round(o.cpus * 1e9) }),
    ...(o.cpuShares !== undefined && { CpuShares: o.cpuShares }),
    ...(o.cpuPeriod !== undefined && { CpuPeriod: o.cpuPeriod }),
    ...(o.cpuQuota !== undefined && { CpuQuota: o.cpuQuota }),
    ...(o.cpusetCpus !== undefined && { CpusetCpus: o.cpusetCpus }),
    ...(o.cpusetMems !== undefined && { CpusetMems: o.cpusetMems }),
    ...(o.pidsLimit !== undefined && { PidsLimit: o.pidsLimit }),
    ...(o.blkioWeight !== undefined && { BlkioWeight: o.blkioWeight }),
    ...(o.cpuRtPeriod !== undefined && { CpuRealtimePeriod: o.cpuRtPeriod }),
    ...(o.cpuRtRuntime !== undefined && { CpuRealtimeRuntime: o.cpuRtRuntime }),
    ...(o.restart && { RestartPolicy: o.restart }),
  };
}

/** As docker's ParseDevice: `host[:container][:rwm]` (a second part that is a mode is the mode). */
function deviceMapping(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  const isMode = (m: string) => m.length > 0 && m.length <= 3 && [...m].every((c, i) => 'rwm'.includes(c) && m.indexOf(c) === i);
  let [host = '', container = host, mode = 'rwm'] = parts;
  if (parts.length === 2 && isMode(container)) [container, mode] = [host, parts[1] as string];
  if (parts.length > 3 || !host) throw new CliError(`invalid argument "${v}" for "--device" flag: bad format for path: ${v}`, ExitCode.Usage);
  if (!isMode(mode)) throw new CliError(`invalid argument "${v}" for "--device" flag: invalid device mode: ${mode}`, ExitCode.Usage);
  return { PathOnHost: host, PathInContainer: container, CgroupPermissions: mode };
}

/** `path:value` for the per-device I/O flags; `parse` reads the value (bytes for rates, an integer otherwise). */
function perDevice<K extends string>(flag: string, list: string[], key: K, parse: (v: string) => number): Array<{ Path: string } & Record<K, number>> {
  return list.map((v) => {
    const i = v.lastIndexOf(':');
    if (i <= 0) throw new CliError(`invalid argument "${v}" for "--${flag}" flag: bad format: ${v}`, ExitCode.Usage);
    let value: number;
    try {
      value = parse(v.slice(i + 1));
    } catch (e) {
      throw new CliError(`invalid argument "${v}" for "--${flag}" flag: invalid value: ${(e as Error).message}`, ExitCode.Usage);
    }
    return { Path: v.slice(0, i), [key]: value } as { Path: string } & Record<K, number>;
  });
}

/** Go's strconv.ParseBool. */
function goBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/**
 * One record of Go's encoding/csv (comma-separated, `"` quoting with `""` for a quote), as docker reads a `--mount`
 * value: the first non-empty line's fields, or Go's parse error (its columns are 1-based byte offsets).
 */
export function goCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) i += text[i] === '\n' ? 1 : 2;
  if (i >= text.length) throw new Error('EOF');
  const lineStart = i;
  const col = (at: number) => Buffer.byteLength(text.slice(lineStart, at)) + 1;
  const fail = (at: number, what: string) => new Error(`parse error on line 1, column ${col(at)}: ${what}`);
  for (;;) {
    if (text[i] !== '"') {
      let end = i;
      while (end < text.length && text[end] !== ',' && text[end] !== '\n' && !(text[end] === '\r' && text[end + 1] === '\n')) end++;
      const field = text.slice(i, end);
      if (field.includes('"')) throw fail(i + field.indexOf('"'), 'bare " in non-quoted-field');
      fields.push(field);
      if (text[end] !== ',') return fields;
      i = end + 1;
      continue;
    }
    let field = '';
    let j = i + 1;
    for (;;) {
      const q = text.indexOf('"', j);
      if (q < 0) throw new Error(`parse error on line 1, column ${Buffer.byteLength(text.slice(lineStart)) + 1}: extraneous or missing " in quoted-field`);
      field += text.slice(j, q);
      const next = text[q + 1];
      if (next === '"') {
        field += '"';
        j = q + 2;
      } else if (next === ',' || next === undefined || next === '\n' || (next === '\r' && text[q + 2] === '\n')) {
        fields.push(field);
        if (next !== ',') return fields;
        i = q + 2;
        break;
      } else throw fail(q, 'extraneous or missing " in quoted-field');
    }
  }
}

interface MountSpec {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; Subpath?: string; DriverConfig: { Name?: string; Options?: Record<string, string> } };
  ImageOptions?: { Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/**
 * `--mount` as docker's MountOpt reads it: CSV fields `key=value` (keys case-insensitive), the API's Mount with
 * only the fields docker sends (an options object appears as soon as one of its keys is given, even to a zero
 * value). A relative source starting with "." is made absolute, as docker's CLI does. Throws docker's messages.
 */
export function mountRequest(value: string): MountSpec {
  const fail = (message: string) => new FlagError('mount', value, message);
  let fields: string[];
  try {
    fields = goCsvRecord(value);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const m: MountSpec = { Type: 'volume' };
  const volume = () => (m.VolumeOptions ??= { DriverConfig: {} });
  const bind = () => (m.BindOptions ??= {});
  const tmpfs = () => (m.TmpfsOptions ??= {});
  // a `k=v` option to a map; an empty key is dropped, as docker's setValueOnMap does
  const setOn = (map: Record<string, string>, kv: string) => {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    if (k !== '') map[k] = eq < 0 ? '' : kv.slice(eq + 1);
  };
  const boolean = (key: string, val: string) => {
    const b = goBool(val);
    if (b === undefined) throw fail(`invalid value for ${key}: ${val}`);
    return b;
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') volume().NoCopy = true;
      else if (key === 'bind-nonrecursive') bind().NonRecursive = true;
      else throw fail(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        m.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        m.Source = val;
        if (val.startsWith('.')) m.Source = resolve(val);
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = boolean(key, val);
        break;
      case 'consistency':
        m.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bind().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = boolean(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bind().NonRecursive = true;
        else if (val === 'writable') bind().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bind().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled') throw fail(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath':
        volume().Subpath = val;
        break;
      case 'volume-nocopy':
        volume().NoCopy = boolean('volume-nocopy', val);
        break;
      case 'volume-label':
        setOn((volume().Labels ??= {}), val);
        break;
      case 'volume-driver':
        volume().DriverConfig.Name = val;
        break;
      case 'volume-opt':
        setOn((volume().DriverConfig.Options ??= {}), val);
        break;
      case 'image-subpath':
        (m.ImageOptions ??= {}).Subpath = val;
        break;
      case 'tmpfs-size':
        try {
          tmpfs().SizeBytes = parseBytes(val);
        } catch {
          throw fail(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode':
        // strconv.ParseUint(val, 8, 32)
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) throw fail(`invalid value for ${key}: ${val}`);
        tmpfs().Mode = parseInt(val, 8);
        break;
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.Type === '') throw fail('type is required');
  if (!m.Target) throw fail('target is required');
  const mix = (what: string, given: unknown, type: string) => {
    if (given !== undefined && m.Type !== type) throw fail(`cannot mix '${what}-*' options with mount type '${m.Type}'`);
  };
  mix('volume', m.VolumeOptions, 'volume');
  mix('image', m.ImageOptions, 'image');
  mix('bind', m.BindOptions, 'bind');
  mix('tmpfs', m.TmpfsOptions, 'tmpfs');
  if (m.BindOptions?.ReadOnlyNonRecursive && !m.ReadOnly) throw fail("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (m.BindOptions?.ReadOnlyForceRecursive) {
    if (!m.ReadOnly) throw fail("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (m.BindOptions.Propagation !== 'rprivate') throw fail("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }
  // what Go's omitempty leaves out
  if (m.Source === '') delete m.Source;
  if (m.ReadOnly === false) delete m.ReadOnly;
  if (m.Consistency === '') delete m.Consistency;
  if (m.BindOptions) for (const k of ['Propagation', 'NonRecursive'] as const) if (!m.BindOptions[k]) delete m.BindOptions[k];
  if (m.VolumeOptions) {
    const v = m.VolumeOptions;
    if (!v.NoCopy) delete v.NoCopy;
    if (!v.Subpath) delete v.Subpath;
    if (v.Labels && Object.keys(v.Labels).length === 0) delete v.Labels;
    if (!v.DriverConfig.Name) delete v.DriverConfig.Name;
    if (v.DriverConfig.Options && Object.keys(v.DriverConfig.Options).length === 0) delete v.DriverConfig.Options;
  }
  if (m.ImageOptions && !m.ImageOptions.Subpath) delete m.ImageOptions.Subpath;
  if (m.TmpfsOptions) for (const k of ['SizeBytes', 'Mode'] as const) if (!m.TmpfsOptions[k]) delete m.TmpfsOptions[k];
  return m;
}

/**
 * The compose loader's ParseVolume, as docker's CLI reads a `-v` spec: `[source:]target[:options]`, where a single
 * letter before a colon is a Windows drive (so `a:b` is one anonymous target) and a spec of one or two bytes is a
 * target. Only its source matters here; throws docker's "invalid spec" errors.
 */
function volumeSource(spec: string): string {
  if (spec === '') throw new Error('invalid empty volume spec');
  if (Buffer.byteLength(spec) <= 2) return '';
  let source: string | undefined;
  let target: string | undefined;
  let buffer = '';
  const end = spec.length;
  for (let i = 0; i <= end; i++) {
    const ch = i < end ? spec[i] : undefined; // undefined: the end of the spec
    if (ch === ':' && [...buffer].length === 1 && /^\p{L}$/u.test(buffer)) {
      buffer += ch;
    } else if (ch === ':' || ch === undefined) {
      if (buffer === '') throw new Error(`invalid spec: ${spec}: empty section between colons`);
      if (source === undefined && ch === undefined) target = buffer;
      else if (source === undefined) source = buffer;
      else if (target === undefined) target = buffer;
      else if (ch === ':') throw new Error(`invalid spec: ${spec}: too many colons`);
      buffer = '';
    } else buffer += ch;
  }
  return source ?? '';
}

/**
 * `-v`/`--volume` as docker's CLI splits them: a spec with a source (a host path or a volume name) is a bind,
 * sent in HostConfig.Binds (a host path starting with "." made absolute); a bare target is an anonymous volume,
 * sent in Config.Volumes. Repeated specs are sent once, as docker keeps them in a set.
 */
export function volumeFlags(specs: string[]): { Volumes: Record<string, object>; Binds: string[] } {
  const Volumes: Record<string, object> = {};
  const Binds: string[] = [];
  for (const spec of new Set(specs)) {
    const source = volumeSource(spec);
    if (source === '') {
      Volumes[spec] = {};
      continue;
    }
    const colon = spec.indexOf(':');
    const host = spec.slice(0, colon);
    Binds.push(source.startsWith('.') && !isAbsolute(host) && host.startsWith('.') ? `${resolve(host)}${spec.slice(colon)}` : spec);
  }
  return { Volumes, Binds };
}

/** A flag value docker's flag parser itself refuses: printed with the usage line rather than as `berth: …`. */
export class FlagError extends CliError {
  constructor(flag: string, value: string, message: string) {
    // pflag's %q: quotes and backslashes in the value are escaped
    super(`invalid argument ${quote(value)} for "--${flag}" flag: ${message}`, ExitCode.Usage);
  }
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** strconv.ParseUint(s, 10, 16) with Go's error text. */
function parseUint16(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${quote(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${quote(s)}: value out of range`);
  return n;
}

/** nat.ParsePortRange: `80` or `8000-8010` (only the first two parts of `a-b-c` count, as in docker). */
export function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  if (!ports.includes('-')) {
    const n = parseUint16(ports);
    return [n, n];
  }
  const parts = ports.split('-');
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (end < start) throw new Error(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: `80/udp` → [udp, 80]; no protocol (or an empty one) is tcp; no port is nothing at all. */
function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** docker's convertToStandardNotation: `published=8080,target=80[,protocol=udp]` → `8080:80/udp`. */
function standardNotation(spec: string): string {
  if (!spec.includes('=')) return spec;
  const params: Record<string, string> = { protocol: 'tcp' };
  for (const param of spec.split(',')) {
    const eq = param.indexOf('=');
    if (eq <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
    params[param.slice(0, eq)] = param.slice(eq + 1);
  }
  return `${params['published'] ?? ''}:${params['target'] ?? ''}/${params['protocol']}`;
}

/** One `-p` spec (nat.ParsePortSpec): `[ip:][hostPort:]containerPort[/proto]`, ports or equal-length ranges. */
function parsePortSpec(rawPort: string): Array<{ port: string; binding: PortBinding }> {
  // nat's splitParts: the last part is the container port, the one before the host port, the rest the IP
  const parts = rawPort.split(':');
  const n = parts.length;
  let ip = n >= 3 ? parts.slice(0, n - 2).join(':') : '';
  let hostPort = n >= 2 ? parts[n - 2]! : '';
  const [proto, containerPort] = splitProtoPort(parts[n - 1]!);
  if (ip.startsWith('[')) {
    const split = splitBracketedHost(`${ip}:`);
    if ('error' in split) throw new Error(`invalid IP address ${ip}: ${split.error}`);
    ip = split.host;
  }
  if (ip !== '' && !parseIP(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${rawPort}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new Error(`invalid hostPort: ${hostPort}`);
    }
  }
  // a host range for a single container port is the range to pick a free host port from
  if (hostPort !== '' && end - start !== hostEnd - hostStart && end !== start) {
    throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const protocol = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new Error(`invalid proto: ${proto}`);
  const out: Array<{ port: string; binding: PortBinding }> = [];
  for (let i = 0; i <= end - start; i++) {
    if (hostPort !== '') hostPort = String(hostStart + i);
    if (start === end && hostStart !== hostEnd) hostPort = `${hostPort}-${hostEnd}`;
    out.push({ port: `${start + i}/${protocol}`, binding: { HostIp: ip, HostPort: hostPort } });
  }
  return out;
}

/**
 * `-p`/`--publish` as docker's CLI reads it (nat.ParsePortSpecs after the long `published=,target=` form): the
 * ports to expose and their bindings, a port published twice keeping both bindings. Throws docker's messages.
 */
export function parsePortSpecs(specs: string[]): { exposed: Record<string, object>; bindings: Record<string, PortBinding[]> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const spec of specs.map(standardNotation)) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed[port] ??= {};
      (bindings[port] ??= []).push(binding);
    }
  }
  return { exposed, bindings };
}

/** `--expose 80[/proto]` or a range `8000-8010[/proto]` added to `exposed`, as docker's parse does (any protocol). */
export function addExposedPorts(exposed: Record<string, object>, expose: string[]): void {
  for (const e of expose) {
    if (e.includes(':')) throw new Error(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let start: number;
    let end: number;
    try {
      [start, end] = parsePortRange(port);
    } catch (err) {
      throw new Error(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`);
    }
    for (let p = start; p <= end; p++) exposed[`${p}/${proto}`] ??= {};
  }
}

/** What `--dns`, `--dns-search`, `--add-host` and `--link` accept (docker's opts validators), as sent. */
function validated(flag: string, list: string[], check: (v: string) => string): string[] {
  return list.map((v) => {
    try {
      return check(v);
    } catch (e) {
      throw new FlagError(flag, v, (e as Error).message);
    }
  });
}

/** opts.ValidateIPAddress: the address in Go's canonical form. */
function ipAddress(v: string): string {
  const ip = parseIP(v.trim());
  if (!ip) throw new Error(`IP address is not correctly formatted: ${v}`);
  return formatIP(ip);
}

/** opts.ValidateDNSSearch, with docker's domain pattern (its `(:?` groups do allow a colon). */
function dnsSearch(v: string): string {
  const val = v.replace(/^ +| +$/g, '');
  if (val === '.') return val;
  const m = /^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])))*)\.?\s*$/.exec(val);
  if (!/[a-zA-Z]/.test(val) || !m || m[1]!.length >= 255) throw new Error(`${val} is not a valid domain`);
  return m[1]!;
}

/** opts.ValidateExtraHost: `host:ip` or `host=ip` (brackets allowed around the IP), sent as `host:ip`. */
function extraHost(v: string): string {
  let sep = v.indexOf('=');
  if (sep < 0) sep = v.indexOf(':');
  const host = sep < 0 ? '' : v.slice(0, sep);
  let ip = v.slice(sep + 1);
  if (sep < 0 || host === '' || host.includes(':')) throw new Error(`bad format for add-host: ${quote(v)}`);
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (!parseIP(ip.trim())) throw new Error(`invalid IP address in add-host: ${quote(ip)}`);
  }
  return `${host}:${ip}`;
}

/** opts.ValidateLink: `name` or `name:alias`, sent as given. */
function link(v: string): string {
  if (v === '') throw new Error('empty string specified for links');
  if (v.split(':').length > 2) throw new Error(`bad format for links: ${v}`);
  return v;
}

/** docker's create warns of a loopback --dns server (the container's own loopback is not the host's). */
export function localhostDNSWarning(hostConfig: { Dns?: string[] }): string[] {
  const loopback = hostConfig.Dns?.find((d) => d === '::1' || /^127\./.test(d));
  return loopback ? [`Localhost DNS (${loopback}) may fail in containers.`] : [];
}

/** A `--network` value: a name, or docker's long form `name=n,alias=a,ip=…` (opts.NetworkOpt). */
interface NetworkAttachment {
  target: string;
  aliases: string[];
  links: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  linkLocalIPs: string[];
  driverOpts?: Record<string, string>;
  gwPriority?: number;
}

function networkAttachment(value: string): NetworkAttachment {
  const n: NetworkAttachment = { target: value, aliases: [], links: [], linkLocalIPs: [] };
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return n;
  const fail = (message: string) => new FlagError('network', value, message);
  n.target = '';
  for (const field of value.split(',')) {
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq <= 0) throw fail(`invalid field ${field}`);
    const key = lower.slice(0, eq).trim();
    const val = lower.slice(eq + 1).trim();
    if (key === 'name') n.target = val;
    else if (key === 'alias') n.aliases.push(val);
    else if (key === 'ip') n.ipv4 = val;
    else if (key === 'ip6') n.ipv6 = val;
    else if (key === 'mac-address') n.mac = val;
    else if (key === 'link-local-ip') n.linkLocalIPs.push(val);
    else if (key === 'driver-opt') {
      const i = val.indexOf('=');
      if (i <= 0) throw fail('invalid key value pair format in driver options');
      (n.driverOpts ??= {})[val.slice(0, i).trim()] = val.slice(i + 1).trim();
    } else if (key === 'gw-priority') {
      if (!/^[+-]?\d+$/.test(val)) throw fail(`invalid gw-priority (${val}): invalid syntax`);
      n.gwPriority = Number(val);
    } else throw fail(`invalid field key ${key}`);
  }
  if (n.target === '') throw fail('network name/id is not specified');
  return n;
}

/** container.NetworkMode.IsUserDefined: any network but the built-in modes. */
function isUserDefined(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

/** An EndpointSettings with only the fields that say something. */
function endpointSettings(n: NetworkAttachment) {
  if (n.target.trim() === '') throw new Error('no name set for network');
  if (!isUserDefined(n.target)) {
    if (n.aliases.length) throw new Error('network-scoped aliases are only supported for user-defined networks');
    if (n.links.length) throw new Error('links are only supported for user-defined networks');
  }
  if (n.mac !== undefined && !isMAC(n.mac.trim())) throw new Error(`${n.mac} is not a valid mac address`);
  const ipam = n.ipv4 || n.ipv6 || n.linkLocalIPs.length;
  return {
    ...(n.aliases.length && { Aliases: n.aliases }),
    ...(n.links.length && { Links: n.links }),
    ...(ipam && { IPAMConfig: { ...(n.ipv4 && { IPv4Address: n.ipv4 }), ...(n.ipv6 && { IPv6Address: n.ipv6 }), ...(n.linkLocalIPs.length && { LinkLocalIPs: n.linkLocalIPs }) } }),
    ...(n.mac && { MacAddress: n.mac }),
    ...(n.driverOpts && { DriverOpts: n.driverOpts }),
    ...(n.gwPriority && { GwPriority: n.gwPriority }),
  };
}

/**
 * HostConfig.NetworkMode and NetworkingConfig as docker's parseNetworkOpts builds them: `--ip`, `--ip6`,
 * `--network-alias`, `--mac-address`, `--link-local-ip` (and `--link` on a user-defined network) belong to the
 * first network, "default" when none is given; a single network with nothing to say gets no entry.
 */
export function networkingBody(o: RunFlags): { NetworkMode: string; EndpointsConfig: Record<string, object> } {
  const given = [...o.network, ...o.net].map(networkAttachment);
  const aliases = [...o.networkAlias, ...o.netAlias];
  const apply = (n: NetworkAttachment) => {
    const conflict = (what: string) => new CliError(`conflicting options: cannot specify both ${what}`, ExitCode.Usage);
    if (n.aliases.length && aliases.length) throw conflict('--network-alias and per-network alias');
    if (n.links.length && o.link.length) throw conflict('--link and per-network links');
    if (n.ipv4 && o.ip) throw conflict('--ip and per-network IPv4 address');
    if (n.ipv6 && o.ip6) throw conflict('--ip6 and per-network IPv6 address');
    if (n.mac && o.macAddress) throw conflict('--mac-address and per-network MAC address');
    if (n.linkLocalIPs.length && o.linkLocalIp.length) throw conflict('--link-local-ip and per-network link-local IP addresses');
    if (aliases.length) n.aliases = [...aliases];
    // on a user-defined network a link is an endpoint alias; on the default bridge, a legacy link only
    if (isUserDefined(n.target) && o.link.length) n.links = [...o.link];
    if (o.ip) n.ipv4 = o.ip;
    if (o.ip6) n.ipv6 = o.ip6;
    if (o.macAddress) n.mac = o.macAddress;
    if (o.linkLocalIp.length) n.linkLocalIPs = [...o.linkLocalIp];
  };
  const endpoints: Record<string, object> = {};
  if (given.length === 0) {
    const n: NetworkAttachment = { target: 'default', aliases: [], links: [], linkLocalIPs: [] };
    apply(n);
    endpoints['default'] = endpointSettings(n);
  }
  let userDefined = false;
  let builtIn = false;
  given.forEach((n, i) => {
    if (isUserDefined(n.target)) userDefined = true;
    else builtIn = true;
    if (i === 0) apply(n);
    const ep = endpointSettings(n);
    if (n.target in endpoints) throw new CliError(`network ${JSON.stringify(n.target)} is specified multiple times`, ExitCode.Usage);
    if (i === 0 && given.length === 1 && Object.keys(ep).length === 0) return;
    endpoints[n.target] = ep;
  });
  if (userDefined && builtIn) throw new CliError('conflicting options: cannot attach both user-defined and non-user-defined network-modes', ExitCode.Usage);
  return { NetworkMode: given[0]?.target ?? 'default', EndpointsConfig: endpoints };
}

/** The HostConfig fields of the device, sysctl, tmpfs and cgroup flags (only those given). */
function devicesAndKernelBody(o: DeviceAndKernelFlags, binds: string[]) {
  const keyValues = (flag: string, list: string[]) =>
    Object.fromEntries(
      list.map((kv) => {
        const i = kv.indexOf('=');
        if (i <= 0) throw new CliError(`invalid argument "${kv}" for "--${flag}" flag: invalid value`, ExitCode.Usage);
        return [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  const throttles = {
    BlkioWeightDevice: perDevice('blkio-weight-device', o.blkioWeightDevice, 'Weight', int),
    BlkioDeviceReadBps: perDevice('device-read-bps', o.deviceReadBps, 'Rate', bytes),
    BlkioDeviceWriteBps: perDevice('device-write-bps', o.deviceWriteBps, 'Rate', bytes),
    BlkioDeviceReadIOps: perDevice('device-read-iops', o.deviceReadIops, 'Rate', int),
    BlkioDeviceWriteIOps: perDevice('device-write-iops', o.deviceWriteIops, 'Rate', int),
  };
  return {
    ...(o.groupAdd.length && { GroupAdd: o.groupAdd }),
    ...(o.sysctl.length && { Sysctls: keyValues('sysctl', o.sysctl) }),
    ...(o.oomScoreAdj !== undefined && { OomScoreAdj: o.oomScoreAdj }),
    ...(o.device.length && { Devices: o.device.map(deviceMapping) }),
    ...(o.deviceCgroupRule.length && { DeviceCgroupRules: o.deviceCgroupRule }),
    ...(o.tmpfs.length && { Tmpfs: Object.fromEntries(o.tmpfs.map((t) => (t.includes(':') ? [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)] : [t, '']))) }),
    ...(o.cgroupns && { CgroupnsMode: o.cgroupns }),
    ...(o.cgroupParent && { CgroupParent: o.cgroupParent }),
    ...(o.memorySwappiness !== undefined && o.memorySwappiness !== -1 && { MemorySwappiness: o.memorySwappiness }),
    ...Object.fromEntries(Object.entries(throttles).filter(([, list]) => list.length)),
    ...(o.addHost.length && { ExtraHosts: validated('add-host', o.addHost, extraHost) }),
    ...(o.dns.length && { Dns: validated('dns', o.dns, ipAddress) }),
    ...(o.dnsSearch.length && { DnsSearch: validated('dns-search', o.dnsSearch, dnsSearch) }),
    ...((o.dnsOption.length || o.dnsOpt.length) && { DnsOptions: [...o.dnsOption, ...o.dnsOpt] }),
    ...(o.annotation.length && { Annotations: keyValues('annotation', o.annotation) }),
    ...(o.mount.length && { Mounts: o.mount.map(mountRequest) }),
    ...(binds.length && { Binds: binds }),
    ...(o.publish.length && { PortBindings: parsePortSpecs(o.publish).bindings }),
    ...(o.publishAll && { PublishAllPorts: true }),
    ...(o.link.length && { Links: validated('link', o.link, link) }),
    ...(o.volumesFrom.length && { VolumesFrom: o.volumesFrom }),
    ...(o.volumeDriver && { VolumeDriver: o.volumeDriver }),
    ...(o.storageOpt.length && { StorageOpt: keyValues('storage-opt', o.storageOpt) }),
    ...(o.userns && { UsernsMode: o.userns }),
    ...(o.isolation && { Isolation: o.isolation }),
    ...(o.gpus && { DeviceRequests: [{ Driver: '', Count: o.gpus === 'all' ? -1 : Number(o.gpus) || 0, Capabilities: [['gpu']], DeviceIDs: null, Options: {} }] }),
    ...(o.kernelMemory !== undefined && { KernelMemory: o.kernelMemory }),
  };
}

/** Which streams `run` attaches: `-a` lists them (docker's validAttach), else stdout, stderr and stdin with -i. */
function attachFlags(o: RunFlags, attach: boolean) {
  const bad = o.attach.find((s) => !['stdin', 'stdout', 'stderr'].includes(s.toLowerCase()));
  if (bad) throw new CliError(`invalid argument "${bad}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`, ExitCode.Usage);
  const listed = (s: string) => o.attach.some((a) => a.toLowerCase() === s);
  if (o.attach.length && !attach) throw new CliError('conflicting options: cannot specify both --attach and --detach', ExitCode.Usage);
  if (o.attach.length) return { AttachStdin: listed('stdin'), AttachStdout: listed('stdout'), AttachStderr: listed('stderr') };
  return { AttachStdin: !!o.interactive && attach, AttachStdout: attach, AttachStderr: attach };
}

/** `--label-file`: one label per line, `#` comments and blank lines skipped (docker's ReadKVStrings). */
function labelFile(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** `--log-driver` and `--log-opt k=v` (a bare `k` is `k=`), refused together for `none` as docker's CLI does. */
function logConfig(o: RunFlags): { Type: string; Config: Record<string, string> } {
  if (o.logDriver === 'none' && o.logOpt.length > 0) throw new CliError('invalid logging opts for driver none', ExitCode.Usage);
  const config = Object.fromEntries(o.logOpt.map((kv) => (kv.includes('=') ? [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] : [kv, ''])));
  return { Type: o.logDriver ?? '', Config: config };
}

/** docker sends a seccomp profile's content, not its path (the daemon may not see the client's files). */
function securityOpt(opt: string): string {
  const m = /^seccomp[=:](.+)$/.exec(opt);
  if (!m?.[1] || m[1] === 'unconfined') return opt;
  return `seccomp=${readFileSync(m[1], 'utf8')}`;
}

/** As the docker CLI: `systempaths=unconfined` becomes empty MaskedPaths and ReadonlyPaths, not a SecurityOpt. */
function systemPathsBody(opts: string[]) {
  const unconfined = opts.includes('systempaths=unconfined');
  const rest = opts.filter((s) => s !== 'systempaths=unconfined').map(securityOpt);
  return { ...(rest.length && { SecurityOpt: rest }), ...(unconfined && { MaskedPaths: [], ReadonlyPaths: [] }) };
}

/** Config.Healthcheck from the --health-* flags, as the docker CLI builds it (none given: the image's applies). */
function healthcheckBody(o: RunFlags) {
  const tuning = [o.healthInterval, o.healthTimeout, o.healthStartPeriod, o.healthStartInterval, o.healthRetries].some((v) => v !== undefined);
  if (o.healthcheck === false) {
    if (o.healthCmd !== undefined || tuning) throw new CliError('--no-healthcheck conflicts with --health-* options', ExitCode.Usage);
    return { Healthcheck: { Test: ['NONE'] } };
  }
  if (o.healthCmd === undefined && !tuning) return {};
  return {
    Healthcheck: {
      ...(o.healthCmd !== undefined && { Test: ['CMD-SHELL', o.healthCmd] }),
      Interval: o.healthInterval ?? 0,
      Timeout: o.healthTimeout ?? 0,
      StartPeriod: o.healthStartPeriod ?? 0,
      StartInterval: o.healthStartInterval ?? 0,
      Retries: o.healthRetries ?? 0,
    },
  };
}

export function createBody(image: string, cmd: string[], o: RunFlags) {
  const attach = !o.detach;
  if (o.macAddress !== undefined && !isMAC(o.macAddress.trim())) throw new Error(`${o.macAddress} is not a valid mac address`);
  // published ports are exposed too, as docker's CLI sends them
  const { exposed } = parsePortSpecs(o.publish);
  addExposedPorts(exposed, o.expose);
  const { NetworkMode, EndpointsConfig } = networkingBody(o);
  const { Volumes, Binds } = volumeFlags(o.volume);
  return {
    Image: image,
    ...(cmd.length && { Cmd: cmd }),
    ...(o.entrypoint !== undefined && { Entrypoint: o.entrypoint === '' ? [] : [o.entrypoint] }),
    Env: [...o.envFile.flatMap(envFile), ...o.env],
    ...(o.workdir && { WorkingDir: o.workdir }),
    ...(o.user && { User: o.user }),
    ...(o.hostname && { Hostname: o.hostname }),
    ...(o.domainname && { Domainname: o.domainname }),
    Labels: Object.fromEntries([...o.labelFile.flatMap(labelFile), ...o.label].map((l) => [l.split('=')[0], l.includes('=') ? l.slice(l.indexOf('=') + 1) : ''])),
    Tty: !!o.tty,
    OpenStdin: !!o.interactive,
    StdinOnce: !!o.interactive && attach && (!o.attach.length || o.attach.some((a) => a.toLowerCase() === 'stdin')),
    ...attachFlags(o, attach),
    ...(o.stopSignal && { StopSignal: o.stopSignal }),
    ...(o.stopTimeout !== undefined && { StopTimeout: o.stopTimeout }),
    ...healthcheckBody(o),
    ...(Object.keys(exposed).length && { ExposedPorts: exposed }),
    ...(Object.keys(Volumes).length && { Volumes }),
    HostConfig: {
      AutoRemove: !!o.rm,
      ...resourcesBody(o),
      ...(o.init && { Init: true }),
      ...(o.readOnly && { ReadonlyRootfs: true }),
      ...(o.privileged && { Privileged: true }),
      ...(o.capAdd.length && { CapAdd: o.capAdd }),
      ...(o.capDrop.length && { CapDrop: o.capDrop }),
      ...systemPathsBody(o.securityOpt),
      ...(o.ulimit.length && { Ulimits: o.ulimit }),
      ...(o.pid && { PidMode: o.pid }),
      ...(o.ipc && { IpcMode: o.ipc }),
      ...(o.uts && { UTSMode: o.uts }),
      NetworkMode,
      ...(o.oomKillDisable && { OomKillDisable: true }),
      ...(o.shmSize !== undefined && { ShmSize: o.shmSize }),
      ...devicesAndKernelBody(o, Binds),
      ...(o.runtime && { Runtime: o.runtime }),
      LogConfig: logConfig(o),
      ...(o.tty && process.stdout.isTTY && { ConsoleSize: [process.stdout.rows, process.stdout.columns] }),
    },
    NetworkingConfig: { EndpointsConfig },
  };
}
