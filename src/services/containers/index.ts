// Containers: create, start, stop, kill, restart, pause, update, rename, remove, and what reads them (list, top,
// diff, export). Every lifecycle operation follows Podman's skeleton through the store: lock → reload → check the
// state table (state.ts) → act → save a new record. The rest lives beside it: exits and waiters (exits.ts), restart
// policies (restart.ts), output and input (io.ts), the root filesystem (rootfs.ts), start-up recovery (recovery.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { hostname } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { Conflict, Forbidden, InvalidArgument, NotFound, NotModified, isBerthError } from '../../errors/index.js';
import { cgroupPids, oomKilled, pidInCgroup } from '../../kernel/cgroups.js';
import { removeAll } from '../../kernel/fs.js';
import { processTable } from '../../kernel/processes.js';
import { type LayerStore, packLayer } from '../../layers/index.js';
import type { RecordStore } from '../../metadata/records.js';
import type { Digest } from '../../oci/index.js';
import { type ConmonMonitor, type LogBatch, type NamespaceType, type OciRuntime, type SeccompProfile, journalPath, parseSeccompProfile, resizeTerminal, validateCapabilities } from '../../runtime/index.js';
import { signalNumber } from '../../util/signals.js';
import { newId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import { failpoint } from '../../util/failpoint.js';
import { generateName } from '../../util/names.js';
import { Rollback } from '../../util/rollback.js';
import { nowNano, parseTimeFilter, zeroTime } from '../../util/timestamp.js';
import type { ContainerReferences, ImageService } from '../images/index.js';
import type { EventBus } from '../system/events.js';
import type { VolumeReferences } from '../volumes/index.js';
import { type Attachment, type EndpointConfig, NetworkService } from '../networks/index.js';
import { containerResolver } from '../../network/index.js';
import { linkEnv, linkHostsLine, networkedContainer, parseLink } from './networking.js';
import { type MountPoint, VolumeService, planMounts, releaseMounts, setUpMounts, volumeNames } from './mounts.js';
import { type HostConfig, type HostLimits, type Resources, extraHost, normalizeHostConfig, resourceDefaults, securityOptions, validateResources } from './hostconfig.js';
import { configEnv, containerSpec, ociResources } from './spec.js';
import { type EtcFiles, InitLayers, etcFiles, writeEtcFiles } from './etc.js';
import { type Health, type Healthcheck, mergeHealthcheck, probeCommand, validateHealthcheck } from './health.js';
import { checkListFilters, labelsMatch, listFilter } from './filters.js';
import { type ContainerInspect, type ContainerSummary, containerInspect, containerSummary } from './views.js';
import { type ExitNotice, Waiters, watchExit } from './exits.js';
import { ContainerIO, type StdinSink } from './io.js';
import { RestartManager, wantsRestart } from './restart.js';
import { ContainerRootfs, type RootfsDirs } from './rootfs.js';
import { recover } from './recovery.js';
import type { ContainerRecord } from './record.js';
import { ensureState, isUp } from './state.js';
import { ContainerStore } from './store.js';

export type { ContainerConfig, ContainerRecord, ContainerStateRecord, CreateOptions } from './record.js';
export type { ContainerStatus } from './state.js';
export type { StdinSink } from './io.js';
import type { CreateOptions } from './record.js';

export interface ContainerPaths {
  /** Persistent per-container data (upper/work dirs, log). */
  dataRoot: string;
  /** Runtime state (bundle, pid files, exit files). */
  execRoot: string;
  /** The init layers all containers share (see etc.ts). */
  initLayers: string;
}

const nameRe = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** How long a SIGKILLed container is waited for before `kill` answers anyway (a process stuck in the kernel). */
const killWaitMs = 10_000;

export interface ContainerServiceDeps {
  images: ImageService;
  networks: NetworkService;
  volumes: VolumeService;
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

/** What containers hold of images, from their records (for the image service, wired by the composition root). */
export function containerReferences(records: RecordStore<ContainerRecord>): ContainerReferences {
  return {
    usedBy: (imageId: Digest) => records.list().filter((c) => c.image === imageId).map((c) => c.id),
    layerRoots: () => records.list().flatMap((c) => (c.topLayer ? [c.topLayer] : [])),
  };
}

/** Which containers use each volume, from their records (for the volume service, wired by the composition root). */
export function volumeReferences(records: RecordStore<ContainerRecord>): VolumeReferences {
  return { usedBy: (name: string) => records.list().filter((c) => volumeNames(c.mounts).includes(name)).map((c) => c.id) };
}

export class ContainerService {
  private readonly store: ContainerStore;
  private readonly waiters = new Waiters();
  /** Stops asked per container, so that a restart can tell a stop that came in while it ran (see restart). */
  private readonly stopRequests = new Map<string, number>();
  private readonly io: ContainerIO;
  private readonly rootfs: ContainerRootfs;
  private readonly restarts: RestartManager;
  private readonly initLayers: InitLayers;

  constructor(private readonly d: ContainerServiceDeps) {
    this.store = new ContainerStore(d.records);
    this.initLayers = new InitLayers(d.paths.initLayers);
    this.rootfs = new ContainerRootfs(d.layers, this.initLayers, (id) => this.dataDir(id));
    this.io = new ContainerIO(this.store, this.waiters, { dataDir: (id) => this.dataDir(id), bundleDir: (id) => this.bundleDir(id) }, d.log);
    this.restarts = new RestartManager(d.log, (id) => this.restartByPolicy(id));
  }

  // ---- reading ------------------------------------------------------------------------------------------------

  /** By full ID, name (with or without "/"), or unique ID prefix. */
  resolve(idOrName: string): ContainerRecord {
    return this.store.resolve(idOrName);
  }

  /** The record of a container by its full ID, if it exists. */
  record(id: string): ContainerRecord | undefined {
    return this.store.get(id);
  }

  /**
   * `ps`: running (and paused) containers, or all; newest first; Docker's filters (see filters.ts); `limit` keeps
   * the newest N (and implies all, as in docker).
   */
  list(all: boolean, filters: Record<string, string[]> = {}, limit?: number): ContainerRecord[] {
    checkListFilters(filters);
    const ancestorIds = (filters['ancestor'] ?? []).map((a) => this.d.images.find(a)?.id ?? a);
    const matches = listFilter(filters, { createdOf: (name) => this.resolve(name).created, ancestorIds });
    // As dockerd: stopped containers are listed with -a, -n or a status filter (not with other filters); one
    // waiting to be restarted counts as running.
    const showAll = all || limit !== undefined || (filters['status']?.length ?? 0) > 0;
    const out = this.store
      .list()
      .filter((c) => (showAll || isUp(c.state.status) || c.state.status === 'restarting') && matches(c))
      .sort((a, b) => b.created.localeCompare(a.created));
    return limit !== undefined && limit > 0 ? out.slice(0, limit) : out;
  }

  /** `GET /containers/json`: the list as summaries, with sizes on request (see list). */
  summaries(all: boolean, filters: Record<string, string[]> = {}, limit?: number, withSize = false): Promise<ContainerSummary[]> {
    return Promise.all(this.list(all, filters, limit).map(async (c) => ({ ...containerSummary(c, this.imageShown(c), (v) => this.d.volumes.driver.path(v)), ...(withSize && (await this.sizes(c).catch(() => ({})))) })));
  }

  /** `GET /containers/{id}/json`; `execIds` are its exec sessions (the exec service's). */
  async inspect(idOrName: string, o: { size?: boolean; execIds: (id: string) => string[] }): Promise<ContainerInspect> {
    const c = this.resolve(idOrName);
    const execs = o.execIds(c.id);
    const logPath = this.io.logPath(c);
    return { ...containerInspect(c, this.rootfs.dirs(c), logPath, this.etcOf(c), (v) => this.d.volumes.driver.path(v)), ExecIDs: execs.length ? execs : null, ...(o.size && (await this.sizes(c))) };
  }

  /** `ps -s` / `inspect --size`: bytes written by the container, and that plus its image. */
  async sizes(c: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const rw = await this.rootfs.written(c);
    return { SizeRw: rw, SizeRootFs: rw + (this.d.images.find(c.image)?.size ?? 0) };
  }

  /** The name the container was made from, as long as it still means that image (else its ID), as dockerd lists it. */
  imageShown(c: ContainerRecord): string {
    return this.d.images.find(c.imageName)?.id === c.image ? c.imageName : c.image;
  }

  /** overlay2 directories of a container (commit reads its upper directory). */
  dirs(c: ContainerRecord): RootfsDirs {
    return this.rootfs.dirs(c);
  }

  /** The /etc files inspect shows, once the container has started (see etcFilesFor). */
  private etcOf(c: ContainerRecord): EtcFiles | undefined {
    if (c.state.startedAt === zeroTime) return undefined;
    const mode = c.hostConfig.NetworkMode;
    const owner = mode.startsWith('container:') ? this.store.get(mode.slice('container:'.length))?.id : c.id;
    return owner ? etcFiles(this.dataDir(owner)) : undefined;
  }

  /** Where a container's cgroup is and which hierarchy it is on (for stats). */
  cgroupOf(c: ContainerRecord): { path: string; version: '1' | '2' } {
    return { path: this.cgroupPath(c), version: this.d.cgroupVersion };
  }

  /** `top`: the container's processes as host `ps` shows them (docker's default columns, `ps -ef`). */
  async top(idOrName: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.resolve(idOrName);
    ensureState('top', this.store.statusOf(c), { id: c.id, asked: idOrName });
    const table = await processTable(psArgs, await cgroupPids(this.cgroupPath(c), this.d.cgroupVersion));
    this.publish(c, 'top');
    return table;
  }

  /** `diff`: what the container changed against its image. */
  changes(idOrName: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    return this.rootfs.changes(this.resolve(idOrName));
  }

  /**
   * Runs `fn` with the container's root filesystem at hand. A running container's is already mounted; a stopped
   * one's is mounted for the duration, under the container's lock (so it cannot start meanwhile), and unmounted
   * after, also when `fn` fails.
   */
  async withRootfs<T>(idOrName: string, fn: (root: string) => Promise<T>, o: { readonly?: boolean } = {}): Promise<T> {
    const c = this.resolve(idOrName);
    const merged = this.rootfs.merged(c.id);
    if (isUp(c.state.status)) return fn(merged);
    return this.store.locked(c.id, async (current) => {
      if (isUp(current.state.status)) return fn(merged);
      await this.rootfs.mount(current, o);
      try {
        return await fn(merged);
      } finally {
        await this.rootfs.unmount(current.id);
      }
    });
  }

  /**
   * Resolves once what the container's last exit releases (runtime state, rootfs mount, network) is released: the
   * release follows the exit's waiters under the container's lock, so taking the lock waits for it.
   */
  async settled(idOrName: string): Promise<void> {
    await this.store.locked(this.resolve(idOrName).id, async () => {});
  }

  /**
   * `export`: the container's whole filesystem as a tar. A stopped container's rootfs stays mounted while it
   * streams, and the stream ends only once it is unmounted again: a client that has the whole tar finds no mount.
   */
  export(idOrName: string): Promise<Readable> {
    this.publish(this.resolve(idOrName), 'export');
    const out = new PassThrough();
    return new Promise((resolve, reject) => {
      this.withRootfs(
        idOrName,
        (root) => {
          const tar = packLayer(root);
          tar.once('error', (e) => out.destroy(e));
          out.once('close', () => tar.destroy()); // the client went away
          tar.pipe(out, { end: false });
          resolve(out);
          return new Promise<void>((done) => tar.once('close', done));
        },
        { readonly: true },
      ).then(
        () => {
          if (!out.destroyed) out.end();
        },
        (e: unknown) => {
          out.destroy(e as Error);
          reject(e);
        },
      );
    });
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------

  async create(o: CreateOptions): Promise<{ container: ContainerRecord; warnings: string[] }> {
    const image = this.d.images.resolve(o.image);
    const config = await this.d.images.config(image);
    if (o.name !== undefined && !nameRe.test(o.name)) {
      throw new InvalidArgument(`Invalid container name (${o.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
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
    const networking = this.d.networks.endpointsForCreate(hostConfig.NetworkMode, o.endpointsConfig ?? undefined);
    hostConfig.NetworkMode = networking.networkMode;
    for (const link of hostConfig.Links ?? []) {
      const [name, alias] = parseLink(link);
      const linked = this.resolve(name);
      if (!isUp(linked.state.status)) throw new Conflict(`Cannot link to a non running container: /${linked.name} AS /${o.name ?? ''}/${alias}`);
    }
    // dockerd's default cgroup namespace mode: the host's on cgroup v1, a private one on v2.
    hostConfig.CgroupnsMode ||= this.d.cgroupVersion === '2' ? 'private' : 'host';
    const ic = config.config ?? {};
    const exposed = { ...((ic.ExposedPorts as Record<string, object> | undefined) ?? {}), ...(o.exposedPorts ?? {}) };
    // dockerd gives each image VOLUME an anonymous volume; until Berth has volumes, they are plain directories of
    // the container's own layer, and go with it: said once, at create.
    // The image's VOLUMEs and the request's (`-v /path`) become anonymous volumes unless something else is mounted there.
    const volumes = [...new Set([...Object.keys((ic.Volumes as Record<string, object> | null | undefined) ?? {}), ...Object.keys(o.volumes ?? {})])];
    const volumesFrom = (hostConfig.VolumesFrom ?? []).map((spec) => {
      const [name = '', mode, ...rest] = spec.split(':');
      if (rest.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) throw new InvalidArgument(`invalid mode for volumes-from: ${spec}`);
      return { mounts: this.resolve(name).mounts ?? [], ...(mode && { readonly: mode === 'ro' }) };
    });
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
    const stopSignal = o.stopSignal ?? ic.StopSignal;
    if (stopSignal) signalNumber(stopSignal);
    const mountPoints = await planMounts({ binds: hostConfig.Binds ?? [], mounts: hostConfig.Mounts ?? [], anonymous: volumes, volumesFrom }, this.d.volumes);
    // What follows may still fail (a name taken meanwhile, a full disk): the anonymous volumes made for it go then.
    let rec: ContainerRecord;
    try {
      const initLayer = await this.initLayers.forImage(image.chain.at(-1) ? this.d.layers.chainDiffDirs(image.chain.at(-1) as Digest) : []);
      const id = newId();
      const name = o.name?.replace(/^\//, '') ?? generateName((n: string) => this.store.nameTaken(n));
      rec = {
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
        networks: networking.networks,
        ...(mountPoints.length && { mounts: mountPoints }),
        ...(o.scratch && { scratch: true }),
        state: { status: 'created', pid: 0, exitCode: 0, startedAt: zeroTime, finishedAt: zeroTime, error: '' },
      };
      // The name is held from the check until the record exists, so two creates cannot both take it.
      await this.store.withName(name, undefined, () =>
        Rollback.run(async (rb) => {
          const dir = this.dataDir(id);
          await mkdir(dir, { recursive: true, mode: 0o710 });
          rb.add(() => removeAll(dir));
          await Promise.all(['upper', 'work', 'merged'].map((sub) => mkdir(join(dir, sub), { mode: 0o755 })));
          await this.store.save(rec);
        }),
      );
    } catch (e) {
      await this.removeAnonymousVolumes(mountPoints);
      throw e;
    }
    this.publish(rec, 'create');
    return { container: rec, warnings };
  }

  async start(idOrName: string): Promise<void> {
    await this.store.transition(idOrName, 'start', (c) => this.startLocked(c));
  }

  /** Mounts the rootfs, writes the bundle and has the monitor create the container; undoes all of it on failure. */
  private async startLocked(c: ContainerRecord): Promise<ContainerRecord> {
    const dir = this.dataDir(c.id);
    const bundle = this.bundleDir(c.id);
    const runtime = this.runtimeOf(c);
    let running: ContainerRecord;
    try {
      running = await Rollback.run(async (rb) => {
        // The bundle, the rootfs mount and the /etc files do not depend on each other: made at once (each is a few
        // slow metadata writes or a process), and all settled before a failure is acted on, so the undo steps
        // (registered first, harmless for what was not made) never race with them.
        // The network namespace, with its endpoints and ports, before the /etc files that name its address.
        const bridged = NetworkService.bridged(c.hostConfig.NetworkMode);
        rb.add(() => this.rootfs.unmount(c.id));
        rb.add(() => removeAll(bundle));
        rb.add(() => (bridged ? this.d.networks.detach(c.id) : undefined));
        rb.add(() => releaseMounts(c.id, c.mounts ?? [], this.d.volumes));
        const [, volumeMounts, { attached, etc }] = await allSettled([
          removeAll(bundle)
            .then(() => Promise.all(['exits', 'sock'].map((sub) => mkdir(join(bundle, sub), { recursive: true, mode: 0o700 }))))
            .then(() => this.d.monitor.prepare(bundle)),
          // Volumes after the root: an empty new volume is filled from the image's files at its path.
          this.rootfs.mount(c).then(() => setUpMounts(c.id, c.mounts ?? [], this.rootfs.merged(c.id), this.d.volumes)),
          (bridged ? this.d.networks.attach(networkedContainer(c)) : Promise.resolve(undefined)).then(async (attached) => ({ attached, etc: await this.etcFilesFor(c, attached?.attachment) })),
        ] as const);
        // The namespace exists; its endpoints are being made while the runtime creates the container in it.
        const network = attached?.attachment;
        const spec = await containerSpec(c, {
          ...(network && { netns: network.sandboxKey, resolver: this.usesResolver(network), linkEnv: this.linkEnv(c) }),
          volumeMounts,
          rootfs: this.rootfs.merged(c.id),
          etc,
          cgroupsPath: this.cgroupPath(c),
          ...(this.d.host.x32Abi !== undefined && { x32Abi: this.d.host.x32Abi }),
          defaultSeccomp: this.d.defaultSeccomp,
          ...(this.d.initPath && { initPath: this.d.initPath }),
          namespaceOf: (other, type) => this.namespacePath(other, type),
        });
        await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
        rb.add(() => runtime.delete(c.id, true).catch(() => {}));
        this.io.shipper.reset(dir); // the previous run's journal was shipped when it ended
        const handle = await this.d.monitor.create(c.id, runtime, {
          bundle,
          logPath: journalPath(dir),
          exitDir: join(bundle, 'exits'),
          socketDir: join(bundle, 'sock'),
          ...this.io.journalCap(c),
        }, { stdin: c.config.OpenStdin, terminal: c.config.Tty, leaveStdinOpen: !c.config.StdinOnce });
        this.io.ship(c);
        rb.add(() => this.io.shipper.stop(c.id));
        await failpoint('container.start');
        // The record is written while the runtime starts the process (both take milliseconds); a failed start
        // puts the previous record back.
        const next: ContainerRecord = {
          ...c,
          state: {
            ...c.state,
            status: 'running',
            pid: handle.pid,
            exitCode: 0,
            startedAt: nowNano(),
            finishedAt: zeroTime,
            error: '',
            oomKilled: false,
            stoppedByUser: false,
            ...(network && { network }),
            ...(probeCommand(c.config.Healthcheck) && { health: { Status: 'starting' as const, FailingStreak: 0, Log: c.state.health?.Log ?? [] } }),
          },
        };
        rb.add(() => this.store.save(c));
        await attached?.ready;
        await allSettled([runtime.start(c.id), this.store.save(next)] as const);
        return next;
      });
    } catch (e) {
      await this.startFailed(c, e);
      throw e;
    }
    this.publish(running, 'start');
    this.waiters.started(c.id);
    this.watch(running);
    return running;
  }

  /**
   * Like dockerd: a container that was to be removed on exit is removed when it cannot start; one that was
   * restarting is exited; otherwise the runtime's message and the exit code the shell would give are kept for
   * inspect. Failures here are logged: the start's own error is what the caller hears.
   */
  private async startFailed(c: ContainerRecord, e: unknown): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    const code = startFailureCode(message);
    const current = this.store.get(c.id) ?? c;
    const done = c.hostConfig.AutoRemove
      ? this.removeLocked(current)
      : c.state.status === 'restarting'
        ? this.recordExit(current, { code, error: message })
        : this.store.setState(current, { exitCode: code, error: message });
    await done.catch((error: unknown) => this.d.log.warn('recording a failed start failed', { container: c.id, error }));
  }

  /** Follows a running container: its exit is recorded under its lock when the monitor reports it. */
  private watch(c: ContainerRecord): void {
    const stillUp = () => isUp(this.store.get(c.id)?.state.status);
    // Removed meanwhile: the removal released everything.
    watchExit(this.d.monitor, this.d.log, c.id, this.bundleDir(c.id), stillUp, (exit) => this.store.locked(c.id, (current) => this.finishExit(current, exit)).catch(ignore(NotFound)));
  }

  /**
   * An exit: the last output is shipped (so `logs` right after `wait` has all of it), the exit recorded, and the
   * runtime state and rootfs mount released. When the container's processes are surely gone (its init exited, in
   * its own PID namespace) waiters are answered first and the release follows, still under the container's lock,
   * so a start, a removal or a mount for `cp` (all locked) finds it done. Otherwise (a lost monitor, a shared PID
   * namespace) the release, which kills what is left, comes first. Then the restart policy decides.
   */
  private async finishExit(c: ContainerRecord, exit: ExitNotice): Promise<void> {
    if (!isUp(c.state.status)) return;
    const id = c.id;
    const runtime = this.runtimeOf(c);
    const release = () =>
      Promise.all([
        runtime.delete(id, true).catch((error: unknown) => this.d.log.warn('runtime state not released', { container: id, error })),
        this.rootfs.unmount(id).catch((error: unknown) => this.d.log.warn('rootfs not unmounted', { container: id, error })),
        releaseMounts(id, c.mounts ?? [], this.d.volumes).catch((error: unknown) => this.d.log.warn('volumes not released', { container: id, error })),
        NetworkService.bridged(c.hostConfig.NetworkMode) ? this.d.networks.detach(id, c.state.network).catch((error: unknown) => this.d.log.warn('network not released', { container: id, error })) : undefined,
      ]);
    const processesGone = !exit.monitorLost && !c.hostConfig.PidMode;
    const [oom] = await Promise.all([oomKilled(this.cgroupPath(c), this.d.cgroupVersion), this.io.drain(c)]);
    if (!processesGone) await release();
    const finishedAt = exit.at ?? nowNano();
    if (c.hostConfig.AutoRemove) {
      // The record is about to go: the exit is announced without being written, and the removal runs alongside
      // the release (it waits for it before it reports the container removed).
      const releasing = processesGone ? release() : undefined;
      const exited = await this.recordExit(c, { code: exit.code, oom, finishedAt, persist: false });
      // The log goes with the container: let attached clients read the end of it first (bounded wait).
      await this.io.readersDone(id, 2000);
      await this.removeLocked(exited, releasing);
      return;
    }
    const ranMs = Date.now() - Date.parse(c.state.startedAt);
    // The policy decides before the exit is told, as dockerd does: whoever sees `die` and inspects the container
    // (Compose re-attaching, say) finds it restarting, not exited.
    const restart = wantsRestart({ ...c, state: { ...c.state, exitCode: exit.code } }) && !this.store.isRemoving(id);
    await this.recordExit(c, { code: exit.code, oom, finishedAt, restarting: restart });
    if (processesGone) await release();
    // A stop or removal meanwhile made it exited: the scheduled restart then finds nothing to do.
    if (restart) this.restarts.schedule(id, ranMs);
  }

  /** Records an exit (or a failed restart) and tells waiters, followers and the event stream. */
  private async recordExit(c: ContainerRecord, o: { code: number; error?: string; oom?: boolean; finishedAt?: string; persist?: boolean; restarting?: boolean }): Promise<ContainerRecord> {
    const { network: _released, ...state } = c.state;
    const next: ContainerRecord = { ...c, state: { ...state, status: o.restarting ? 'restarting' : 'exited', pid: 0, exitCode: o.code, error: o.error ?? '', oomKilled: !!o.oom, finishedAt: o.finishedAt ?? nowNano() } };
    // Not written when the record is about to go (auto-removal), but kept in memory: followers see the exit.
    if (o.persist !== false) await this.store.save(next);
    else this.store.keep(next);
    if (o.oom) this.publish(next, 'oom');
    this.publish(next, 'die', { exitCode: String(o.code) });
    this.waiters.exited(c.id, o.code);
    return next;
  }

  /** A restart policy's restart, when its delay is over: only if the container still waits for it. */
  private async restartByPolicy(id: string): Promise<void> {
    // Removed meanwhile: nothing to restart.
    await this.store
      .locked(id, async (c) => {
        if (c.state.status !== 'restarting' || this.store.isRemoving(id)) return;
        const started = await this.startLocked(await this.store.setState(c, { restartCount: (c.state.restartCount ?? 0) + 1 }));
        this.publish(started, 'restart');
      })
      .catch(ignore(NotFound));
  }

  /** The container's stop signal (`--stop-signal`, else the image's, else TERM), then KILL after the timeout. */
  async stop(idOrName: string, timeoutSec?: number, signal?: string): Promise<void> {
    const target = this.resolve(idOrName);
    this.stopRequests.set(target.id, (this.stopRequests.get(target.id) ?? 0) + 1);
    const stopSignal = signalNumber(signal || target.config.StopSignal || 'TERM');
    const timeout = timeoutSec ?? target.config.StopTimeout ?? 10;
    const stopping = await this.store.transition(idOrName, 'stop', async (c) => {
      const stopped = await this.stoppedByUser(c);
      if (!isUp(stopped.state.status)) {
        // it was restarting: cancelling that was the stop, told as one (attached clients wait for it)
        this.publish(stopped, 'stop');
        return undefined;
      }
      // Registered under the lock, before the signal: the exit cannot be recorded before we listen for it.
      const exited = this.waiters.nextExit(c.id);
      await this.signal(stopped, stopSignal).catch((error: unknown) => this.d.log.debug('stop signal not delivered', { container: c.id, error }));
      return { c: stopped, exited };
    });
    if (!stopping) return;
    // A negative timeout waits for ever, as in docker.
    const inTime = timeout < 0 ? await stopping.exited : await withTimeout(stopping.exited, timeout * 1000);
    if (inTime === 'timeout') {
      await this.store.locked(stopping.c.id, async (c) => (isUp(c.state.status) ? this.killNow(c) : undefined));
      await stopping.exited;
    }
    this.publish(stopping.c, 'stop');
  }

  /**
   * Sends a signal. A SIGKILL answers only once the container is down, as dockerd does (a client inspecting right
   * after sees it exited with 137), within a bound for processes stuck in the kernel.
   */
  async kill(idOrName: string, signal = 'KILL'): Promise<void> {
    const sig = signalNumber(signal);
    const exited = await this.store.transition(idOrName, 'kill', async (c) => {
      // Wrapped: a promise returned from the callback would be awaited under the lock the exit needs.
      const exit = sig === 9 ? { exited: this.waiters.nextExit(c.id) } : undefined;
      await this.signal(c, sig);
      await this.stoppedByUser(c); // only once the signal went: a refused kill stops nothing
      return exit;
    });
    if (exited) await withTimeout(exited.exited, killWaitMs);
  }

  /** `restart`: stop (if running) then start; the restart count and a user's earlier stop are reset. */
  async restart(idOrName: string, timeoutSec?: number, signal?: string): Promise<void> {
    const c = await this.store.transition(idOrName, 'restart', async (current) => current);
    // A stop asked by someone else while this one stops the container wins: the restart then does not start it
    // (its client may be gone, and the container would come back after a stop that answered it was down).
    let expectedStops = this.stopRequests.get(c.id) ?? 0;
    if (isUp(c.state.status) || c.state.status === 'restarting') {
      expectedStops++;
      await this.stop(c.id, timeoutSec, signal).catch(ignore(NotModified));
    }
    const started = await this.store.transition(c.id, 'start', async (current) =>
      (this.stopRequests.get(c.id) ?? 0) > expectedStops ? undefined : this.startLocked(await this.store.setState(current, { restartCount: 0 })),
    );
    if (started) this.publish(started, 'restart');
  }

  /** Freezes (pause) or thaws (unpause) all processes of a running container through the runtime's freezer. */
  async setPaused(idOrName: string, paused: boolean): Promise<void> {
    await this.store.transition(idOrName, paused ? 'pause' : 'unpause', (c) => this.freeze(c, paused));
  }

  /**
   * `commit --pause`: pauses the container if it runs, and says whether it did. A container that is exiting or has
   * just exited is committed as it is, not refused (dockerd pauses only what runs).
   */
  pauseIfRunning(idOrName: string): Promise<boolean> {
    return this.store.locked(idOrName, async (c) => {
      if (this.store.statusOf(c) !== 'running') return false;
      try {
        await this.freeze(c, true);
        return true;
      } catch (e) {
        ignore(Conflict)(e); // it exited meanwhile: committed as it is
        return false;
      }
    });
  }

  private async freeze(c: ContainerRecord, paused: boolean): Promise<void> {
    await this.orNotRunning(c, paused ? this.runtimeOf(c).pause(c.id) : this.runtimeOf(c).resume(c.id));
    const next = await this.store.setState(c, { status: paused ? 'paused' : 'running' });
    this.publish(next, paused ? 'pause' : 'unpause');
  }

  /**
   * `update`: new cgroup limits (applied live to a running container through the runtime) and restart policy.
   * Values not given keep their current setting.
   */
  update(idOrName: string, changes: Partial<Resources> & { RestartPolicy?: HostConfig['RestartPolicy'] }): Promise<string[]> {
    return this.store.transition(idOrName, 'update', async (c) => {
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
      const updated = await this.store.save({ ...c, hostConfig: { ...c.hostConfig, ...next, RestartPolicy: { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 } } });
      this.publish(updated, 'update');
      return warnings;
    });
  }

  rename(idOrName: string, newName: string): Promise<void> {
    return this.store.transition(idOrName, 'rename', async (c) => {
      const name = newName.replace(/^\//, '');
      if (name === c.name) throw new InvalidArgument('Renaming a container with the same name as its current name');
      if (!nameRe.test(name)) throw new InvalidArgument(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const renamed = await this.store.withName(name, c.id, () => this.store.save({ ...c, name }));
      this.publish(renamed, 'rename', { oldName: `/${c.name}` });
      await this.d.networks.renamed(networkedContainer(renamed));
    });
  }

  /** `network connect`: the network joins the container's configuration, and its namespace at once if it runs. */
  connect(idOrName: string, networkName: string, cfg: Partial<EndpointConfig> = {}): Promise<void> {
    return this.store.locked(idOrName, async (c) => {
      const n = this.d.networks.resolve(networkName);
      if (!NetworkService.bridged(c.hostConfig.NetworkMode) || n.driver !== 'bridge') {
        throw new Forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
      }
      if (c.networks?.[n.name]) throw new Forbidden(`endpoint with name ${c.name} already exists in network ${n.name}`);
      const networks = { ...c.networks, [n.name]: this.d.networks.endpointConfig(n, cfg) };
      const network = c.state.network && isUp(c.state.status) ? await this.d.networks.connectLive(networkedContainer(c, networks), n.name) : undefined;
      await this.store.save({ ...c, networks, state: { ...c.state, ...(network && { network }) } });
      this.d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /** `network disconnect`: live if the container runs. */
  disconnect(idOrName: string, networkName: string): Promise<void> {
    return this.store.locked(idOrName, async (c) => {
      const n = this.d.networks.resolve(networkName);
      if (!c.networks?.[n.name]) throw new Forbidden(`container ${c.id} is not connected to network ${n.name}`);
      if (n.driver !== 'bridge') throw new Forbidden(`container cannot be disconnected from network ${n.name}`);
      const { [n.name]: _gone, ...networks } = c.networks;
      const network = c.state.network && isUp(c.state.status) ? await this.d.networks.disconnectLive(networkedContainer(c), n.name) : undefined;
      await this.store.save({ ...c, networks, state: { ...c.state, ...(network && { network }) } });
      this.d.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /**
   * `rm`: refused for a running, paused or restarting container unless forced. A forced removal marks the
   * container as being removed (every other operation is refused meanwhile), cancels a pending restart, kills what
   * runs and waits for its exit to be recorded, then removes it.
   */
  async remove(idOrName: string, force = false, removeVolumes = false): Promise<void> {
    const id = await this.store.transition(idOrName, force ? 'forceRemove' : 'remove', async (c) => {
      this.store.beginRemoval(c.id);
      return c.id;
    });
    try {
      const kill = await this.store.locked(id, async (c) => {
        if (c.state.status !== 'restarting' && !isUp(c.state.status)) return undefined;
        const stopped = await this.stoppedByUser(c);
        if (!isUp(stopped.state.status)) return undefined;
        const exited = this.waiters.nextExit(id);
        await this.killNow(stopped);
        return { exited }; // wrapped, not awaited under the lock the exit needs
      });
      if (kill) await withTimeout(kill.exited, killWaitMs);
      await this.store.locked(id, (c) => this.removeLocked(c, undefined, removeVolumes));
    } finally {
      this.store.endRemoval(id);
    }
  }

  /** The host directory mounted at the deepest of the container's mount points that `path` (clean) is under. */
  mountSourceFor(c: ContainerRecord, path: string): { destination: string; source: string } | undefined {
    const under = (c.mounts ?? []).filter((m) => path === m.Destination || path.startsWith(`${m.Destination}/`)).sort((a, b) => b.Destination.length - a.Destination.length)[0];
    if (!under) return undefined;
    const base = under.Type === 'volume' ? this.d.volumes.driver.path(under.Name ?? '') : under.Source;
    return { destination: under.Destination, source: under.Subpath ? posix.join(base, under.Subpath) : base };
  }

  /** The anonymous volumes among `points` that no other container uses (`rm -v`, `--rm`, a create that failed). */
  private async removeAnonymousVolumes(points: MountPoint[] | undefined): Promise<void> {
    for (const name of volumeNames(points)) {
      const v = this.d.volumes.find(name);
      if (!v || !VolumeService.isAnonymous(v)) continue;
      await this.d.volumes.remove(name).catch((error: unknown) => this.d.log.debug('anonymous volume kept', { volume: name, error }));
    }
  }

  /** Removes the container; `releasing` is its runtime state and mount being released meanwhile (see finishExit). */
  private async removeLocked(c: ContainerRecord, releasing?: Promise<unknown>, removeVolumes = false): Promise<void> {
    const current = this.store.get(c.id);
    if (!current) return;
    this.restarts.forget(c.id);
    // An exited container's runtime state went at its exit (finishExit); only one still up has some.
    if (isUp(current.state.status)) await this.runtimeOf(c).delete(c.id, true).catch(() => {});
    await Promise.all([this.rootfs.unmount(c.id), this.io.close(c.id)]);
    // The record goes first: a crash before the directories are gone leaves directories (and at most a runtime
    // state) without a record, which the next start sweeps away (recovery.ts), never a record without its files.
    await this.store.delete(c.id);
    this.stopRequests.delete(c.id);
    await failpoint('container.remove');
    await Promise.all([removeAll(this.bundleDir(c.id)), removeAll(this.dataDir(c.id)), releasing]);
    // `rm -v` and `--rm` take the container's anonymous volumes with it, never named ones.
    if (removeVolumes || c.hostConfig.AutoRemove) await this.removeAnonymousVolumes(c.mounts);
    this.waiters.removed(c.id, c.state.exitCode);
    this.publish(c, 'destroy');
  }

  /** `container prune`: removes stopped containers (filters label, label!, until); returns the IDs and bytes freed. */
  async prune(filters: Record<string, string[]> = {}): Promise<{ removed: string[]; reclaimed: number }> {
    for (const k of Object.keys(filters)) if (!['label', 'label!', 'until'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    const untils = filters['until'] ?? [];
    if (untils.length > 1) throw new InvalidArgument('more than one until filter specified');
    const until = untils[0] === undefined ? undefined : parseTimeFilter(untils[0]);
    const removed: string[] = [];
    let reclaimed = 0;
    for (const c of this.store.list()) {
      if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') continue;
      if (until !== undefined && Date.parse(c.created) > until) continue;
      if (!labelsMatch(filters['label'], c.config.Labels)) continue;
      if (filters['label!']?.length && labelsMatch(filters['label!'], c.config.Labels)) continue;
      const size = (await this.sizes(c).catch(() => undefined))?.SizeRw ?? 0;
      // Started or removed by another request meanwhile: not this prune's to remove.
      const gone = await this.store.transition(c.id, 'remove', async (current) => (isUp(current.state.status) ? false : (await this.removeLocked(current), true))).catch(ignore(Conflict, NotFound));
      if (!gone) continue;
      removed.push(c.id);
      reclaimed += size;
    }
    this.d.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { removed, reclaimed };
  }

  /** Resolves with the exit code when the container is (or becomes) not running, exits next, or is removed. */
  async wait(idOrName: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running'): Promise<number> {
    const c = this.resolve(idOrName);
    // Removal (automatic after an exit, or a user's) may come later: it answers with the last exit's code.
    if (condition === 'removed') return this.waiters.removal(c.id);
    let code = c.state.exitCode;
    // The docker CLI sends its `next-exit` wait concurrently with `start`; a container that exits in a few
    // milliseconds can finish before that request arrives. Such a wait gets the exit nobody has seen yet.
    const missed = condition === 'next-exit' && c.state.status === 'exited' && this.waiters.takeUnseenExit(c.id);
    if (!missed && (condition === 'next-exit' || isUp(c.state.status))) code = await this.waiters.nextExit(c.id);
    return code;
  }

  // ---- I/O ----------------------------------------------------------------------------------------------------

  /** The json-file log, in batches; with `follow`, until the container stops. Since/until are RFC3339Nano. */
  logs(idOrName: string, o: { follow?: boolean; tail?: number; since?: string; until?: string; signal?: AbortSignal } = {}): AsyncGenerator<LogBatch> {
    return this.io.logs(this.resolve(idOrName), o);
  }

  /** What an attached client receives: output from now on, or from the start of the log with `logs`. */
  attachOutput(idOrName: string, o: { logs?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<LogBatch> {
    const c = this.resolve(idOrName);
    this.publish(c, 'attach');
    return this.io.attachOutput(c, o);
  }

  /** Where an attached client's input goes (see ContainerIO.stdin). */
  stdin(idOrName: string): StdinSink {
    return this.io.stdin(this.resolve(idOrName));
  }

  /** Resizes a TTY container's terminal. */
  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const c = this.resolve(idOrName);
    ensureState('resize', this.store.statusOf(c), { id: c.id, asked: idOrName });
    if (!c.config.Tty) return;
    await resizeTerminal(this.bundleDir(c.id), height, width);
    this.publish(c, 'resize', { height: String(height), width: String(width) });
  }

  /** What an exec session needs of its container: it must be running, and not paused. */
  execTarget(idOrName: string): { container: ContainerRecord; runtime: OciRuntime; bundle: string; rootfs: string } {
    const c = this.resolve(idOrName);
    ensureState('exec', this.store.statusOf(c), { id: c.id, asked: idOrName });
    return { container: c, runtime: this.runtimeOf(c), bundle: this.bundleDir(c.id), rootfs: this.rootfs.merged(c.id) };
  }

  /**
   * A health check's verdict (health.ts), announced when the status changes, as dockerd does. Like dockerd, only a
   * change of status is written to disk: a probe every second need not be a disk write every second.
   */
  async setHealth(id: string, health: Health): Promise<void> {
    if (!this.store.get(id)) return;
    await this.store.locked(id, async (c) => {
      if (c.state.status !== 'running') return; // the probe's run is over
      const next = { ...c, state: { ...c.state, health } };
      if (c.state.health?.Status === health.Status) return this.store.keep(next);
      this.publish(next, `health_status: ${health.Status}`);
      await this.store.save(next);
    });
  }

  /**
   * A container event with the attributes dockerd gives every one: the container's labels, its image and name
   * (labels can then be filtered on, as dashboards and compose do).
   */
  publish(c: ContainerRecord, action: string, attributes: Record<string, string> = {}): void {
    this.d.events.publish('container', action, c.id, { ...attributes, ...c.config.Labels, image: c.imageName, name: c.name });
  }

  // ---- start-up -----------------------------------------------------------------------------------------------

  /** Start-up, once every store is open (see recovery.ts). */
  recover(): Promise<void> {
    return recover({
      store: this.store,
      runtimes: this.d.runtimes,
      monitor: this.d.monitor,
      rootfs: this.rootfs,
      log: this.d.log,
      paths: this.d.paths,
      exited: (c, exit) => this.store.locked(c.id, (current) => this.finishExit(current, exit)),
      adopt: async (c) => {
        if (c.state.network) await this.d.networks.adopt(networkedContainer(c), c.state.network);
        for (const name of volumeNames(c.mounts)) this.d.volumes.adopt(name, c.id);
        this.io.ship(c); // catches up with what conmon wrote meanwhile
        this.watch(c);
      },
      start: (id) => this.start(id),
      resumeRestart: (c) => this.restarts.schedule(c.id, 0),
      markDead: async (c, why) => {
        this.d.log.warn('container marked dead', { container: c.id, reason: why });
        // Whatever still runs of it is killed: with its files gone it can neither be used nor re-adopted.
        await Promise.all([this.runtimeOf(c).delete(c.id, true).catch(() => {}), this.rootfs.unmount(c.id).catch(() => {})]);
        await this.store.setState(c, { status: 'dead', pid: 0, error: why });
      },
    });
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  /** A user's stop, kill or removal: no more restarts (a pending one is cancelled; a restarting container is down). */
  private stoppedByUser(c: ContainerRecord): Promise<ContainerRecord> {
    this.restarts.cancel(c.id);
    return this.store.setState(c, { stoppedByUser: true, ...(c.state.status === 'restarting' && { status: 'exited' as const }) });
  }

  /**
   * Signals the container's init directly, as `runc kill` would (it signals init alone): spawning the runtime was
   * most of a stop's time (≈ 35 ms of 65). The pid is checked against the container's cgroup, so a reused pid is
   * never hit; false when that cannot be done, and the runtime is asked instead.
   */
  private async signalInit(c: ContainerRecord, sig: number): Promise<boolean> {
    const pid = c.state.pid;
    if (!(pid > 0) || !(await pidInCgroup(pid, this.cgroupPath(c)))) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false; // gone meanwhile: the runtime answers as it does for an exited container
    }
  }

  /**
   * SIGKILL for every process of the container. With a private PID namespace, killing its init is enough (the
   * kernel kills the rest) and, sent directly, it saves spawning the runtime; the pid is checked against the
   * container's cgroup so a reused pid is never hit. Otherwise the runtime kills the whole cgroup.
   */
  private async killNow(c: ContainerRecord): Promise<void> {
    const sent = !c.hostConfig.PidMode && (await this.signalInit(c, 9));
    if (!sent) await this.runtimeOf(c).kill(c.id, 'KILL', true).catch(() => {});
    // Exec monitors live outside the container: one that does not reap its process would keep it from dying.
    await this.d.monitor.killExecMonitors(c.id, this.bundleDir(c.id));
    this.publish(c, 'kill', { signal: '9' });
    if (c.state.status === 'paused') await this.thaw(c).catch(() => {}); // a frozen process cannot die
  }

  /**
   * Sends a signal, as dockerd does to a paused container too: the container is thawed after a KILL or its stop
   * signal (which it is then expected to die of), so the signal is acted on; other signals wait for `unpause`.
   */
  private async signal(c: ContainerRecord, sig: number): Promise<void> {
    // By number: runc knows no names for the real-time signals.
    if (!(await this.signalInit(c, sig))) await this.orNotRunning(c, this.runtimeOf(c).kill(c.id, String(sig)));
    this.publish(c, 'kill', { signal: String(sig) });
    const stopSignal = c.config.StopSignal ? signalNumber(c.config.StopSignal) : undefined;
    if (c.state.status === 'paused' && (sig === 9 || stopSignal === undefined || sig === stopSignal)) await this.thaw(c);
  }

  /**
   * Thaws a paused container that was sent its death. The runtime may no longer see it paused (a SIGKILL ends a
   * frozen cgroup's tasks too): like dockerd, that is only worth a note, the exit comes all the same.
   */
  private async thaw(c: ContainerRecord): Promise<void> {
    try {
      await this.runtimeOf(c).resume(c.id);
    } catch (error) {
      this.d.log.debug('thawing a signalled container failed', { container: c.id, error });
      return;
    }
    await this.store.setState(c, { status: 'running' });
  }

  /**
   * A runtime call on a container the record still shows up: if it fails because the container has just exited
   * (its exit not recorded yet, as that waits for the lock held here), the answer is dockerd's "not running".
   */
  private async orNotRunning<T>(c: ContainerRecord, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (e) {
      throw await this.notRunningOr(c, e);
    }
  }

  /** `e`, or dockerd's "not running" when the container turns out to have exited or gone meanwhile (exec, kill, pause). */
  async notRunningOr(c: ContainerRecord, e: unknown): Promise<unknown> {
    const down = async () => {
      const current = this.store.get(c.id);
      const exited = await this.d.monitor.exitStatus(c.id, join(this.bundleDir(c.id), 'exits')).catch(() => undefined);
      return !current || !isUp(current.state.status) || !!exited || !(await this.d.monitor.alive(c.id, this.bundleDir(c.id)));
    };
    if (await down()) return new Conflict(`Container ${c.id} is not running`, { cause: e });
    // Being killed right now (a kill takes the exec monitors first, then the container): its exit comes promptly.
    await withTimeout(this.waiters.nextExit(c.id), 1000);
    return (await down()) ? new Conflict(`Container ${c.id} is not running`, { cause: e }) : e;
  }

  /** The /etc files of a starting container: its own, rewritten, or those of the container whose network it joins. */
  private async etcFilesFor(c: ContainerRecord, network: Attachment | undefined): Promise<EtcFiles> {
    const mode = c.hostConfig.NetworkMode;
    if (mode.startsWith('container:')) return etcFiles(this.dataDir(this.resolve(mode.slice('container:'.length)).id));
    const hc = c.hostConfig;
    const gateway = this.d.networks.resolve('bridge').ipam[0]?.Gateway;
    const links = (hc.Links ?? []).flatMap((l) => {
      const [name, alias] = parseLink(l);
      const linked = this.store.named(name) ?? this.store.get(name);
      return (linked && linkHostsLine(alias, linked)) || [];
    });
    const ip = network && Object.values(network.endpoints).find((e) => e.ifname === 'eth0')?.IPAddress;
    return writeEtcFiles(this.dataDir(c.id), {
      hostname: c.config.Hostname,
      ...(c.config.Domainname && { domainname: c.config.Domainname }),
      networkMode: mode,
      ...(ip && { ip }),
      ...(network && this.usesResolver(network) && { resolver: containerResolver }),
      links,
      extraHosts: (hc.ExtraHosts ?? []).map((e) => extraHost(e, gateway)),
      dns: { nameservers: hc.Dns ?? [], search: hc.DnsSearch ?? [], options: hc.DnsOptions ?? [] },
    });
  }

  /** The legacy links' variables of a container on the default bridge. */
  private linkEnv(c: ContainerRecord): string[] {
    if (c.hostConfig.NetworkMode !== 'bridge') return [];
    return (c.hostConfig.Links ?? []).flatMap((l) => {
      const [name, alias] = parseLink(l);
      const linked = this.store.named(name) ?? this.store.get(name);
      return linked ? linkEnv(alias, linked, c.name) : [];
    });
  }

  /** Containers on a user-defined network resolve names through Docker's 127.0.0.11. */
  private usesResolver(network: Attachment): boolean {
    return Object.values(network.endpoints).some((e) => !this.d.networks.isDefault(e.NetworkID));
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

  private runtimeOf(c: ContainerRecord): OciRuntime {
    const r = this.d.runtimes.get(c.hostConfig.Runtime);
    if (!r) throw new InvalidArgument(`unknown or invalid runtime name: ${c.hostConfig.Runtime}`);
    return r;
  }

  private dataDir(id: string): string {
    return join(this.d.paths.dataRoot, id);
  }

  private bundleDir(id: string): string {
    return join(this.d.paths.execRoot, id);
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

/** Resolves with the promise's value, or 'timeout' after `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A catch handler that swallows these domain errors (an expected race) and rethrows anything else. */
function ignore(...kinds: Array<new (message: string) => Error>): (e: unknown) => undefined {
  return (e) => {
    if (isBerthError(e) && kinds.some((k) => e instanceof k)) return undefined;
    throw e;
  };
}

/** dockerd's exit code for a start that failed: 126 cannot execute, 127 not found, else 128. */
function startFailureCode(message: string): number {
  if (/permission denied|is a directory/i.test(message)) return 126;
  if (/not a directory|executable file not found|no such file or directory/i.test(message)) return 127;
  return 128;
}

/** Config.Healthcheck as stored: none for a container whose merged test is empty. */
function withHealthcheck(h: Healthcheck | undefined): { Healthcheck?: Healthcheck } {
  return h && (h.Test?.length || h.Interval || h.Timeout || h.Retries) ? { Healthcheck: h } : {};
}
