// The Compose model after loading: files merged, variables interpolated, `extends`/`include` resolved, profiles
// applied, every short syntax turned into its long form, relative paths made absolute. Keys keep the Compose
// specification's spelling (snake_case), so `compose config` prints this model as it is and the engine reads the
// same names users write. Durations stay strings as written (`1m30s`); the engine parses them.

export type Mapping = Record<string, string>;

export interface Project {
  /** Lower-case project name: `-p`, `COMPOSE_PROJECT_NAME`, the top-level `name`, else the directory's name. */
  name: string;
  /** Absolute: `--project-directory`, else the first compose file's directory. */
  workingDir: string;
  /** Absolute paths of the files loaded, in order (`-` for stdin). */
  configFiles: string[];
  /** Services enabled by the active profiles, by name. */
  services: Record<string, ServiceConfig>;
  /** Services whose profiles are not active: `up svc` may enable one it names explicitly. */
  disabledServices: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, FileObjectConfig>;
  configs: Record<string, FileObjectConfig>;
}

export interface ServiceConfig {
  /** The service's key in `services`. */
  name: string;
  image?: string;
  build?: BuildConfig;
  pull_policy?: 'always' | 'never' | 'missing' | 'build' | 'if_not_present' | 'daily' | 'weekly';
  container_name?: string;
  hostname?: string;
  domainname?: string;
  /** Shell-split when written as a string (`command: echo hi` → ["echo", "hi"]); `null` clears the image's. */
  command?: string[] | null;
  entrypoint?: string[] | null;
  working_dir?: string;
  user?: string;
  /** `env_file` contents merged in (files first, then `environment`); a null value means "unset, take it from nowhere". */
  environment?: Record<string, string | null>;
  labels?: Mapping;
  annotations?: Mapping;
  ports?: PortConfig[];
  expose?: string[];
  volumes?: ServiceVolumeConfig[];
  volumes_from?: string[];
  tmpfs?: string[];
  /** By network key; `null` when the service joins it with no options. Absent with `network_mode` set. */
  networks?: Record<string, ServiceNetworkConfig | null>;
  network_mode?: string;
  /** By service name; every short form becomes `{condition: service_started, required: true}`. */
  depends_on?: Record<string, DependsOnConfig>;
  links?: string[];
  external_links?: string[];
  extra_hosts?: string[];
  dns?: string[];
  dns_search?: string[];
  dns_opt?: string[];
  healthcheck?: HealthcheckConfig;
  restart?: string;
  init?: boolean;
  /** false: an attached `up` does not stream this service's output */
  attach?: boolean;
  privileged?: boolean;
  read_only?: boolean;
  tty?: boolean;
  stdin_open?: boolean;
  stop_signal?: string;
  stop_grace_period?: string;
  cap_add?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  sysctls?: Mapping;
  ulimits?: Record<string, { soft: number; hard: number }>;
  devices?: string[];
  ipc?: string;
  pid?: string;
  uts?: string;
  userns_mode?: string;
  cgroup_parent?: string;
  group_add?: string[];
  shm_size?: string;
  mem_limit?: string;
  mem_reservation?: string;
  memswap_limit?: string;
  cpus?: number;
  cpu_shares?: number;
  cpuset?: string;
  pids_limit?: number;
  oom_score_adj?: number;
  logging?: { driver?: string; options?: Mapping };
  platform?: string;
  profiles?: string[];
  /** From `scale` or `deploy.replicas` (the same number, whichever is set; 1 when neither is). */
  scale?: number;
  deploy?: DeployConfig;
  secrets?: ServiceFileRef[];
  configs?: ServiceFileRef[];
  /** Any `x-` keys and the keys this model does not name yet, kept for `config` and the config hash. */
  [extension: `x-${string}`]: unknown;
}

export interface BuildConfig {
  /** Absolute path (or a URL, kept as written). */
  context: string;
  /** Relative to the context, as written (default `Dockerfile`). */
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  labels?: Mapping;
  cache_from?: string[];
  network?: string;
  shm_size?: string;
  extra_hosts?: string[];
  no_cache?: boolean;
  pull?: boolean;
  tags?: string[];
  platforms?: string[];
}

export interface PortConfig {
  /** Container port. */
  target: number;
  /** Host port or range as written (`8080`, `8080-8081`); absent for an ephemeral port. */
  published?: string;
  host_ip?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  mode: 'ingress' | 'host';
  name?: string;
}

export interface ServiceVolumeConfig {
  type: 'volume' | 'bind' | 'tmpfs' | 'npipe' | 'image' | 'cluster';
  /** Volume key (for `type: volume`, the key in the project's `volumes`), absolute host path for a bind. Absent: anonymous. */
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: 'z' | 'Z' };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number | string; mode?: number };
}

export interface ServiceNetworkConfig {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  mac_address?: string;
  priority?: number;
  gw_priority?: number;
  driver_opts?: Mapping;
}

export interface DependsOnConfig {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  /** Default true: a missing required dependency is an error, an optional one is skipped with a warning. */
  required: boolean;
  /** Restart this service when the dependency is updated. */
  restart?: boolean;
}

export interface HealthcheckConfig {
  /** `["NONE"]`, `["CMD", …]`, `["CMD-SHELL", "…"]` (a string is normalised to CMD-SHELL). */
  test?: string[];
  interval?: string;
  timeout?: string;
  start_period?: string;
  start_interval?: string;
  retries?: number;
  disable?: boolean;
}

export interface DeployConfig {
  mode?: string;
  replicas?: number;
  labels?: Mapping;
  resources?: {
    limits?: { cpus?: string; memory?: string; pids?: number };
    reservations?: { cpus?: string; memory?: string };
  };
  restart_policy?: { condition?: 'none' | 'on-failure' | 'any'; delay?: string; max_attempts?: number; window?: string };
}

/** A service's use of a project secret or config, long syntax. */
export interface ServiceFileRef {
  source: string;
  /** Absent: `/run/secrets/<source>` for secrets, `/<source>` for configs. */
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface NetworkConfig {
  /** The engine's network name: `name` if given, the key for an external one, else `<project>_<key>`. */
  name: string;
  driver?: string;
  driver_opts?: Mapping;
  ipam?: { driver?: string; config?: IpamPool[]; options?: Mapping };
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
  labels?: Mapping;
}

export interface IpamPool {
  subnet?: string;
  ip_range?: string;
  gateway?: string;
  aux_addresses?: Mapping;
}

export interface VolumeConfig {
  /** The engine's volume name: `name` if given, the key for an external one, else `<project>_<key>`. */
  name: string;
  driver?: string;
  driver_opts?: Mapping;
  external?: boolean;
  labels?: Mapping;
}

/** A top-level secret or config. Exactly one of file, environment, content (or external). */
export interface FileObjectConfig {
  name: string;
  /** Absolute path. */
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  labels?: Mapping;
}

/** How to find and read the files (the command line's global flags). */
export interface LoadOptions {
  /** `-f`, in order; `-` reads stdin. Empty: look for compose.yaml, compose.yml, docker-compose.yaml,
   *  docker-compose.yml (and the matching `.override` file) in the working directory, then its parents. */
  files?: string[];
  projectName?: string;
  projectDirectory?: string;
  /** `--profile`, added to `COMPOSE_PROFILES`. */
  profiles?: string[];
  /** `--env-file`; default `<project directory>/.env` when it exists. */
  envFiles?: string[];
  /** The process environment (default process.env): it wins over `.env` for interpolation. */
  environment?: Record<string, string | undefined>;
  /** Where relative `-f` paths and the search start (default process.cwd()). */
  cwd?: string;
  /** Contents for `-f -`. */
  stdin?: () => Promise<string>;
  /** Where warnings go (unset variables, obsolete `version`), without logrus' `WARN[0000] ` prefix; default: that
   *  prefix and the message on stderr. */
  warn?: (msg: string) => void;
  /** A file remembering the contents that passed the schema, which are then not validated again (model/verdicts.ts);
   *  unset: every file is validated. */
  validatedCache?: string;
}
