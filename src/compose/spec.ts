// A service's container as the Engine API's ContainerCreate body: the compose model's names mapped onto Docker's,
// as `docker compose` maps them.
import { parseGoDuration } from '../util/duration.js';
import { parseBytes } from '../util/size.js';
import { Label, composeVersion } from './labels.js';
import type { Project, ServiceConfig, ServiceFileRef, ServiceNetworkConfig } from './types.js';

/** A file the engine copies into the container after creating it (secrets and configs that are not files). */
export interface Injection {
  target: string;
  content: string;
  mode: number;
  uid: number;
  gid: number;
}

export interface ContainerIdentity {
  name: string;
  number: number;
  oneoff?: boolean;
  /** The image's ID, recorded so `up` sees a rebuilt or re-pulled image. */
  imageId?: string;
  /** The container's name or ID for another service (`network_mode: service:x`, `volumes_from`). */
  containerOf: (service: string) => string;
  /** Anonymous volumes kept from the container being replaced, by target. */
  inherited?: Record<string, string>;
}

/** What `compose run` changes in a service's container. */
export interface RunOverrides {
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  user?: string;
  workdir?: string;
  tty?: boolean;
  stdin?: boolean;
  labels?: Record<string, string>;
  /** `run` publishes the service's ports only with `--service-ports`. */
  ports?: boolean;
  extraPorts?: string[];
  volumes?: string[];
  /** Restart policies do not apply to one-off containers. */
  noRestart?: boolean;
  /** `run --rm`: the engine removes the container when it exits. */
  autoRemove?: boolean;
}

const size = (v: string | number | undefined) => (v === undefined ? undefined : typeof v === 'number' ? v : parseBytes(v));
const duration = (v: string | undefined) => (v === undefined ? undefined : parseGoDuration(v));
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** The networks a service joins, its primary first (highest `priority`, then by name, as Compose orders them). */
export function serviceNetworks(service: ServiceConfig): Array<[string, ServiceNetworkConfig]> {
  return Object.entries(service.networks ?? {})
    .map(([k, v]): [string, ServiceNetworkConfig] => [k, v ?? {}])
    .sort(([a, x], [b, y]) => (y.priority ?? 0) - (x.priority ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}

export function restartPolicy(service: ServiceConfig): { Name: string; MaximumRetryCount?: number } | undefined {
  if (service.restart) {
    const [name = 'no', count] = service.restart.split(':');
    return { Name: name, ...(count && { MaximumRetryCount: Number(count) }) };
  }
  const p = service.deploy?.restart_policy;
  if (!p) return undefined;
  const name = { none: 'no', 'on-failure': 'on-failure', any: 'always' }[p.condition ?? 'any'];
  return { Name: name, ...(p.max_attempts && { MaximumRetryCount: p.max_attempts }) };
}

export function containerCreateBody(project: Project, service: ServiceConfig, id: ContainerIdentity, image: string, run: RunOverrides = {}) {
  const env = { ...service.environment, ...run.environment };
  const limits = service.deploy?.resources?.limits;
  const reservations = service.deploy?.resources?.reservations;
  const ports = run.ports === false ? [] : (service.ports ?? []);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const key = `${p.target}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' });
  }
  for (const spec of run.extraPorts ?? []) {
    // `run -p host:container[/proto]`
    const [ports_, proto = 'tcp'] = spec.split('/');
    const parts = (ports_ ?? '').split(':');
    const target = parts.pop() ?? '';
    const key = `${target}/${proto}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: parts.length > 1 ? (parts[0] ?? '') : '', HostPort: parts.at(-1) ?? '' });
  }
  for (const e of service.expose ?? []) exposed[e.includes('/') ? e : `${e}/tcp`] = {};

  const binds: string[] = [];
  const mounts: object[] = [];
  for (const v of service.volumes ?? []) {
    if (v.type === 'bind' && (v.bind?.create_host_path ?? true) && !v.bind?.propagation) {
      const opts = [v.read_only && 'ro', v.bind?.selinux].filter(Boolean).join(',');
      binds.push(`${v.source}:${v.target}${opts ? `:${opts}` : ''}`);
    } else if (v.type === 'bind') {
      mounts.push(defined({ Type: 'bind', Source: v.source, Target: v.target, ReadOnly: v.read_only, BindOptions: v.bind?.propagation ? { Propagation: v.bind.propagation } : undefined }));
    } else if (v.type === 'volume') {
      const source = v.source ? (project.volumes[v.source]?.name ?? v.source) : id.inherited?.[v.target];
      mounts.push(
        defined({
          Type: 'volume',
          Source: source,
          Target: v.target,
          ReadOnly: v.read_only,
          VolumeOptions: v.volume?.nocopy || v.volume?.subpath ? defined({ NoCopy: v.volume.nocopy, Subpath: v.volume.subpath }) : undefined,
        }),
      );
    } else if (v.type === 'tmpfs') {
      mounts.push(defined({ Type: 'tmpfs', Target: v.target, TmpfsOptions: v.tmpfs ? defined({ SizeBytes: size(v.tmpfs.size), Mode: v.tmpfs.mode }) : undefined }));
    }
  }
  for (const spec of run.volumes ?? []) binds.push(spec);
  for (const ref of service.secrets ?? []) {
    const file = project.secrets[ref.source]?.file;
    if (file) binds.push(`${file}:${fileTarget(ref, 'secret')}:ro`);
  }
  for (const ref of service.configs ?? []) {
    const file = project.configs[ref.source]?.file;
    if (file) binds.push(`${file}:${fileTarget(ref, 'config')}:ro`);
  }

  const labels: Record<string, string> = {
    ...service.labels,
    ...run.labels,
    [Label.project]: project.name,
    [Label.service]: service.name,
    [Label.number]: String(id.number),
    [Label.oneoff]: id.oneoff ? 'True' : 'False',
    [Label.workingDir]: project.workingDir,
    [Label.configFiles]: project.configFiles.join(','),
    [Label.version]: composeVersion,
    [Label.dependsOn]: Object.entries(service.depends_on ?? {})
      .map(([name, d]) => `${name}:${d.condition}:${d.restart ?? false}`)
      .join(','),
    ...(id.imageId && { [Label.image]: id.imageId }),
  };

  let networkMode: string;
  const endpoints: Record<string, object> = {};
  const mode = service.network_mode;
  if (mode) {
    networkMode = mode.startsWith('service:') ? `container:${id.containerOf(mode.slice('service:'.length))}` : mode;
  } else {
    const nets = serviceNetworks(service);
    networkMode = nets.length ? (project.networks[nets[0]![0]]?.name ?? nets[0]![0]) : 'none';
    for (const [key, cfg] of nets) {
      const name = project.networks[key]?.name ?? key;
      endpoints[name] = defined({
        Aliases: id.oneoff ? cfg.aliases : [service.name, ...(cfg.aliases ?? [])],
        IPAMConfig: cfg.ipv4_address || cfg.ipv6_address ? defined({ IPv4Address: cfg.ipv4_address, IPv6Address: cfg.ipv6_address }) : undefined,
        MacAddress: cfg.mac_address,
        DriverOpts: cfg.driver_opts,
      });
    }
  }

  const hc = service.healthcheck;
  const healthcheck = hc
    ? hc.disable
      ? { Test: ['NONE'] }
      : defined({
          Test: hc.test,
          Interval: duration(hc.interval),
          Timeout: duration(hc.timeout),
          StartPeriod: duration(hc.start_period),
          StartInterval: duration(hc.start_interval),
          Retries: hc.retries,
        })
    : undefined;
  const stopTimeout = service.stop_grace_period === undefined ? undefined : Math.round(parseGoDuration(service.stop_grace_period) / 1e9);
  const cpus = service.cpus ?? (limits?.cpus === undefined ? undefined : Number(limits.cpus));

  return defined({
    Image: image,
    Hostname: service.hostname,
    Domainname: service.domainname,
    User: run.user ?? service.user,
    Tty: run.tty ?? service.tty ?? false,
    OpenStdin: run.stdin ?? service.stdin_open ?? false,
    AttachStdin: run.stdin ?? false,
    AttachStdout: true,
    AttachStderr: true,
    StdinOnce: run.stdin ?? false,
    Env: Object.entries(env).flatMap(([k, v]) => (v === null || v === undefined ? [] : [`${k}=${v}`])),
    Cmd: run.command ?? service.command ?? undefined,
    Entrypoint: run.entrypoint ?? service.entrypoint ?? undefined,
    WorkingDir: run.workdir ?? service.working_dir,
    Labels: labels,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    StopSignal: service.stop_signal,
    StopTimeout: stopTimeout,
    Healthcheck: healthcheck,
    HostConfig: defined({
      Binds: binds.length ? binds : undefined,
      Mounts: mounts.length ? mounts : undefined,
      Tmpfs: service.tmpfs?.length ? Object.fromEntries(service.tmpfs.map((t) => [t.split(':')[0], t.split(':').slice(1).join(':')])) : undefined,
      PortBindings: Object.keys(bindings).length ? bindings : undefined,
      NetworkMode: networkMode,
      RestartPolicy: run.noRestart ? undefined : restartPolicy(service),
      AutoRemove: run.autoRemove,
      Init: service.init,
      Privileged: service.privileged,
      ReadonlyRootfs: service.read_only,
      CapAdd: service.cap_add,
      CapDrop: service.cap_drop,
      SecurityOpt: service.security_opt,
      Sysctls: service.sysctls,
      Ulimits: service.ulimits ? Object.entries(service.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })) : undefined,
      Devices: service.devices?.map(deviceMapping),
      IpcMode: service.ipc,
      PidMode: service.pid,
      UTSMode: service.uts,
      UsernsMode: service.userns_mode,
      CgroupParent: service.cgroup_parent,
      GroupAdd: service.group_add,
      ExtraHosts: service.extra_hosts?.map((h) => (h.includes('=') ? h.replace('=', ':') : h)),
      Dns: service.dns,
      DnsSearch: service.dns_search,
      DnsOptions: service.dns_opt,
      ShmSize: size(service.shm_size),
      Memory: size(service.mem_limit ?? limits?.memory),
      MemoryReservation: size(service.mem_reservation ?? reservations?.memory),
      MemorySwap: size(service.memswap_limit),
      NanoCpus: cpus === undefined ? undefined : Math.round(cpus * 1e9),
      CpuShares: service.cpu_shares,
      CpusetCpus: service.cpuset,
      PidsLimit: service.pids_limit ?? limits?.pids,
      OomScoreAdj: service.oom_score_adj,
      LogConfig: service.logging ? { Type: service.logging.driver ?? 'json-file', Config: service.logging.options ?? {} } : undefined,
      VolumesFrom: service.volumes_from?.map((v) => {
        const [kind, rest] = v.startsWith('container:') ? ['container', v.slice(10)] : ['service', v];
        const [name = '', mode] = rest.split(':');
        return `${kind === 'service' ? id.containerOf(name) : name}${mode ? `:${mode}` : ''}`;
      }),
    }),
    NetworkingConfig: Object.keys(endpoints).length ? { EndpointsConfig: endpoints } : undefined,
  });
}

function deviceMapping(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host = '', container = host, perms = 'rwm'] = v.split(':');
  return { PathOnHost: host, PathInContainer: container, CgroupPermissions: perms };
}

/** Where a secret or config lands: an absolute target as given, else under /run/secrets (secrets) or / (configs). */
export function fileTarget(ref: ServiceFileRef, kind: 'secret' | 'config'): string {
  const target = ref.target ?? ref.source;
  if (target.startsWith('/')) return target;
  return kind === 'secret' ? `/run/secrets/${target}` : `/${target}`;
}

/** Secrets and configs given as content or an environment variable: written into the container after create. */
export function injections(project: Project, service: ServiceConfig, env: Record<string, string | undefined>): Injection[] {
  const out: Injection[] = [];
  const add = (refs: ServiceFileRef[] | undefined, kind: 'secret' | 'config') => {
    for (const ref of refs ?? []) {
      const def = (kind === 'secret' ? project.secrets : project.configs)[ref.source];
      if (!def || def.file) continue;
      const content = def.content ?? (def.environment ? (env[def.environment] ?? '') : undefined);
      if (content === undefined) continue;
      out.push({ target: fileTarget(ref, kind), content, mode: ref.mode ?? 0o444, uid: Number(ref.uid ?? 0), gid: Number(ref.gid ?? 0) });
    }
  };
  add(service.secrets, 'secret');
  add(service.configs, 'config');
  return out;
}
