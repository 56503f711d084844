// The merged tree to the `Project` of ../types.ts: short syntaxes to long forms, relative paths absolute, env_file
// read, profiles applied, and the cross-references checked (volumes, networks, secrets, configs, depends_on).
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { BuildConfig, DependsOnConfig, FileObjectConfig, NetworkConfig, PortConfig, Project, ServiceConfig, ServiceFileRef, ServiceVolumeConfig, VolumeConfig } from '../types.js';
import { readEnvFile } from './env.js';
import { ComposeFileError, invalidProject } from './errors.js';
import { listToMap } from './merge.js';
import { shellSplit } from './shell.js';
import { isHostPath, parsePortShort, parseVolumeShort } from './syntax.js';
import { type Dict, isDict } from './yaml.js';

export interface NormalizeContext {
  name: string;
  workingDir: string;
  configFiles: string[];
  lookup: (name: string) => string | undefined;
  profiles: string[];
}

const truthy = new Set(['1', 't', 'T', 'true', 'TRUE', 'True', 'y', 'Y', 'yes', 'YES', 'Yes', 'on', 'ON', 'On']);
const falsy = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False', 'n', 'N', 'no', 'NO', 'No', 'off', 'OFF', 'Off']);

/** Interpolated values arrive as strings: the schema allows that, the model wants the typed value. */
function toBool(v: unknown, where: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v);
  if (truthy.has(s)) return true;
  if (falsy.has(s)) return false;
  throw new ComposeFileError(`${where}: invalid boolean: ${s}`);
}
function toNumber(v: unknown, where: string, int = true): number {
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (String(v).trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) throw new ComposeFileError(`${where}: invalid ${int ? 'integer' : 'number'}: ${String(v)}`);
  return n;
}
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(listToMap(v)).map(([k, x]) => [k, x === null || x === undefined ? '' : str(x)]));
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : [str(v)]);

/** `~` is the user's home; anything else relative is relative to the project directory. */
function absPath(p: string, dir: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(dir, p);
}

export const isUrlContext = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@') || s.startsWith('github.com/');

const boolKeys = ['attach', 'init', 'privileged', 'read_only', 'tty', 'stdin_open', 'oom_kill_disable'];
const intKeys = ['cpu_shares', 'pids_limit', 'oom_score_adj', 'cpu_count', 'cpu_percent', 'cpu_quota', 'cpu_period', 'cpu_rt_runtime', 'cpu_rt_period', 'mem_swappiness'];
const stringKeys = ['mem_limit', 'mem_reservation', 'memswap_limit', 'shm_size', 'cpuset', 'user', 'stop_grace_period', 'hostname', 'domainname', 'working_dir', 'container_name', 'image'];
const listKeys = ['dns', 'dns_search', 'dns_opt', 'tmpfs', 'expose', 'cap_add', 'cap_drop', 'security_opt', 'devices', 'group_add', 'links', 'external_links', 'volumes_from', 'profiles'];

export async function normalize(raw: Dict, ctx: NormalizeContext): Promise<Project> {
  const project: Project = { name: ctx.name, workingDir: ctx.workingDir, configFiles: ctx.configFiles, services: {}, disabledServices: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
  const resource = <T extends { name: string; external?: boolean }>(key: string, v: unknown, extra: (d: Dict, out: T) => void): T => {
    const d = isDict(v) ? v : {};
    const external = d.external === undefined ? undefined : toBool(isDict(d.external) ? true : d.external, key);
    // the old `external: {name: x}` form
    const extName = isDict(d.external) && d.external.name !== undefined ? str(d.external.name) : undefined;
    const name = d.name !== undefined ? str(d.name) : (extName ?? (external ? key : `${ctx.name}_${key}`));
    const out = { ...d, name } as unknown as T;
    if (external !== undefined) out.external = external;
    for (const k of ['labels', 'driver_opts'] as const) if (d[k] !== undefined) (out as Dict)[k] = strMap(d[k]);
    extra(d, out);
    return out;
  };
  for (const [k, v] of Object.entries(isDict(raw.networks) ? raw.networks : {}))
    project.networks[k] = resource<NetworkConfig>(k, v, (d, out) => {
      for (const b of ['internal', 'attachable', 'enable_ipv6'] as const) if (d[b] !== undefined) out[b] = toBool(d[b], `networks.${k}.${b}`);
      if (isDict(d.ipam) && d.ipam.options !== undefined) out.ipam = { ...d.ipam, options: strMap(d.ipam.options) };
    });
  for (const [k, v] of Object.entries(isDict(raw.volumes) ? raw.volumes : {})) project.volumes[k] = resource<VolumeConfig>(k, v, () => {});
  for (const section of ['secrets', 'configs'] as const)
    for (const [k, v] of Object.entries(isDict(raw[section]) ? raw[section] : {}))
      project[section][k] = resource<FileObjectConfig>(k, v, (d, out) => {
        if (d.file !== undefined) out.file = absPath(str(d.file), ctx.workingDir);
      });

  const active = new Set(ctx.profiles);
  const services = isDict(raw.services) ? raw.services : {};
  for (const [name, v] of Object.entries(services)) {
    const svc = await normalizeService(name, isDict(v) ? v : {}, ctx);
    const enabled = !svc.profiles?.length || active.has('*') || svc.profiles.some((p) => active.has(p));
    (enabled ? project.services : project.disabledServices)[name] = svc;
  }

  // A service with neither `networks` nor `network_mode` joins `default`, which the project then has.
  for (const svc of Object.values(project.services)) if (!svc.networks && !svc.network_mode) svc.networks = { default: null };
  for (const svc of Object.values(project.disabledServices)) if (!svc.networks && !svc.network_mode) svc.networks = { default: null };
  if (Object.values(project.services).some((s) => s.networks && 'default' in s.networks) && !project.networks.default) project.networks.default = { name: `${ctx.name}_default` };

  check(project);
  return project;
}

function check(project: Project): void {
  for (const svc of Object.values(project.services)) {
    for (const n of Object.keys(svc.networks ?? {})) if (!project.networks[n]) throw invalidProject(`service "${svc.name}" refers to undefined network ${n}`);
    for (const v of svc.volumes ?? []) if (v.type === 'volume' && v.source && !project.volumes[v.source]) throw invalidProject(`service "${svc.name}" refers to undefined volume ${v.source}`);
    for (const s of svc.secrets ?? []) if (!project.secrets[s.source]) throw invalidProject(`service "${svc.name}" refers to undefined secret ${s.source}`);
    for (const c of svc.configs ?? []) if (!project.configs[c.source]) throw invalidProject(`service "${svc.name}" refers to undefined config ${c.source}`);
    for (const [dep, d] of Object.entries(svc.depends_on ?? {})) {
      if (d.required && !project.services[dep]) {
        throw invalidProject(project.disabledServices[dep] ? `service "${svc.name}" depends on service "${dep}" whose profiles are not enabled` : `service "${svc.name}" depends on undefined service "${dep}"`);
      }
    }
    if (svc.container_name && (svc.scale ?? 1) > 1) throw invalidProject(`services.${svc.name}: can't set container_name and ${svc.name} as container name must be unique`);
  }
  // depends_on cycles, named along the path that closes one
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw new ComposeFileError(`dependency cycle detected: ${cycle.join(' -> ')}`);
    }
    state.set(n, 'visiting');
    stack.push(n);
    for (const dep of Object.keys(project.services[n]?.depends_on ?? {})) if (project.services[dep]) visit(dep);
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of Object.keys(project.services).sort()) visit(n);
}

async function normalizeService(name: string, d: Dict, ctx: NormalizeContext): Promise<ServiceConfig> {
  const where = `services.${name}`;
  const s: Dict = { ...d, name };
  delete s.extends;
  for (const k of boolKeys) if (s[k] !== undefined) s[k] = toBool(s[k], `${where}.${k}`);
  for (const k of intKeys) if (s[k] !== undefined) s[k] = toNumber(s[k], `${where}.${k}`);
  for (const k of stringKeys) if (s[k] !== undefined && s[k] !== null) s[k] = str(s[k]);
  for (const k of listKeys) if (s[k] !== undefined && s[k] !== null) s[k] = strList(s[k]);
  if (s.cpus !== undefined) s.cpus = toNumber(s.cpus, `${where}.cpus`, false);

  for (const k of ['command', 'entrypoint'] as const) if (typeof s[k] === 'string') s[k] = shellSplit(s[k]);
  else if (Array.isArray(s[k])) s[k] = (s[k] as unknown[]).map(str);

  // env_file contents first, then `environment`; a bare KEY takes its value from the environment, else null
  const environment: Record<string, string | null> = {};
  if (s.env_file !== undefined) {
    const entries = Array.isArray(s.env_file) ? s.env_file : [s.env_file];
    for (const e of entries) {
      const path = absPath(str(isDict(e) ? e.path : e), ctx.workingDir);
      const required = isDict(e) && e.required !== undefined ? toBool(e.required, `${where}.env_file`) : true;
      Object.assign(environment, await readEnvFile(path, ctx.lookup, required));
    }
    delete s.env_file;
  }
  if (s.environment !== undefined) for (const [k, v] of Object.entries(listToMap(s.environment))) environment[k] = v === null || v === undefined ? (ctx.lookup(k) ?? null) : str(v);
  if (Object.keys(environment).length) s.environment = environment;
  else delete s.environment;
  for (const k of ['labels', 'annotations', 'sysctls'] as const) if (s[k] !== undefined) s[k] = strMap(s[k]);

  if (s.extra_hosts !== undefined) {
    s.extra_hosts = isDict(s.extra_hosts) ? Object.entries(s.extra_hosts).flatMap(([h, ip]) => strList(ip).map((i) => `${h}:${i}`)) : strList(s.extra_hosts).map((e) => e.replace('=', ':'));
  }

  if (s.build !== undefined) s.build = normalizeBuild(s.build, ctx);
  if (s.ports !== undefined) s.ports = (s.ports as unknown[]).flatMap((p) => normalizePort(p, where));
  if (s.volumes !== undefined) s.volumes = (s.volumes as unknown[]).map((v) => normalizeVolume(v, ctx.workingDir, where));
  for (const k of ['secrets', 'configs'] as const) if (s[k] !== undefined) s[k] = (s[k] as unknown[]).map((r) => fileRef(r));

  if (s.networks !== undefined) {
    const nets: Record<string, unknown> = {};
    for (const [n, v] of Object.entries(listToMap(s.networks))) nets[n] = isDict(v) ? v : null;
    s.networks = nets;
  }
  if (s.depends_on !== undefined) {
    const deps: Record<string, DependsOnConfig> = {};
    for (const [n, v] of Object.entries(listToMap(s.depends_on))) {
      const o = isDict(v) ? v : {};
      deps[n] = { ...o, condition: (o.condition ?? 'service_started') as DependsOnConfig['condition'], required: o.required === undefined ? true : toBool(o.required, `${where}.depends_on.${n}.required`) };
      if (o.restart !== undefined) deps[n].restart = toBool(o.restart, `${where}.depends_on.${n}.restart`);
    }
    s.depends_on = deps;
  }
  if (isDict(s.healthcheck)) {
    const h: Dict = { ...s.healthcheck };
    if (typeof h.test === 'string') h.test = ['CMD-SHELL', h.test];
    if (h.retries !== undefined) h.retries = toNumber(h.retries, `${where}.healthcheck.retries`);
    if (h.disable !== undefined) h.disable = toBool(h.disable, `${where}.healthcheck.disable`);
    s.healthcheck = h;
  }
  if (isDict(s.ulimits)) s.ulimits = Object.fromEntries(Object.entries(s.ulimits).map(([k, v]) => [k, isDict(v) ? { soft: toNumber(v.soft, `${where}.ulimits.${k}.soft`), hard: toNumber(v.hard, `${where}.ulimits.${k}.hard`) } : { soft: toNumber(v, `${where}.ulimits.${k}`), hard: toNumber(v, `${where}.ulimits.${k}`) }]));
  if (isDict(s.logging) && s.logging.options !== undefined) s.logging = { ...s.logging, options: strMap(s.logging.options) };

  // `scale` and `deploy.replicas` are the same number
  let scale = s.scale !== undefined ? toNumber(s.scale, `${where}.scale`) : undefined;
  if (isDict(s.deploy)) {
    const dep: Dict = { ...s.deploy };
    if (dep.replicas !== undefined) {
      dep.replicas = toNumber(dep.replicas, `${where}.deploy.replicas`);
      if (scale !== undefined && scale !== dep.replicas) throw new ComposeFileError(`${where}: can't set distinct values on 'scale' and 'deploy.replicas'`);
      scale = dep.replicas as number;
    }
    if (dep.labels !== undefined) dep.labels = strMap(dep.labels);
    s.deploy = dep;
  }
  s.scale = scale ?? 1;
  return s as unknown as ServiceConfig;
}

function normalizeBuild(v: unknown, ctx: NormalizeContext): BuildConfig {
  const d: Dict = typeof v === 'string' ? { context: v } : { ...(v as Dict) };
  const context = d.context === undefined ? '.' : str(d.context);
  d.context = isUrlContext(context) ? context : absPath(context, ctx.workingDir);
  if (d.dockerfile === undefined && d.dockerfile_inline === undefined) d.dockerfile = 'Dockerfile';
  if (d.args !== undefined) d.args = Object.fromEntries(Object.entries(listToMap(d.args)).map(([k, x]) => [k, x === null || x === undefined ? (ctx.lookup(k) ?? null) : str(x)]));
  if (d.labels !== undefined) d.labels = strMap(d.labels);
  for (const b of ['no_cache', 'pull'] as const) if (d[b] !== undefined) d[b] = toBool(d[b], `build.${b}`);
  if (d.shm_size !== undefined) d.shm_size = str(d.shm_size);
  return d as unknown as BuildConfig;
}

function normalizePort(p: unknown, where: string): PortConfig[] {
  if (!isDict(p)) return parsePortShort(p as string | number);
  const out: Dict = { ...p, target: toNumber(p.target, `${where}.ports.target`), protocol: p.protocol ?? 'tcp', mode: p.mode ?? 'ingress' };
  if (p.published !== undefined && p.published !== null && p.published !== '') out.published = str(p.published);
  else delete out.published;
  return [out as unknown as PortConfig];
}

function normalizeVolume(v: unknown, dir: string, where: string): ServiceVolumeConfig {
  const out: ServiceVolumeConfig = typeof v === 'string' ? parseVolumeShort(v) : ({ ...(v as Dict) } as unknown as ServiceVolumeConfig);
  if (!out.target) throw new ComposeFileError(`${where}.volumes: a volume needs a target`);
  if (out.type === 'bind' && out.source) out.source = absPath(out.source, dir);
  if (out.type === 'volume' && out.source && isHostPath(out.source)) throw new ComposeFileError(`${where}.volumes: volume source ${out.source} is a path: use type bind`);
  if (out.read_only !== undefined) out.read_only = toBool(out.read_only, `${where}.volumes.read_only`);
  return out;
}

function fileRef(r: unknown): ServiceFileRef {
  if (!isDict(r)) return { source: str(r) };
  const out: Dict = { ...r, source: str(r.source) };
  if (r.mode !== undefined) out.mode = typeof r.mode === 'string' ? parseInt(r.mode, 8) : r.mode;
  for (const k of ['uid', 'gid'] as const) if (r[k] !== undefined) out[k] = str(r[k]);
  return out as unknown as ServiceFileRef;
}
