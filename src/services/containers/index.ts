import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, posix } from 'node:path';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { Conflict, Internal, InvalidArgument, NotFound, NotModified } from '../../errors/index.js';
import { cgroupPids, oomKilled, pidInCgroup } from '../../kernel/cgroups.js';
import { contentSize, removeAll } from '../../kernel/fs.js';
import { mount, overlayMount, unmount } from '../../kernel/mount.js';
import { type LayerStore, packLayer } from '../../layers/index.js';
import type { RecordStore } from '../../metadata/records.js';
import type { Digest } from '../../oci/index.js';
import { AttachSocket, type ConmonMonitor, type LogBatch, type LogFiles, LogShipper, type NamespaceType, type OciRuntime, type SeccompProfile, type ShipTarget, journalPath, logEnd, parseSeccompProfile, readJsonLog, resizeTerminal, validateCapabilities } from '../../runtime/index.js';
import { signalNumber } from '../../util/signals.js';
import { newId, shortId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import { failpoint } from '../../util/failpoint.js';
import { Mutex } from '../../util/mutex.js';
import { Rollback } from '../../util/rollback.js';
import { parseTimeFilter } from '../images/filters.js';
import { nowNano, zeroTime } from '../../util/timestamp.js';
import type { ImageService } from '../images/index.js';
import type { EventBus } from '../system/events.js';
import { type HostConfig, type HostLimits, type LogConfig, type Resources, extraHost, logRotation, normalizeHostConfig, resourceDefaults, securityOptions, validateResources } from './hostconfig.js';
import { configEnv, containerSpec, ociResources } from './spec.js';
import { type EtcFiles, InitLayers, type InitLayerKind, etcFiles, writeEtcFiles } from './etc.js';
import { type Health, type Healthcheck, mergeHealthcheck, probeCommand, validateHealthcheck } from './health.js';
import { checkListFilters, labelsMatch, listFilter, matchesPattern } from './filters.js';

/** What `POST /containers/create` may set (the subset this slice supports). */
export interface CreateOptions {
  name?: string;
  image: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  stopSignal?: string;
  stopTimeout?: number;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  attach?: { stdin: boolean; stdout: boolean; stderr: boolean };
  healthcheck?: Healthcheck | null;
  exposedPorts?: Record<string, object> | null;
  hostConfig?: Partial<HostConfig & { Runtime: string }> | null;
}

/** Input for a container's stdin, from attached clients. */
export interface StdinSink {
  write(data: Buffer): Promise<void>;
  /** The client's input ended: closes the container's stdin if it was opened for one attach (StdinOnce). */
  end(): Promise<void>;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';

/** The container's own settings (Engine API ContainerConfig, the fields Berth keeps). */
export interface ContainerConfig {
  Env: string[];
  WorkingDir: string;
  User: string;
  Hostname: string;
  Domainname?: string;
  Labels: Record<string, string>;
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Image: string;
  /** Which streams the creating client meant to attach (shown by inspect; older records lack them). */
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  /** The container's own merged with its image's (see health.ts). */
  Healthcheck?: Healthcheck;
  ExposedPorts?: Record<string, object>;
  /** The image's VOLUMEs (shown by inspect; see create). */
  Volumes?: Record<string, object>;
}

/** A container: immutable config plus mutable state, persisted as one record. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  image: Digest;
  imageName: string;
  /** Top layer of the image the container stands on (a GC root while the container exists). */
  topLayer?: Digest;
  /** Which shared init layer lies between the image and the container's own layer (none in older records). */
  initLayer?: InitLayerKind;
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig & { Runtime: string };
  state: {
    status: ContainerStatus;
    pid: number;
    exitCode: number;
    startedAt: string;
    finishedAt: string;
    error: string;
    oomKilled?: boolean;
    restartCount?: number;
    /** Stopped by a user (stop/kill/rm): restart policies other than `always` leave it down, as in dockerd. */
    stoppedByUser?: boolean;
    /** With a healthcheck: reset to `starting` at each start, kept after an exit. */
    health?: Health;
  };
}

export interface ContainerPaths {
  /** Persistent per-container data (upper/work dirs, log). */
  dataRoot: string;
  /** Runtime state (bundle, pid files, exit files). */
  execRoot: string;
  /** The init layers all containers share (see etc.ts). */
  initLayers: string;
}

/** How often a running container's monitor is checked on (see watchExit). */
const exitPollMs = 5000;
const run = promisify(execFile);
const nameRe = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface ContainerServiceDeps {
  images: ImageService;
  layers: LayerStore;
  records: RecordStore<ContainerRecord>;
  /** The OCI runtimes by name (`--runtime`), and the one used when a container names none. */
  runtimes: Map<string, OciRuntime>;
  defaultRuntime: string;
  monitor: ConmonMonitor;
  host: HostLimits;
  defaultSeccomp: () => Promise<SeccompProfile | undefined>;
  initPath?: string;
  events: EventBus;
  log: Logger;
  paths: ContainerPaths;
  cgroupVersion: '1' | '2';
  /** Parent cgroup of every container (dockerd's --cgroup-parent), e.g. `berth`. */
  cgroupParent: string;
}

/**
 * Containers: create/start/stop/kill/wait/remove, logs and attach (output), following Podman's skeleton for each
 * lifecycle method: lock → check state (else 409) → act → save. Per-container locks; exits are noticed by
 * watching the monitor's exit file.
 */
export class ContainerService {
  private readonly locks = new Map<string, Mutex>();
  private readonly exitWaiters = new Map<string, Array<() => void>>();
  /** Fires `exit:<id>` when a container's exit has been recorded (wakes log followers at once). */
  private readonly exits = new EventEmitter().setMaxListeners(0);
  /** Attached output readers per container: auto-removal waits for them to read the last output. */
  private readonly readers = new Map<string, number>();
  /** Containers whose last exit no `next-exit` waiter has seen yet (see `wait`). */
  private readonly unseenExits = new Set<string>();
  /** Pending restarts (restart policies) and each container's next delay. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();
  /** Connections to each running container's attach socket carrying clients' input. */
  private readonly stdinConns = new Map<string, Promise<AttachSocket>>();
  /** Ships each running container's conmon journal into its json-file log. */
  private readonly shipper: LogShipper;
  private readonly initLayers: InitLayers;

  constructor(private readonly d: ContainerServiceDeps) {
    this.shipper = new LogShipper(d.log.child({ component: 'logship' }));
    this.initLayers = new InitLayers(d.paths.initLayers);
    d.images.usedBy = (imageId) => d.records.list().filter((c) => c.image === imageId).map((c) => c.id);
    d.images.containerLayerRoots = () => d.records.list().flatMap((c) => (c.topLayer ? [c.topLayer] : []));
  }

  private runtimeOf(c: ContainerRecord): OciRuntime {
    const r = this.d.runtimes.get(c.hostConfig.Runtime);
    if (!r) throw new InvalidArgument(`unknown or invalid runtime name: ${c.hostConfig.Runtime}`);
    return r;
  }

  private lock(id: string): Mutex {
    let m = this.locks.get(id);
    if (!m) this.locks.set(id, (m = new Mutex()));
    return m;
  }

  private dataDir(id: string) {
    return join(this.d.paths.dataRoot, id);
  }
  private bundleDir(id: string) {
    return join(this.d.paths.execRoot, id);
  }
  /** The json-file log inspect shows (none for the `none` driver). */
  logPath(id: string) {
    return this.logConfig(this.d.records.get(id)).Type === 'none' ? '' : join(this.dataDir(id), `${id}-json.log`);
  }

  /** Records made before log drivers existed have no LogConfig: json-file, as then. */
  private logConfig(c: ContainerRecord | undefined): LogConfig {
    return c?.hostConfig.LogConfig ?? { Type: 'json-file', Config: {} };
  }

  /**
   * Where the shipper writes a container's output and how it rotates. With the `none` driver there are no logs to
   * read, but attached clients still need the output: it goes to a small file of its own, rotated at 1 MiB.
   */
  private shipTarget(c: ContainerRecord): ShipTarget {
    const dir = this.dataDir(c.id);
    const log = this.logConfig(c).Type === 'none' ? { path: join(dir, 'attach.log'), maxSize: 1 << 20, maxFiles: 1 } : { path: join(dir, `${c.id}-json.log`), ...logRotation(this.logConfig(c)) };
    return { dir, ctlDir: this.bundleDir(c.id), log, attrs: logAttributes(c, this.logConfig(c)) };
  }

  private journalCap(c: ContainerRecord): { logSizeMax?: number } {
    const cap = this.shipper.journalCap(this.shipTarget(c));
    return cap ? { logSizeMax: cap } : {};
  }

  private logFiles(c: ContainerRecord): LogFiles {
    const { path, maxFiles } = this.shipTarget(c).log;
    return { path, maxFiles };
  }

  /** Ships what is left of the journal (conmon has exited): the log is complete once this resolves. */
  private async drainLogs(c: ContainerRecord): Promise<void> {
    this.shipper.ship(c.id, this.shipTarget(c)); // after a berthd restart, resumes where it stopped
    await this.shipper.drain(c.id).catch((e: unknown) => this.d.log.warn('shipping the last output failed', { container: c.id, error: e }));
  }

  /** By full ID, name (with or without "/"), or unique ID prefix. */
  resolve(idOrName: string): ContainerRecord {
    const all = this.d.records.list();
    const name = idOrName.replace(/^\//, '');
    const found = all.find((c) => c.id === idOrName) ?? all.find((c) => c.name === name) ?? uniquePrefix(all, idOrName);
    if (!found) throw new NotFound(`No such container: ${idOrName}`);
    return found;
  }

  /** `ps -s` / `inspect --size`: bytes written by the container, and that plus its image. */
  async sizes(c: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const rw = await contentSize(this.dirs(c).upper);
    return { SizeRw: rw, SizeRootFs: rw + (this.d.images.find(c.image)?.size ?? 0) };
  }

  /** The name the container was made from, as long as it still means that image (else its ID), as dockerd lists it. */
  imageShown(c: ContainerRecord): string {
    return this.d.images.find(c.imageName)?.id === c.image ? c.imageName : c.image;
  }

  /** overlay2 directories of a container, for inspect's GraphDriver. */
  dirs(c: ContainerRecord) {
    const dir = this.dataDir(c.id);
    const image = c.topLayer ? this.d.layers.chainDiffDirs(c.topLayer) : [];
    const lower = c.initLayer ? [this.initLayers.path(c.initLayer), ...image] : image;
    return { upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged'), lower, image };
  }

  /** The record of a container by its full ID, if it exists. */
  record(id: string): ContainerRecord | undefined {
    return this.d.records.get(id);
  }

  /**
   * A health check's verdict (health.ts), announced when the status changes, as dockerd does. Like dockerd, only a
   * change of status is written to disk: a probe every second need not be a disk write every second.
   */
  async setHealth(id: string, health: Health): Promise<void> {
    const c = this.d.records.get(id);
    if (!c) return;
    const before = c.state.health?.Status;
    c.state = { ...c.state, health };
    if (before === health.Status) return;
    this.publish(c, `health_status: ${health.Status}`);
    await this.d.records.put(c).catch((e: unknown) => this.d.log.warn('health state not saved', { container: id, error: e }));
  }

  /**
   * `ps`: running (and paused) containers, or all; newest first; Docker's filters (see filters.ts); `limit` keeps
   * the newest N (and implies all, as in docker).
   */
  list(all: boolean, filters: Record<string, string[]> = {}, limit?: number): ContainerRecord[] {
    checkListFilters(filters);
    const ancestorIds = (filters['ancestor'] ?? []).map((a) => this.d.images.find(a)?.id ?? a);
    const matches = listFilter(filters, { createdOf: (name) => this.resolve(name).created, ancestorIds });
    // As dockerd: stopped containers are listed with -a, -n or a status filter (not with other filters).
    const showAll = all || limit !== undefined || (filters['status']?.length ?? 0) > 0;
    const out = this.d.records
      .list()
      .filter((c) => (showAll || isUp(c.state.status)) && matches(c))
      .sort((a, b) => b.created.localeCompare(a.created));
    return limit !== undefined && limit > 0 ? out.slice(0, limit) : out;
  }

  rename(idOrName: string, newName: string): Promise<void> {
    const c = this.resolve(idOrName);
    return this.lock(c.id).run(async () => {
      const name = newName.replace(/^\//, '');
      if (name === c.name) throw new InvalidArgument('Renaming a container with the same name as its current name');
      if (!nameRe.test(name)) throw new InvalidArgument(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const taken = this.d.records.list().find((o) => o.name === name && o.id !== c.id);
      if (taken) throw new Conflict(`Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      const oldName = c.name;
      c.name = name;
      await this.d.records.put(c);
      this.d.events.publish('container', 'rename', c.id, { oldName: `/${oldName}`, name });
    });
  }

  /** Freezes (pause) or thaws (unpause) all processes of a running container through the runtime's freezer. */
  setPaused(idOrName: string, paused: boolean): Promise<void> {
    const c = this.resolve(idOrName);
    return this.lock(c.id).run(async () => {
      if (paused && c.state.status === 'paused') throw new Conflict(`Container ${c.id} is already paused`);
      if (paused && c.state.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
      if (!paused && c.state.status !== 'paused') throw new Conflict(`Container ${c.id} is not paused`);
      await (paused ? this.runtimeOf(c).pause(c.id) : this.runtimeOf(c).resume(c.id));
      c.state = { ...c.state, status: paused ? 'paused' : 'running' };
      await this.d.records.put(c);
      this.publish(c, paused ? 'pause' : 'unpause');
    });
  }

  /**
   * `update`: new cgroup limits (applied live to a running container through the runtime) and restart policy.
   * Values not given keep their current setting.
   */
  update(idOrName: string, changes: Partial<Resources> & { RestartPolicy?: HostConfig['RestartPolicy'] }): Promise<string[]> {
    const c = this.resolve(idOrName);
    return this.lock(c.id).run(async () => {
      const given = Object.fromEntries(Object.entries(changes).filter(([k, v]) => k in resourceDefaults && v !== undefined && v !== null && v !== 0 && v !== ''));
      const next: Resources = { ...pickResources(c.hostConfig), ...given };
      if (given['Memory'] !== undefined && given['MemorySwap'] === undefined && c.hostConfig.MemorySwap > 0 && next.Memory > c.hostConfig.MemorySwap) {
        throw new InvalidArgument('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      const warnings = validateResources(next, this.d.host, false);
      const policy = changes.RestartPolicy?.Name ? changes.RestartPolicy : c.hostConfig.RestartPolicy;
      if (c.hostConfig.AutoRemove && policy.Name !== 'no' && policy.Name !== '') {
        throw new InvalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
      }
      if (isUp(c.state.status)) await this.runtimeOf(c).update(c.id, ociResources(next));
      c.hostConfig = { ...c.hostConfig, ...next, RestartPolicy: { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 } };
      await this.d.records.put(c);
      this.publish(c, 'update');
      return warnings;
    });
  }

  /** `top`: the container's processes as host `ps` shows them (docker's default columns, `ps -ef`). */
  async top(idOrName: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.resolve(idOrName);
    if (!isUp(c.state.status)) throw new Conflict(`Container ${c.id} is not running`);
    const pids = await cgroupPids(this.cgroupPath(c), this.d.cgroupVersion);
    // Passed to ps as they are (no shell), as dockerd does; only renaming the PID column is refused, since the
    // processes are picked by it.
    for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
      if (m[1] !== 'pid') throw new InvalidArgument(`specifying "${m[1]}=${m[2]}" is not allowed`);
    }
    const args = psArgs.split(/\s+/).filter(Boolean);
    const { stdout } = await run('ps', args).catch((e: { stderr?: string; message: string }) => {
      throw new Internal(e.stderr?.split('\n')[0] || `ps: ${e.message}`);
    });
    const [header = '', ...lines] = stdout.split('\n').filter(Boolean);
    const titles = header.trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw new InvalidArgument(`ps ${psArgs} has no PID column`);
    const wanted = new Set(pids);
    const processes = lines
      .map((l) => {
        const f = l.trim().split(/\s+/);
        // The last column (the command) may contain spaces: keep the rest of the line together.
        return [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
      })
      .filter((f) => wanted.has(Number(f[pidCol])));
    this.publish(c, 'top');
    return { Titles: titles, Processes: processes };
  }

  /** `diff`: what the container changed against its image, from its upper directory (0 changed, 1 added, 2 deleted). */
  async changes(idOrName: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    const c = this.resolve(idOrName);
    const { upper, lower } = this.dirs(c);
    const out: Array<{ Path: string; Kind: 0 | 1 | 2 }> = [];
    const inLower = async (rel: string) => {
      for (const l of lower) if (await lstat(join(l, rel)).then(() => true, () => false)) return true;
      return false;
    };
    const walk = async (rel: string): Promise<void> => {
      for (const e of (await readdir(join(upper, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = `${rel}/${e.name}`;
        const st = await lstat(join(upper, path));
        if (st.isCharacterDevice() && st.rdev === 0) {
          out.push({ Path: path, Kind: 2 });
          continue;
        }
        const existed = await inLower(path);
        out.push({ Path: path, Kind: existed ? 0 : 1 });
        if (e.isDirectory()) await walk(path);
      }
    };
    await walk('');
    return out;
  }

  /**
   * Runs `fn` with the container's root filesystem at hand. A running container's is already mounted; a stopped
   * one's is mounted for the duration, under the container's lock (so it cannot start meanwhile), and unmounted
   * after, also when `fn` fails.
   */
  async withRootfs<T>(idOrName: string, fn: (root: string) => Promise<T>, o: { readonly?: boolean } = {}): Promise<T> {
    const c = this.resolve(idOrName);
    const merged = join(this.dataDir(c.id), 'merged');
    if (isUp(c.state.status)) return fn(merged);
    return this.lock(c.id).run(async () => {
      if (isUp(this.d.records.get(c.id)?.state.status)) return fn(merged);
      const { upper, work, lower } = this.dirs(c);
      const m = overlayMount(lower, upper, work);
      await mount(o.readonly ? { ...m, options: [...m.options, 'ro'] } : m, merged);
      try {
        return await fn(merged);
      } finally {
        await unmount(merged);
      }
    });
  }

  /** `export`: the container's whole filesystem as a tar (a stopped container's rootfs stays mounted while it streams). */
  export(idOrName: string): Promise<Readable> {
    this.publish(this.resolve(idOrName), 'export');
    return new Promise((resolve, reject) => {
      this.withRootfs(
        idOrName,
        (root) => {
          const tar = packLayer(root);
          resolve(tar);
          return new Promise<void>((done) => tar.once('close', done));
        },
        { readonly: true },
      ).catch(reject);
    });
  }

  /** `container prune`: removes stopped containers (filters label, label!, until); returns the IDs and bytes freed. */
  async prune(filters: Record<string, string[]> = {}): Promise<{ removed: string[]; reclaimed: number }> {
    for (const k of Object.keys(filters)) if (!['label', 'label!', 'until'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    const untils = filters['until'] ?? [];
    if (untils.length > 1) throw new InvalidArgument('more than one until filter specified');
    const until = untils[0] === undefined ? undefined : parseTimeFilter(untils[0]);
    const removed: string[] = [];
    let reclaimed = 0;
    for (const c of this.d.records.list()) {
      if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') continue;
      if (until !== undefined && Date.parse(c.created) > until) continue;
      if (!labelsMatch(filters['label'], c.config.Labels)) continue;
      if (filters['label!']?.length && labelsMatch(filters['label!'], c.config.Labels)) continue;
      const size = (await this.sizes(c).catch(() => undefined))?.SizeRw ?? 0;
      await this.lock(c.id).run(() => this.removeLocked(c));
      removed.push(c.id);
      reclaimed += size;
    }
    this.d.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { removed, reclaimed };
  }

  async create(o: CreateOptions): Promise<{ container: ContainerRecord; warnings: string[] }> {
    const image = this.d.images.resolve(o.image);
    const config = await this.d.images.config(image);
    const name = o.name?.replace(/^\//, '') ?? generateName();
    if (o.name !== undefined && !nameRe.test(o.name)) {
      throw new InvalidArgument(`Invalid container name (${o.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const taken = this.d.records.list().find((c) => c.name === name);
    if (taken) {
      throw new Conflict(`Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const { hostConfig, warnings } = normalizeHostConfig(o.hostConfig, this.d.host);
    validateHealthcheck(o.healthcheck);
    validateCapabilities(hostConfig.CapAdd, hostConfig.CapDrop);
    const { seccomp } = securityOptions(hostConfig);
    if (seccomp && seccomp !== 'unconfined') parseSeccompProfile(seccomp); // a bad profile fails create, not a later start
    const runtime = o.hostConfig?.Runtime || this.d.defaultRuntime;
    if (!this.d.runtimes.has(runtime)) throw new InvalidArgument(`unknown or invalid runtime name: ${runtime}`);
    // `container:<name>` modes are kept with the other container's ID, as dockerd does (a rename cannot break them).
    for (const key of ['PidMode', 'IpcMode', 'NetworkMode'] as const) {
      const mode = hostConfig[key];
      if (mode.startsWith('container:')) hostConfig[key] = `container:${this.resolve(mode.slice('container:'.length)).id}`;
    }
    // dockerd's default cgroup namespace mode: the host's on cgroup v1, a private one on v2.
    hostConfig.CgroupnsMode ||= this.d.cgroupVersion === '2' ? 'private' : 'host';
    const ic = config.config ?? {};
    const exposed = { ...((ic.ExposedPorts as Record<string, object> | undefined) ?? {}), ...(o.exposedPorts ?? {}) };
    // dockerd gives each image VOLUME an anonymous volume; until Berth has volumes, they are plain directories of
    // the container's own layer, and go with it: said once, at create.
    const volumes = Object.keys((ic.Volumes as Record<string, object> | null | undefined) ?? {});
    if (volumes.length) warnings.push(`berthd has no volumes yet: the image's volumes (${volumes.join(', ')}) are directories of the container's filesystem, removed with it`);
    // dockerd's merge with the image: without an entrypoint of its own, the container takes the image's command
    // (if it has none) and entrypoint (if it gave none at all); `--entrypoint ""` ([""]) then means none.
    let entrypoint = o.entrypoint ?? ic.Entrypoint ?? null;
    const cmd = (o.cmd?.length || o.entrypoint?.length ? o.cmd : ic.Cmd) ?? null;
    if (entrypoint?.length === 1 && entrypoint[0] === '') entrypoint = null;
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (o.workingDir && !o.workingDir.startsWith('/')) {
      throw new InvalidArgument(`the working directory '${o.workingDir}' is invalid, it needs to be an absolute path`);
    }
    if (argv.length === 0) throw new InvalidArgument('no command specified');
    const initLayer = await this.initLayers.forImage(image.chain.at(-1) ? this.d.layers.chainDiffDirs(image.chain.at(-1) as Digest) : []);
    const id = newId();
    const stopSignal = o.stopSignal ?? ic.StopSignal;
    const rec: ContainerRecord = {
      id,
      name,
      created: nowNano(),
      image: image.id,
      imageName: o.image,
      ...(image.chain.at(-1) && { topLayer: image.chain.at(-1) }),
      initLayer,
      path: argv[0] as string,
      args: argv.slice(1),
      config: {
        Env: configEnv(ic.Env ?? [], o.env ?? []),
        WorkingDir: o.workingDir ? posix.normalize(o.workingDir).replace(/(.)\/+$/, '$1') : ic.WorkingDir || '',
        User: o.user ?? ic.User ?? '',
        Hostname: o.hostname || (hostConfig.UTSMode === 'host' || hostConfig.NetworkMode === 'host' ? hostname() : id.slice(0, 12)),
        Domainname: o.domainname ?? '',
        Labels: { ...(ic.Labels ?? {}), ...(o.labels ?? {}) },
        Cmd: cmd,
        Entrypoint: entrypoint,
        Image: o.image,
        ...(stopSignal && { StopSignal: stopSignal }),
        ...(o.stopTimeout !== undefined && { StopTimeout: o.stopTimeout }),
        Tty: !!o.tty,
        OpenStdin: !!o.openStdin,
        StdinOnce: !!o.stdinOnce,
        AttachStdin: !!o.attach?.stdin,
        AttachStdout: !!o.attach?.stdout,
        AttachStderr: !!o.attach?.stderr,
        ...withHealthcheck(mergeHealthcheck(o.healthcheck, ic.Healthcheck as Healthcheck | undefined)),
        ...(exposed && Object.keys(exposed).length && { ExposedPorts: exposed }),
        ...(volumes.length && { Volumes: Object.fromEntries(volumes.map((v) => [v, {}])) }),
      },
      hostConfig: { ...hostConfig, Runtime: runtime },
      state: { status: 'created', pid: 0, exitCode: 0, startedAt: zeroTime, finishedAt: zeroTime, error: '' },
    };
    if (stopSignal) signalNumber(stopSignal);
    await Rollback.run(async (rb) => {
      const dir = this.dataDir(id);
      await mkdir(dir, { recursive: true, mode: 0o710 });
      rb.add(() => removeAll(dir));
      await Promise.all(['upper', 'work', 'merged'].map((sub) => mkdir(join(dir, sub), { mode: 0o755 })));
      await this.d.records.put(rec);
    });
    this.d.events.publish('container', 'create', id, { image: o.image, name });
    return { container: rec, warnings };
  }

  start(idOrName: string): Promise<void> {
    const rec = this.resolve(idOrName);
    return this.lock(rec.id).run(async () => {
      const c = this.resolve(rec.id);
      if (c.state.status === 'running') throw new NotModified('container already started');
      if (c.state.status === 'paused') throw new Conflict('cannot start a paused container, try unpause instead');
      if (c.state.status !== 'created' && c.state.status !== 'exited' && c.state.status !== 'restarting') {
        throw new Conflict(`cannot start a container in state ${c.state.status}`);
      }
      await this.startLocked(c);
    });
  }

  /** Mounts the rootfs, writes the bundle and has the monitor create the container; undoes all of it on failure. */
  private async startLocked(c: ContainerRecord): Promise<void> {
    const dir = this.dataDir(c.id);
    const bundle = this.bundleDir(c.id);
    const rootfs = join(dir, 'merged');
    const runtime = this.runtimeOf(c);
    const started = Rollback.run(async (rb) => {
      // The bundle, the rootfs mount and the /etc files do not depend on each other: made at once (each is a few
      // slow metadata writes or a process), and all settled before a failure is acted on, so the undo steps
      // (registered first, harmless for what was not made) never race with them.
      rb.add(() => removeAll(bundle));
      rb.add(() => unmount(rootfs));
      const { lower, upper, work } = this.dirs(c);
      const [, , etc] = await allSettled([
        removeAll(bundle).then(() => Promise.all(['exits', 'sock'].map((sub) => mkdir(join(bundle, sub), { recursive: true, mode: 0o700 })))),
        mount(overlayMount(lower, upper, work), rootfs),
        this.etcFilesFor(c),
      ] as const);
      const spec = await containerSpec(c, {
        rootfs,
        etc,
        cgroupsPath: this.cgroupPath(c),
        ...(this.d.host.x32Abi !== undefined && { x32Abi: this.d.host.x32Abi }),
        defaultSeccomp: this.d.defaultSeccomp,
        ...(this.d.initPath && { initPath: this.d.initPath }),
        namespaceOf: (other, type) => this.namespacePath(other, type),
      });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
      rb.add(() => runtime.delete(c.id, true).catch(() => {}));
      this.shipper.reset(dir); // the previous run's journal was shipped when it ended
      const handle = await this.d.monitor.create(c.id, runtime, {
        bundle,
        logPath: journalPath(dir),
        exitDir: join(bundle, 'exits'),
        socketDir: join(bundle, 'sock'),
        ...this.journalCap(c),
      }, { stdin: c.config.OpenStdin, terminal: c.config.Tty, leaveStdinOpen: !c.config.StdinOnce });
      this.shipper.ship(c.id, this.shipTarget(c));
      rb.add(() => this.shipper.stop(c.id));
      await failpoint('container.start');
      // The record is written while the runtime starts the process (both take milliseconds); a failed start
      // puts the previous state back (below).
      const previous = c.state;
      c.state = {
        ...c.state,
        status: 'running',
        pid: handle.pid,
        exitCode: 0,
        startedAt: nowNano(),
        finishedAt: zeroTime,
        error: '',
        oomKilled: false,
        stoppedByUser: false,
        ...(probeCommand(c.config.Healthcheck) && { health: { Status: 'starting' as const, FailingStreak: 0, Log: previous.health?.Log ?? [] } }),
      };
      rb.add(() => void (c.state = previous));
      await allSettled([runtime.start(c.id), this.d.records.put(c)] as const);
      this.unseenExits.delete(c.id);
    });
    try {
      await started;
    } catch (e) {
      // Like dockerd: a container that was to be removed on exit is removed when it cannot start.
      const message = (e as Error).message;
      if (c.hostConfig.AutoRemove) await this.removeLocked(c).catch(() => {});
      else if (c.state.status === 'restarting') await this.setExited(c, startFailureCode(message), message);
      else {
        // Kept for inspect, as dockerd does: the runtime's message and the exit code the shell would give.
        c.state = { ...c.state, exitCode: startFailureCode(message), error: message };
        await this.d.records.put(c).catch(() => {});
      }
      throw e;
    }
    this.publish(c, 'start');
    this.exits.emit(`start:${c.id}`);
    this.watchExit(c.id);
  }

  /** The /etc files of a starting container: its own, rewritten, or those of the container whose network it joins. */
  private async etcFilesFor(c: ContainerRecord): Promise<EtcFiles> {
    const mode = c.hostConfig.NetworkMode;
    if (mode.startsWith('container:')) return etcFiles(this.dataDir(this.resolve(mode.slice('container:'.length)).id));
    const hc = c.hostConfig;
    return writeEtcFiles(this.dataDir(c.id), {
      hostname: c.config.Hostname,
      networkMode: mode,
      extraHosts: (hc.ExtraHosts ?? []).map(extraHost),
      dns: { nameservers: hc.Dns ?? [], search: hc.DnsSearch ?? [], options: hc.DnsOptions ?? [] },
    });
  }

  /** The /etc files inspect shows, once the container has started (see etcFilesFor). */
  etcOf(c: ContainerRecord): EtcFiles | undefined {
    if (c.state.startedAt === zeroTime) return undefined;
    const mode = c.hostConfig.NetworkMode;
    const owner = mode.startsWith('container:') ? this.d.records.get(mode.slice('container:'.length))?.id : c.id;
    return owner ? etcFiles(this.dataDir(owner)) : undefined;
  }

  /** Under `--cgroup-parent` if given, else the daemon's; from the hierarchy's root, as dockerd's cgroupfs driver. */
  private cgroupPath(c: ContainerRecord): string {
    const parent = (c.hostConfig.CgroupParent || this.d.cgroupParent).replace(/^\/+|\/+$/g, '');
    return parent ? `/${parent}/${c.id}` : `/${c.id}`;
  }

  /** The namespace of another running container, for `--pid/--ipc/--network container:<name>`. */
  private namespacePath(nameOrId: string, type: NamespaceType): string {
    const other = this.resolve(nameOrId);
    if (!isUp(other.state.status)) throw new Conflict(`cannot join namespace of a non running container: container ${other.id} is ${other.state.status}`);
    return `/proc/${other.state.pid}/ns/${type === 'network' ? 'net' : type}`;
  }

  /**
   * Watches the monitor's exit directory (inotify, with a slow poll as a safety net); on exit, records the code
   * and releases the runtime and the mount. The poll also notices a monitor that died without recording an exit
   * (killed, say): the container is then ended as exited with 255, as after a reboot (see recover).
   */
  private watchExit(id: string): void {
    const exitDir = join(this.bundleDir(id), 'exits');
    let done = false;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const check = async (poll = false) => {
      if (done) return;
      let code = await this.d.monitor.exitCode(id, exitDir).catch(() => undefined);
      let monitorLost = false;
      if (done) return;
      if (code === undefined && poll && !(await this.d.monitor.alive(id, this.bundleDir(id)))) {
        // Read again: the monitor may have recorded the exit just before it ended.
        code = await this.d.monitor.exitCode(id, exitDir).catch(() => undefined);
        monitorLost = code === undefined;
      }
      if (done) return;
      if (code === undefined && !monitorLost && isUp(this.d.records.get(id)?.state.status)) return;
      done = true;
      watcher?.close();
      clearInterval(timer);
      if (code !== undefined || monitorLost) await this.lock(id).run(() => this.finishExit(id, code ?? 255, { monitorLost }));
    };
    try {
      watcher = watch(exitDir, () => void check());
      watcher.on('error', () => {});
    } catch {
      // no inotify: the poll below still notices the exit
    }
    // inotify reports exits at once; the poll is for a lost monitor (rare), and every running container has one:
    // a few seconds keeps an idle berthd idle.
    timer = setInterval(() => void check(true), exitPollMs);
    timer.unref();
    void check();
  }

  /**
   * An exit: the last output is shipped (so `logs` right after `wait` has all of it), the exit recorded, and the
   * runtime state and rootfs mount released. When the container's processes are surely gone (its init exited, in
   * its own PID namespace) waiters are answered first and the release follows, still under the container's lock,
   * so a start, a removal or a mount for `cp` (all locked) finds it done. Otherwise (a lost monitor, a shared PID
   * namespace) the release, which kills what is left, comes first.
   */
  private async finishExit(id: string, code: number, o: { monitorLost?: boolean } = {}): Promise<void> {
    const c = this.d.records.get(id);
    if (!c || !isUp(c.state.status)) return;
    const release = () => Promise.all([this.runtimeOf(c).delete(id, true).catch(() => {}), unmount(join(this.dataDir(id), 'merged')).catch(() => {})]);
    const processesGone = !o.monitorLost && !c.hostConfig.PidMode;
    const [oom] = await Promise.all([oomKilled(this.cgroupPath(c), this.d.cgroupVersion), this.drainLogs(c)]);
    if (!processesGone) await release();
    if (c.hostConfig.AutoRemove) {
      // The record is about to go: the exit is announced without being written, and the removal runs alongside
      // the release (it waits for it before it reports the container removed).
      const releasing = processesGone ? release() : undefined;
      await this.setExited(c, code, '', oom, { persist: false });
      // The log goes with the container: let attached clients read the end of it first (bounded wait).
      await this.readersDone(id, 2000);
      await this.removeLocked(c, releasing);
      return;
    }
    const ranMs = Date.now() - Date.parse(c.state.startedAt);
    await this.setExited(c, code, '', oom);
    if (processesGone) await release();
    this.scheduleRestart(c, ranMs);
  }

  /** Records an exit (or a failed restart) and tells waiters, followers and the event stream. */
  private async setExited(c: ContainerRecord, code: number, error: string, oom = false, o: { persist?: boolean } = {}): Promise<void> {
    c.state = { ...c.state, status: 'exited', pid: 0, exitCode: code, error, oomKilled: oom, finishedAt: nowNano() };
    if (o.persist !== false) await this.d.records.put(c);
    if (oom) this.publish(c, 'oom');
    this.publish(c, 'die', { exitCode: String(code) });
    this.exits.emit(`exit:${c.id}`);
    const waiters = this.exitWaiters.get(c.id) ?? [];
    if (waiters.length === 0) this.unseenExits.add(c.id);
    for (const w of waiters) w();
    this.exitWaiters.delete(c.id);
  }

  /**
   * Restart policies, as dockerd's restart manager: `always` and `unless-stopped` unless a user stopped the
   * container, `on-failure[:N]` on a non-zero exit (at most N times). The delay starts at 100 ms and doubles per
   * restart up to a minute; a run of 10 s or more resets it.
   */
  private scheduleRestart(c: ContainerRecord, ranMs: number): void {
    const p = c.hostConfig.RestartPolicy;
    const count = c.state.restartCount ?? 0;
    const wanted =
      (p.Name === 'always' || p.Name === 'unless-stopped'
        ? !c.state.stoppedByUser
        : p.Name === 'on-failure' && c.state.exitCode !== 0 && !c.state.stoppedByUser && (p.MaximumRetryCount === 0 || count < p.MaximumRetryCount));
    if (!wanted) return;
    if (ranMs >= 10_000) this.backoff.delete(c.id);
    const delay = Math.min(this.backoff.get(c.id) ?? 100, 60_000);
    this.backoff.set(c.id, delay * 2);
    c.state = { ...c.state, status: 'restarting' };
    void this.d.records.put(c);
    const timer = setTimeout(() => {
      this.restartTimers.delete(c.id);
      void this.lock(c.id)
        .run(async () => {
          if (this.d.records.get(c.id)?.state.status !== 'restarting') return;
          c.state = { ...c.state, restartCount: count + 1 };
          await this.startLocked(c);
          this.publish(c, 'restart');
        })
        .catch((e: unknown) => this.d.log.warn('restart failed', { container: c.id, error: e }));
    }, delay);
    this.restartTimers.set(c.id, timer);
  }

  /** A user's stop, kill or removal: no more restarts (a pending one is cancelled). */
  private async markStoppedByUser(c: ContainerRecord): Promise<void> {
    const timer = this.restartTimers.get(c.id);
    clearTimeout(timer);
    this.restartTimers.delete(c.id);
    c.state = { ...c.state, stoppedByUser: true, ...(c.state.status === 'restarting' && { status: 'exited' as const }) };
    await this.d.records.put(c);
  }

  /**
   * Where an attached client's input goes: the container's stdin through conmon's attach socket, connected once
   * the container runs (clients attach before `start`). One connection per container run is shared by all
   * clients and kept when a client detaches, since conmon closes stdin when the last connection goes (for
   * StdinOnce containers, which is what `end` does on purpose).
   */
  stdin(idOrName: string): StdinSink {
    const c = this.resolve(idOrName);
    if (!c.config.OpenStdin) throw new Conflict(`container ${c.id} was not created with stdin open (-i)`);
    const connection = () => {
      let conn = this.stdinConns.get(c.id);
      if (!conn) {
        conn = this.whenRunning(c).then(async () => {
          const socket = await AttachSocket.connect(this.bundleDir(c.id));
          socket.onOutput(() => {}); // output is served from the log; the socket must still be drained
          socket.onClose(() => this.stdinConns.delete(c.id));
          return socket;
        });
        conn.catch(() => this.stdinConns.delete(c.id));
        this.stdinConns.set(c.id, conn);
      }
      return conn;
    };
    return {
      write: async (data) => (await connection()).write(data),
      end: async () => {
        if (c.config.StdinOnce) (await connection()).closeStdin();
      },
    };
  }

  /** Resolves when the container runs (now, or at its next start). */
  private whenRunning(c: ContainerRecord): Promise<void> {
    if (c.state.status === 'running') return Promise.resolve();
    return new Promise((resolve) => this.exits.once(`start:${c.id}`, () => resolve()));
  }

  /** Resizes a TTY container's terminal. */
  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const c = this.resolve(idOrName);
    if (!isUp(c.state.status)) throw new Conflict(`Container ${c.id} is not running`);
    if (!c.config.Tty) return;
    await resizeTerminal(this.bundleDir(c.id), height, width);
    this.publish(c, 'resize', { height: String(height), width: String(width) });
  }

  /** A container event with the attributes dockerd gives every one (image and name) and these. */
  private publish(c: ContainerRecord, action: string, attributes: Record<string, string> = {}): void {
    this.d.events.publish('container', action, c.id, { ...attributes, image: c.imageName, name: c.name });
  }

  /** What an exec session needs of its container: it must be running, and not paused. */
  execTarget(idOrName: string): { container: ContainerRecord; runtime: OciRuntime; bundle: string; rootfs: string } {
    const c = this.resolve(idOrName);
    if (c.state.status === 'paused') throw new Conflict(`Container ${c.id} is paused, unpause the container before exec`);
    if (c.state.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
    return { container: c, runtime: this.runtimeOf(c), bundle: this.bundleDir(c.id), rootfs: join(this.dataDir(c.id), 'merged') };
  }

  /** Resolves with the exit code when the container is (or becomes) not running. */
  async wait(idOrName: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running'): Promise<number> {
    const c = this.resolve(idOrName);
    // The docker CLI sends its `next-exit` wait concurrently with `start`; a container that exits in a few
    // milliseconds can finish before that request arrives. Such a wait gets the exit nobody has seen yet.
    const missed = condition === 'next-exit' && c.state.status === 'exited' && this.unseenExits.delete(c.id);
    if (!missed && (condition === 'next-exit' || isUp(c.state.status))) {
      await new Promise<void>((resolve) => {
        const list = this.exitWaiters.get(c.id) ?? [];
        list.push(resolve);
        this.exitWaiters.set(c.id, list);
      });
    }
    if (condition === 'removed') {
      // Removal (automatic after an exit, or a user's) may come later: wait for it; the record object keeps
      // the last exit code.
      if (this.d.records.get(c.id)) await new Promise((r) => this.exits.once(`removed:${c.id}`, r));
    }
    return c.state.exitCode;
  }

  kill(idOrName: string, signal = 'KILL'): Promise<void> {
    const c = this.resolve(idOrName);
    return this.lock(c.id).run(async () => {
      const sig = signalNumber(signal);
      if (c.state.status === 'restarting') throw new Conflict(`Container ${c.id} is restarting, wait until the container is running`);
      if (!isUp(c.state.status)) throw new Conflict(`Cannot kill container: ${idOrName}: Container ${c.id} is not running`);
      await this.markStoppedByUser(c);
      await this.signal(c, sig);
    });
  }

  /** The container's stop signal (`--stop-signal`, else the image's, else TERM), then KILL after the timeout. */
  async stop(idOrName: string, timeoutSec?: number, signal?: string): Promise<void> {
    const c = this.resolve(idOrName);
    const stopSignal = signalNumber(signal || c.config.StopSignal || 'TERM');
    if (c.state.status === 'restarting') {
      await this.lock(c.id).run(() => this.markStoppedByUser(c));
      return;
    }
    if (!isUp(c.state.status)) throw new NotModified('container already stopped');
    await this.lock(c.id).run(() => this.markStoppedByUser(c));
    const timeout = timeoutSec ?? c.config.StopTimeout ?? 10;
    const exited = this.wait(c.id, 'next-exit');
    await this.lock(c.id).run(() => this.signal(c, stopSignal)).catch(() => {});
    // A negative timeout waits for ever, as in docker.
    const timer = timeout < 0 ? new Promise<never>(() => {}) : new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeout * 1000));
    if ((await Promise.race([exited, timer])) === 'timeout') {
      await this.killNow(c);
      await exited;
    }
    this.publish(c, 'stop');
  }

  /**
   * SIGKILL for every process of the container. With a private PID namespace, killing its init is enough (the
   * kernel kills the rest) and, sent directly, it saves spawning the runtime; the pid is checked against the
   * container's cgroup so a reused pid is never hit. Otherwise the runtime kills the whole cgroup.
   */
  private async killNow(c: ContainerRecord): Promise<void> {
    const pid = c.state.pid;
    let sent = false;
    if (!c.hostConfig.PidMode && pid > 0 && (await pidInCgroup(pid, this.cgroupPath(c)))) {
      try {
        process.kill(pid, 'SIGKILL');
        sent = true;
      } catch {
        // gone meanwhile, or not ours to signal: let the runtime do it
      }
    }
    if (!sent) await this.runtimeOf(c).kill(c.id, 'KILL', true).catch(() => {});
    this.publish(c, 'kill', { signal: '9' });
    if (c.state.status === 'paused') await this.thaw(c).catch(() => {}); // a frozen process cannot die
  }

  /**
   * Sends a signal, as dockerd does to a paused container too: the container is thawed after a KILL or its stop
   * signal (which it is then expected to die of), so the signal is acted on; other signals wait for `unpause`.
   */
  private async signal(c: ContainerRecord, sig: number): Promise<void> {
    // By number: runc knows no names for the real-time signals.
    await this.runtimeOf(c).kill(c.id, String(sig));
    this.publish(c, 'kill', { signal: String(sig) });
    const stopSignal = c.config.StopSignal ? signalNumber(c.config.StopSignal) : undefined;
    if (c.state.status === 'paused' && (sig === 9 || stopSignal === undefined || sig === stopSignal)) await this.thaw(c);
  }

  private async thaw(c: ContainerRecord): Promise<void> {
    await this.runtimeOf(c).resume(c.id);
    // The thawed process may already have died of its signal and had its exit recorded.
    if (c.state.status !== 'paused') return;
    c.state = { ...c.state, status: 'running' };
    await this.d.records.put(c);
  }

  /** `restart`: stop (if running) then start; the restart count and a user's earlier stop are reset. */
  async restart(idOrName: string, timeoutSec?: number, signal?: string): Promise<void> {
    const c = this.resolve(idOrName);
    if (isUp(c.state.status) || c.state.status === 'restarting') await this.stop(c.id, timeoutSec, signal);
    c.state = { ...c.state, restartCount: 0 };
    await this.start(c.id);
    this.publish(c, 'restart');
  }

  async remove(idOrName: string, force = false): Promise<void> {
    const c = this.resolve(idOrName);
    if (c.state.status === 'restarting') {
      if (!force) throw new Conflict(`cannot remove container "${idOrName}": container is restarting: stop the container before removing or force remove`);
      await this.lock(c.id).run(() => this.markStoppedByUser(c));
    }
    if (isUp(c.state.status)) {
      if (!force) {
        const why = c.state.status === 'paused' ? 'container is paused and must be unpaused first' : 'container is running: stop the container before removing or force remove';
        throw new Conflict(`cannot remove container "${idOrName}": ${why}`);
      }
      await this.lock(c.id).run(() => this.markStoppedByUser(c));
      const exited = this.wait(c.id, 'next-exit');
      await this.killNow(c);
      await exited;
    }
    await this.lock(c.id).run(() => this.removeLocked(c));
  }

  /** Removes the container; `releasing` is its runtime state and mount being released meanwhile (see finishExit). */
  private async removeLocked(c: ContainerRecord, releasing?: Promise<unknown>): Promise<void> {
    if (!this.d.records.get(c.id)) return;
    // An exited container's runtime state went at its exit (finishExit); only a running one still has some.
    if (isUp(this.d.records.get(c.id)?.state.status)) await this.runtimeOf(c).delete(c.id, true).catch(() => {});
    await Promise.all([unmount(join(this.dataDir(c.id), 'merged')), this.shipper.stop(c.id)]);
    // The record goes first: a crash before the directories are gone leaves directories (and at most a runtime
    // state) without a record, which the next start sweeps away (sweepOrphans), never a record without its files.
    await this.d.records.delete(c.id);
    await failpoint('container.remove');
    await Promise.all([removeAll(this.bundleDir(c.id)), removeAll(this.dataDir(c.id)), releasing]);
    this.exits.emit(`removed:${c.id}`);
    this.locks.delete(c.id);
    this.unseenExits.delete(c.id);
    this.backoff.delete(c.id);
    this.publish(c, 'destroy');
  }

  /** The json-file log, in batches; with `follow`, until the container stops. Since/until are RFC3339Nano. */
  logs(idOrName: string, o: { follow?: boolean; tail?: number; since?: string; until?: string; signal?: AbortSignal } = {}): AsyncGenerator<LogBatch> {
    const c = this.resolve(idOrName);
    if (this.logConfig(c).Type === 'none') throw new Conflict('configured logging driver does not support reading');
    const { follow, ...rest } = o;
    return readJsonLog(this.logFiles(c), {
      ...rest,
      ...(follow && isUp(c.state.status) && { follow: this.follower(c.id, () => !isUp(this.d.records.get(c.id)?.state.status)) }),
    });
  }

  /** Wake-ups for a log follower: new output, an exit or the removal; `done` says when to stop. */
  private follower(id: string, done: () => boolean) {
    return {
      done,
      subscribe: (wake: () => void) => {
        const unsubscribe = this.shipper.subscribe(id, wake);
        for (const e of [`exit:${id}`, `removed:${id}`]) this.exits.on(e, wake);
        return () => {
          unsubscribe();
          for (const e of [`exit:${id}`, `removed:${id}`]) this.exits.off(e, wake);
        };
      },
    };
  }

  /** Output from now on (all of it if the container has not started): what an attached client receives. */
  async attachOutput(idOrName: string, signal?: AbortSignal): Promise<AsyncGenerator<LogBatch>> {
    const c = this.resolve(idOrName);
    this.publish(c, 'attach');
    const files = this.logFiles(c);
    // Fixed now, before the client is answered (and starts the container): later output is all the client's.
    const after = c.state.status === 'created' ? undefined : logEnd(files.path);
    const startedBefore = c.state.startedAt;
    const log = readJsonLog(files, {
      ...(after && { after }),
      ...(signal && { signal }),
      // Done once the container is gone, or has run (a new start) and is no longer running.
      follow: this.follower(c.id, () => {
        const now = this.d.records.get(c.id)?.state;
        if (!now) return true;
        const ranSinceAttach = now.startedAt !== startedBefore || c.state.status === 'running';
        return ranSinceAttach && now.status !== 'running';
      }),
    });
    const { readers, exits } = this;
    // Counted from the first read (a generator never iterated must not hold up removal).
    return (async function* () {
      readers.set(c.id, (readers.get(c.id) ?? 0) + 1);
      try {
        yield* log;
      } finally {
        const left = (readers.get(c.id) ?? 1) - 1;
        if (left > 0) readers.set(c.id, left);
        else {
          readers.delete(c.id);
          exits.emit(`read:${c.id}`);
        }
      }
    })();
  }

  /** Resolves when no attached client is still reading the container's output, or after `limitMs`. */
  private readersDone(id: string, limitMs: number): Promise<void> {
    if (!this.readers.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.exits.off(`read:${id}`, done);
        resolve();
      };
      const timer = setTimeout(done, limitMs);
      this.exits.on(`read:${id}`, done);
    });
  }

  /**
   * Start-up: containers whose monitor recorded an exit while berthd was down are marked exited (and restarted
   * by their policy); a pending restart is rescheduled; `always` containers come back up even if stopped by a
   * user, as dockerd does when it starts.
   */
  async recover(): Promise<void> {
    await this.sweepOrphans();
    for (const c of this.d.records.list()) {
      if (c.state.status === 'restarting') this.scheduleRestart(c, 0);
      else if (c.state.status === 'exited' && c.hostConfig.RestartPolicy.Name === 'always') {
        await this.start(c.id).catch((e: unknown) => this.d.log.warn('restart at start-up failed', { container: c.id, error: e }));
      } else if (isUp(c.state.status)) {
        const code = await this.d.monitor.exitCode(c.id, join(this.bundleDir(c.id), 'exits'));
        if (code !== undefined) await this.finishExit(c.id, code);
        // No exit recorded and no monitor: the host rebooted, or the monitor was killed. dockerd marks such a
        // container exited with 255.
        else if (!(await this.d.monitor.alive(c.id, this.bundleDir(c.id)))) await this.finishExit(c.id, 255, { monitorLost: true });
        else {
          this.shipper.ship(c.id, this.shipTarget(c)); // catches up with what conmon wrote meanwhile
          this.watchExit(c.id);
        }
      }
    }
  }

  /**
   * What a crash left behind. Without a record (a create or removal cut short): container directories and bundles
   * (a rootfs mount first) and runtime states (killing what they run); a container is its record, nothing else may
   * outlive it. With a record that is not up (a start cut short before it was recorded): the runtime state and the
   * rootfs mount, as dockerd kills a task whose container it does not know as running.
   */
  private async sweepOrphans(): Promise<void> {
    const orphan = (id: string) => /^[0-9a-f]{64}$/.test(id) && !this.d.records.get(id);
    for (const runtime of this.d.runtimes.values()) {
      for (const id of await runtime.list().catch(() => [])) {
        const rec = this.d.records.get(id);
        if (rec ? isUp(rec.state.status) : !orphan(id)) continue;
        this.d.log.warn(rec ? 'removing the runtime state of a start cut short' : 'removing the runtime state of a container with no record', { container: id, runtime: runtime.name });
        await runtime.delete(id, true).catch((e: unknown) => this.d.log.warn('leftover runtime state not removed', { container: id, error: e }));
      }
    }
    const down = this.d.records.list().filter((c) => !isUp(c.state.status));
    await Promise.all(down.map((c) => unmount(join(this.dataDir(c.id), 'merged')).catch((e: unknown) => this.d.log.warn('leftover rootfs mount not removed', { container: c.id, error: e }))));
    for (const root of [this.d.paths.dataRoot, this.d.paths.execRoot]) {
      for (const id of (await readdir(root).catch(() => [] as string[])).filter(orphan)) {
        this.d.log.warn('removing the files of a container with no record', { container: id, dir: join(root, id) });
        await unmount(join(root, id, 'merged'))
          .then(() => removeAll(join(root, id)))
          .catch((e: unknown) => this.d.log.warn('orphan container files not removed', { container: id, error: e }));
      }
    }
  }

  /** Where a container's cgroup is and which hierarchy it is on (for stats). */
  cgroupOf(c: ContainerRecord): { path: string; version: '1' | '2' } {
    return { path: this.cgroupPath(c), version: this.d.cgroupVersion };
  }
}

function pickResources(hc: HostConfig): Resources {
  return Object.fromEntries(Object.keys(resourceDefaults).map((k) => [k, hc[k as keyof Resources]])) as unknown as Resources;
}

/** Promise.all that waits for every promise to settle before it rejects with the first failure. */
async function allSettled<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** dockerd's exit code for a start that failed: 126 cannot execute, 127 not found, else 128. */
function startFailureCode(message: string): number {
  if (/permission denied|is a directory/i.test(message)) return 126;
  if (/not a directory|executable file not found|no such file or directory/i.test(message)) return 127;
  return 128;
}

/** Running or paused: the container's processes exist. */
function isUp(status: ContainerStatus | undefined): boolean {
  return status === 'running' || status === 'paused';
}

function uniquePrefix(all: ContainerRecord[], prefix: string): ContainerRecord | undefined {
  if (!/^[a-f0-9]+$/.test(prefix)) return undefined;
  const m = all.filter((c) => c.id.startsWith(prefix));
  if (m.length > 1) throw new InvalidArgument(`multiple IDs found with provided prefix: ${prefix}`);
  return m[0];
}

const adjectives = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'vivid', 'witty', 'zen'];
const nouns = ['albatross', 'beacon', 'compass', 'dinghy', 'harbor', 'keel', 'lighthouse', 'mooring', 'pier', 'quay', 'rudder', 'wharf'];
/** Docker-style `adjective_noun` names. */
function generateName(): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)] as string;
  return `${pick(adjectives)}_${pick(nouns)}_${shortId(newId()).slice(0, 4)}`;
}

/** Config.Healthcheck as stored: none for a container whose merged test is empty. */
function withHealthcheck(h: Healthcheck | undefined): { Healthcheck?: Healthcheck } {
  return h && (h.Test?.length || h.Interval || h.Timeout || h.Retries) ? { Healthcheck: h } : {};
}

/**
 * What every json-file entry of the container carries (moby's Info.ExtraAttributes and its `tag`): the labels and
 * environment variables the log options name or match, and the tag (a template of the container's names).
 */
function logAttributes(c: ContainerRecord, log: LogConfig): Record<string, string> {
  const o = log.Config;
  const out: Record<string, string> = {};
  const env = Object.fromEntries(c.config.Env.map((e) => [e.split('=', 1)[0] ?? '', e.slice(e.indexOf('=') + 1)]));
  const pick = (from: Record<string, string>, names: string | undefined, pattern: string | undefined) => {
    for (const k of (names ?? '').split(',').filter(Boolean)) if (k in from) out[k] = from[k] ?? '';
    if (pattern) for (const [k, v] of Object.entries(from)) if (matchesPattern(pattern, k)) out[k] = v;
  };
  pick(c.config.Labels, o['labels'], o['labels-regex']);
  pick(env, o['env'], o['env-regex']);
  if (o['tag']) {
    const fields: Record<string, string> = { ID: c.id.slice(0, 12), FullID: c.id, Name: c.name, ImageID: c.image.replace(/^sha256:/, '').slice(0, 12), ImageFullID: c.image, ImageName: c.imageName, DaemonName: 'docker' };
    out['tag'] = o['tag'].replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, f: string) => fields[f] ?? m);
  }
  return out;
}