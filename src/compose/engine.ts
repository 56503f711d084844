// Compose's engine: converges the engine's objects (networks, volumes, images, containers) to a project's model,
// through the Engine API only, and reports each step as Compose v2 does (`Container x  Started`).
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, type EngineClient } from '../client/index.js';
import { parseGoDuration } from '../util/duration.js';
import { inDependencyOrder, withDependencies } from './graph.js';
import { Label, builtImageName, composeVersion, containerName, oneoffName, projectFilter, serviceHash } from './labels.js';
import { type RunOverrides, containerCreateBody, injections } from './spec.js';
import { type ContainerQuery, type ProjectContainer, asProjectContainer, projectContainers } from './state.js';
import type { Project, ServiceConfig } from './types.js';

interface InspectState {
  RestartCount: number;
  State: { Status: string; Restarting: boolean; ExitCode: number };
}

/** What an attached `up` follows of its containers (see watchContainers). */
export interface ContainerWatch {
  /**
   * Resolves when the container's restart policy has it running again for its `runs`-th restart, or with
   * undefined if it ended for good (stopped, removed, no restart due).
   */
  restarted(id: string, runs: number): Promise<InspectState | undefined>;
  close(): Promise<void>;
}

/** A user-facing failure: its message is what the CLI prints. */
export class ComposeError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'ComposeError';
  }
}

export type ResourceKind = 'Network' | 'Volume' | 'Container' | 'Image' | 'Service';

/** What the engine tells the user: one object's new status (`Creating`, `Created`, …). */
export type Progress = (kind: ResourceKind, name: string, status: string, error?: boolean) => void;

/** What the engine cannot do through the API alone: builds need the context read from disk, pulls the user's credentials. */
export interface EngineHooks {
  progress: Progress;
  warn: (message: string) => void;
  build: (service: ServiceConfig, tag: string, o: BuildOptions) => Promise<void>;
  pull: (service: ServiceConfig, image: string, o: { quiet?: boolean }) => Promise<void>;
}

export interface BuildOptions {
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
}

export type RecreatePolicy = 'diverged' | 'force' | 'never';

export interface CreateOptions {
  services?: string[];
  noDeps?: boolean;
  /** `--build` builds every service that has `build`; `never` (`--no-build`) builds none. */
  build?: boolean | 'never';
  /** `--pull`: always, missing (default), never. */
  pull?: 'always' | 'missing' | 'never';
  quietPull?: boolean;
  recreate?: RecreatePolicy;
  /** Dependencies are recreated only when they diverged, unless `--always-recreate-deps`. */
  recreateDeps?: RecreatePolicy;
  removeOrphans?: boolean;
  scale?: Record<string, number>;
  /** Start with a fresh anonymous volume instead of the old container's (`-V`). */
  renewAnonVolumes?: boolean;
}

export interface StartOptions {
  services?: string[];
  /** Called before a container starts (or for one already running), so its output is attached from the start. */
  attach?: (c: ProjectContainer) => Promise<void>;
}

export interface DownOptions {
  removeOrphans?: boolean;
  volumes?: boolean;
  rmi?: 'all' | 'local';
  timeout?: number;
}

export interface ContainerOperation {
  services?: string[];
  timeout?: number;
  signal?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const is404 = (e: unknown) => e instanceof ApiError && e.status === 404;
/** A 404 (the object is not there) as undefined: for lookups, and for removals of what is already gone. */
const ignore404 = (e: unknown): undefined => {
  if (!is404(e)) throw e;
  return undefined;
};

export class ComposeEngine {
  constructor(
    readonly client: EngineClient,
    readonly project: Project,
    private readonly hooks: EngineHooks,
  ) {}

  /** Services `create` recreated containers of: their dependents with `depends_on.restart` are restarted by `start`. */
  private readonly recreated = new Set<string>();

  private get name(): string {
    return this.project.name;
  }

  /** Services by name, enabling a disabled (profiled) one the command names; an unknown name is an error. */
  services(names: string[] = [], noDeps = false): ServiceConfig[] {
    if (!names.length) return Object.values(this.project.services).sort((a, b) => (a.name < b.name ? -1 : 1));
    const all = { ...this.project.disabledServices, ...this.project.services };
    for (const n of names) if (!all[n]) throw new ComposeError(`no such service: ${n}`);
    return withDependencies(all, names, noDeps);
  }

  containers(q: ContainerQuery = {}): Promise<ProjectContainer[]> {
    return projectContainers(this.client, this.name, q);
  }

  // ---- create: networks, volumes, images, containers --------------------------------------------------------

  async create(o: CreateOptions = {}): Promise<ServiceConfig[]> {
    const services = this.services(o.services, o.noDeps);
    await checkBuildContexts(services);
    await this.checkOrphans(o.removeOrphans);
    await this.ensureNetworks(services);
    await this.ensureVolumes(services);
    const images = await this.ensureImages(services, o);
    const named = new Set(o.services ?? []);
    await inDependencyOrder(services, (s) => {
      const policy = !named.size || named.has(s.name) ? (o.recreate ?? 'diverged') : (o.recreateDeps ?? 'diverged');
      return this.convergeService(s, images.get(s.name)!, policy, o);
    });
    return services;
  }

  private async checkOrphans(remove?: boolean): Promise<void> {
    const known = new Set([...Object.keys(this.project.services), ...Object.keys(this.project.disabledServices)]);
    const orphans = (await this.containers({ all: true })).filter((c) => !known.has(c.service));
    if (!orphans.length) return;
    if (!remove) {
      this.hooks.warn(
        `Found orphan containers ([${orphans.map((c) => c.name).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      );
      return;
    }
    await Promise.all(orphans.map((c) => this.removeContainer(c, { stop: true })));
  }

  private usedNetworks(services: ServiceConfig[]): string[] {
    return [...new Set(services.flatMap((s) => Object.keys(s.networks ?? {})))].sort();
  }

  private async ensureNetworks(services: ServiceConfig[]): Promise<void> {
    await Promise.all(
      this.usedNetworks(services).map(async (key) => {
        const n = this.project.networks[key];
        if (!n) throw new ComposeError(`service uses undefined network ${key}`);
        const existing = await this.client.json<{ Labels?: Record<string, string> }>('GET', `/networks/${encodeURIComponent(n.name)}`).catch(ignore404);
        if (n.external) {
          if (!existing) throw new ComposeError(`network ${n.name} declared as external, but could not be found`);
          return;
        }
        if (existing) {
          if (existing.Labels?.[Label.project] !== this.name) {
            this.hooks.warn(`a network with name ${n.name} exists but was not created for project "${this.name}".\nSet \`external: true\` to use an existing network`);
          }
          return;
        }
        this.hooks.progress('Network', n.name, 'Creating');
        await this.client.do('POST', '/networks/create', {
          body: {
            Name: n.name,
            Driver: n.driver ?? 'bridge',
            Options: n.driver_opts ?? {},
            Internal: n.internal ?? false,
            Attachable: n.attachable ?? false,
            EnableIPv6: n.enable_ipv6 ?? false,
            CheckDuplicate: true,
            IPAM: {
              Driver: n.ipam?.driver ?? 'default',
              Options: n.ipam?.options ?? {},
              Config: (n.ipam?.config ?? []).map((p) => ({
                ...(p.subnet && { Subnet: p.subnet }),
                ...(p.ip_range && { IPRange: p.ip_range }),
                ...(p.gateway && { Gateway: p.gateway }),
                ...(p.aux_addresses && { AuxiliaryAddresses: p.aux_addresses }),
              })),
            },
            Labels: { ...n.labels, [Label.project]: this.name, [Label.network]: key, [Label.version]: composeVersion },
          },
        });
        this.hooks.progress('Network', n.name, 'Created');
      }),
    );
  }

  private async ensureVolumes(services: ServiceConfig[]): Promise<void> {
    const keys = new Set(services.flatMap((s) => (s.volumes ?? []).filter((v) => v.type === 'volume' && v.source).map((v) => v.source!)));
    await Promise.all(
      [...keys].sort().map(async (key) => {
        const v = this.project.volumes[key];
        if (!v) throw new ComposeError(`service refers to undefined volume ${key}: invalid compose project`);
        const existing = await this.client.json<{ Labels?: Record<string, string> }>('GET', `/volumes/${encodeURIComponent(v.name)}`).catch(ignore404);
        if (v.external) {
          if (!existing) throw new ComposeError(`external volume "${v.name}" not found`);
          return;
        }
        if (existing) {
          if (existing.Labels?.[Label.project] !== this.name) {
            this.hooks.warn(`volume "${v.name}" already exists but was not created by Docker Compose. Use \`external: true\` to use an existing volume`);
          }
          return;
        }
        this.hooks.progress('Volume', v.name, 'Creating');
        await this.client.do('POST', '/volumes/create', {
          body: { Name: v.name, Driver: v.driver ?? 'local', DriverOpts: v.driver_opts ?? {}, Labels: { ...v.labels, [Label.project]: this.name, [Label.volume]: key, [Label.version]: composeVersion } },
        });
        this.hooks.progress('Volume', v.name, 'Created');
      }),
    );
  }

  /** The image ID of a reference, or undefined when the engine does not have it. */
  async imageId(ref: string): Promise<string | undefined> {
    return this.client.json<{ Id: string }>('GET', `/images/${encodeURIComponent(ref)}/json`).then((i) => i.Id, ignore404);
  }

  /** Builds and pulls what the services need; returns each service's image ID. Pulls run together, builds one at a time. */
  async ensureImages(services: ServiceConfig[], o: Pick<CreateOptions, 'build' | 'pull' | 'quietPull'> = {}): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const toBuild: ServiceConfig[] = [];
    // services sharing an image pull it once
    const pulls = new Map<string, Promise<void>>();
    await Promise.all(
      services.map(async (s) => {
        const ref = builtImageName(this.name, s);
        const policy = o.pull ?? (s.pull_policy === 'if_not_present' ? 'missing' : s.pull_policy);
        if (s.build && o.build !== 'never' && (o.build === true || policy === 'build' || !(await this.imageId(ref)))) {
          toBuild.push(s);
          return;
        }
        let id = policy === 'always' ? undefined : await this.imageId(ref);
        if (!id) {
          if (policy === 'never') throw new ComposeError(`No such image: ${ref}`);
          if (!s.image) throw new ComposeError(`service "${s.name}" has neither an image nor a build context specified: invalid compose project`);
          if (!pulls.has(ref)) pulls.set(ref, this.hooks.pull(s, ref, { quiet: o.quietPull }));
          await pulls.get(ref);
          id = await this.imageId(ref);
          if (!id) throw new ComposeError(`No such image: ${ref}`);
        }
        ids.set(s.name, id);
      }),
    );
    for (const s of toBuild) {
      const tag = builtImageName(this.name, s);
      await this.hooks.build(s, tag, {});
      const id = await this.imageId(tag);
      if (!id) throw new ComposeError(`No such image: ${tag}`);
      ids.set(s.name, id);
    }
    return ids;
  }

  private async convergeService(s: ServiceConfig, imageId: string, policy: RecreatePolicy, o: CreateOptions): Promise<void> {
    const scale = o.scale?.[s.name] ?? s.scale ?? 1;
    if (s.container_name && scale > 1) throw new ComposeError(`service ${s.name} declares a container name, so it cannot be scaled to ${scale}`);
    const existing = await this.containers({ all: true, services: [s.name] });
    const hash = serviceHash(s);
    // running, then up-to-date containers are the ones kept when scaling down; the highest numbers go first
    const ranked = [...existing].sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || a.number - b.number);
    const work: Array<Promise<void>> = [];
    for (const [i, c] of ranked.entries()) {
      if (i >= scale) work.push(this.removeContainer(c, { stop: true }));
      else if (this.diverged(c, hash, imageId, policy)) {
        this.recreated.add(s.name);
        work.push(this.recreate(s, c, imageId, hash, o.renewAnonVolumes));
      }
      else if (c.state === 'running') this.hooks.progress('Container', c.name, 'Running');
    }
    let next = Math.max(0, ...existing.map((c) => c.number)) + 1;
    for (let n = existing.length; n < scale; n++) work.push(this.createContainer(s, next++, imageId, hash).then(() => {}));
    const results = await Promise.allSettled(work);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private diverged(c: ProjectContainer, hash: string, imageId: string, policy: RecreatePolicy): boolean {
    if (policy === 'force') return true;
    if (policy === 'never') return false;
    const labels = c.summary.Labels ?? {};
    return labels[Label.configHash] !== hash || (labels[Label.image] !== undefined && labels[Label.image] !== imageId);
  }

  /** The name of one of a service's containers, for `network_mode: service:x` and `volumes_from`. */
  private containerOf = (service: string): string => {
    const s = this.project.services[service] ?? this.project.disabledServices[service];
    return s ? containerName(this.name, s, 1) : service;
  };

  async createContainer(s: ServiceConfig, number: number, imageId: string, hash: string, extra: { inherited?: Record<string, string>; name?: string } = {}): Promise<string> {
    const name = extra.name ?? containerName(this.name, s, number);
    this.hooks.progress('Container', name, 'Creating');
    const body = containerCreateBody(this.project, s, { name, number, imageId, containerOf: this.containerOf, inherited: extra.inherited }, builtImageName(this.name, s));
    (body.Labels as Record<string, string>)[Label.configHash] = hash;
    const { Id } = await this.client.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    await this.inject(Id, s);
    this.hooks.progress('Container', name, 'Created');
    return Id;
  }

  /** Writes content and environment secrets/configs into a created container. */
  private async inject(id: string, s: ServiceConfig): Promise<void> {
    const files = injections(this.project, s, { ...process.env });
    if (!files.length) return;
    // CommonJS: a bundle chunk hands its exports over as the default export.
    const tarStream = await import('tar-stream');
    const tar = ((tarStream as unknown as { default?: typeof tarStream }).default ?? tarStream).pack();
    for (const f of files) {
      const dirs = f.target.split('/').slice(1, -1);
      for (let i = 1; i <= dirs.length; i++) tar.entry({ name: dirs.slice(0, i).join('/'), type: 'directory', mode: 0o755 });
      tar.entry({ name: f.target.slice(1), mode: f.mode, uid: f.uid, gid: f.gid }, f.content);
    }
    tar.finalize();
    await this.client.do('PUT', `/containers/${id}/archive`, { query: { path: '/' }, body: tar, headers: { 'Content-Type': 'application/x-tar' } });
  }

  /** Compose's recreate: stop the old container, set it aside under a temporary name, create the new one, remove the old. */
  private async recreate(s: ServiceConfig, old: ProjectContainer, imageId: string, hash: string, renewAnon?: boolean): Promise<void> {
    this.hooks.progress('Container', old.name, 'Recreate');
    const inherited: Record<string, string> = {};
    if (!renewAnon) {
      const info = await this.client.json<{ Mounts?: Array<{ Type: string; Name?: string; Destination: string }> }>('GET', `/containers/${old.id}/json`);
      for (const m of info.Mounts ?? []) if (m.Type === 'volume' && m.Name && /^[0-9a-f]{64}$/.test(m.Name)) inherited[m.Destination] = m.Name;
    }
    await this.client.do('POST', `/containers/${old.id}/stop`, { query: this.stopQuery(s) });
    await this.client.do('POST', `/containers/${old.id}/rename`, { query: { name: `${old.id.slice(0, 12)}_${old.name}` } });
    await this.createContainer(s, old.number, imageId, hash, { inherited, name: old.name });
    await this.client.do('DELETE', `/containers/${old.id}`, { query: { force: true } });
    this.hooks.progress('Container', old.name, 'Recreated');
  }

  private stopQuery(s: ServiceConfig | undefined, timeout?: number): { t?: string } {
    if (timeout !== undefined) return { t: String(timeout) };
    if (s?.stop_grace_period) return { t: String(Math.round(parseGoDuration(s.stop_grace_period) / 1e9)) };
    return {};
  }

  // ---- start: dependency conditions, then the containers -----------------------------------------------------

  async start(o: StartOptions = {}): Promise<void> {
    const services = this.services(o.services);
    const present = new Set((await this.containers({ all: true })).map((c) => c.service));
    await inDependencyOrder(
      services.filter((s) => present.has(s.name)),
      async (s) => {
        await this.waitForDependencies(s);
        const list = await this.containers({ all: true, services: [s.name] });
        const restart = Object.entries(s.depends_on ?? {}).some(([dep, d]) => d.restart && this.recreated.has(dep));
        await Promise.all(
          list.map(async (c) => {
            await o.attach?.(c);
            if (c.state === 'running' && restart) {
              this.hooks.progress('Container', c.name, 'Restarting');
              await this.client.do('POST', `/containers/${c.id}/restart`, { query: this.stopQuery(s) });
              return this.hooks.progress('Container', c.name, 'Started');
            }
            if (c.state === 'running') return;
            this.hooks.progress('Container', c.name, 'Starting');
            await this.client.do('POST', `/containers/${c.id}/start`);
            this.hooks.progress('Container', c.name, 'Started');
          }),
        );
      },
    );
  }

  /** Holds a service back until its dependencies meet their `depends_on` conditions. */
  private async waitForDependencies(s: ServiceConfig): Promise<void> {
    await Promise.all(
      Object.entries(s.depends_on ?? {}).map(async ([dep, cfg]) => {
        const condition = cfg.condition;
        if (condition === 'service_started') return;
        const list = await this.containers({ all: true, services: [dep] });
        if (!list.length && !cfg.required) return;
        await Promise.all(list.map((c) => this.waitFor(c, condition, dep)));
      }),
    );
  }

  private async waitFor(c: ProjectContainer, condition: 'service_healthy' | 'service_completed_successfully', service: string): Promise<void> {
    this.hooks.progress('Container', c.name, 'Waiting');
    for (;;) {
      const info = await this.client.json<{ State: { Status: string; ExitCode: number; Health?: { Status: string } }; Config: { Healthcheck?: { Test?: string[] } } }>(
        'GET',
        `/containers/${c.id}/json`,
      );
      const st = info.State;
      if (condition === 'service_completed_successfully') {
        if (st.Status === 'exited' || st.Status === 'dead') {
          if (st.ExitCode !== 0) throw new ComposeError(`service "${service}" didn't complete successfully: exit ${st.ExitCode}`);
          this.hooks.progress('Container', c.name, 'Exited');
          return;
        }
      } else {
        const test = info.Config.Healthcheck?.Test;
        if (!test?.length || test[0] === 'NONE') throw new ComposeError(`container ${c.name} has no healthcheck configured`);
        if (st.Health?.Status === 'healthy') {
          this.hooks.progress('Container', c.name, 'Healthy');
          return;
        }
        if (st.Health?.Status === 'unhealthy') {
          this.hooks.progress('Container', c.name, 'Error', true);
          throw new ComposeError(`dependency failed to start: container ${c.name} is unhealthy`);
        }
        if (st.Status === 'exited' || st.Status === 'dead') {
          this.hooks.progress('Container', c.name, 'Error', true);
          throw new ComposeError(`dependency failed to start: container ${c.name} exited (${st.ExitCode})`);
        }
      }
      await sleep(100);
    }
  }

  /** `up --wait`: every selected service's containers running, and healthy where they have a healthcheck. */
  async waitRunning(services: ServiceConfig[], timeoutSeconds?: number): Promise<void> {
    const deadline = timeoutSeconds ? Date.now() + timeoutSeconds * 1000 : Infinity;
    const list = await this.containers({ all: true, services: services.map((s) => s.name) });
    await Promise.all(
      list.map(async (c) => {
        this.hooks.progress('Container', c.name, 'Waiting');
        for (;;) {
          if (Date.now() > deadline) throw new ComposeError(`timeout waiting for ${c.name}`);
          const info = await this.client.json<{ State: { Status: string; ExitCode: number; Health?: { Status: string } } }>('GET', `/containers/${c.id}/json`);
          const st = info.State;
          if (st.Status === 'exited' || st.Status === 'dead') {
            // a one-shot service another one waits for may end; any other exit fails the wait
            const awaited = Object.values(this.project.services).some((s) => s.depends_on?.[c.service]?.condition === 'service_completed_successfully');
            if (awaited && st.ExitCode === 0) return this.hooks.progress('Container', c.name, 'Exited');
            this.hooks.progress('Container', c.name, 'Error', true);
            throw new ComposeError(`container ${c.name} exited (${st.ExitCode})`);
          }
          if (st.Health?.Status === 'unhealthy') {
            this.hooks.progress('Container', c.name, 'Error', true);
            throw new ComposeError(`container ${c.name} is unhealthy`);
          }
          if (st.Status === 'running' && (!st.Health || st.Health.Status === 'healthy')) return this.hooks.progress('Container', c.name, 'Healthy');
          await sleep(100);
        }
      }),
    );
  }

  /** Attaches to a container's output (before it starts, so nothing is missed): the raw multiplexed stream. */
  attach(c: ProjectContainer): Promise<Socket> {
    return this.client.hijack('POST', `/containers/${c.id}/attach`, { query: { stream: true, stdout: true, stderr: true } });
  }

  /**
   * The time of the container's last log line (RFC 3339 with nanoseconds), or undefined for an empty log. Taken
   * while a container waits to be restarted, it marks where the next run's output begins: the exit time does not,
   * as the monitor stamps the last lines after the process has gone.
   */
  async lastOutputTime(c: ProjectContainer): Promise<string | undefined> {
    const res = await this.client.call('GET', `/containers/${c.id}/logs`, { query: { stdout: true, stderr: true, tail: 1, timestamps: true } });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
  }

  /** A container's output after the line stamped `after` (all of it without), followed until it exits. */
  follow(c: ProjectContainer, after: string | undefined): Promise<IncomingMessage> {
    return this.client.call('GET', `/containers/${c.id}/logs`, { query: { stdout: true, stderr: true, follow: true, ...(after && { since: unixSecondsAfter(after) }) } });
  }

  /**
   * Follows the project's container events, so an attached `up` learns when a container its restart policy
   * restarts is running again. Closed by the caller.
   */
  async watchContainers(): Promise<ContainerWatch> {
    const listeners = new Map<string, Array<() => void>>();
    const res = await this.client.call('GET', '/events', { query: { filters: JSON.stringify({ type: ['container'], label: [`${Label.project}=${this.project.name}`] }) } });
    const wake = (id: string) => {
      for (const f of listeners.get(id) ?? []) f();
      listeners.delete(id);
    };
    // Once the stream ends (closed, or the daemon gone) nobody waits any more: what is restarting then is let go.
    let closed = false;
    const done = this.client
      .messages(res, (m) => wake(String((m['Actor'] as { ID?: string } | undefined)?.ID ?? m['id'] ?? '')))
      .catch(() => {})
      .finally(() => {
        closed = true;
        [...listeners.keys()].forEach(wake);
      });
    return {
      restarted: async (id, runs) => {
        for (;;) {
          // listening before looking: an event between the two still wakes us
          const next = closed ? undefined : new Promise<void>((resolve) => listeners.set(id, [...(listeners.get(id) ?? []), resolve]));
          const c = await this.client.json<InspectState>('GET', `/containers/${id}/json`).catch(() => undefined);
          if (c && !c.State.Restarting) return c.State.Status === 'running' && c.RestartCount >= runs ? c : undefined;
          if (!c || !next) return undefined;
          await next;
        }
      },
      close: async () => {
        res.destroy();
        await done;
      },
    };
  }

  // ---- run: one-off containers --------------------------------------------------------------------------------

  /** Creates a one-off container of a service (`compose run`); its dependencies are started first unless `noDeps`. */
  async createOneoff(service: string, o: RunOverrides & { name?: string; noDeps?: boolean; build?: boolean; pull?: CreateOptions['pull']; removeOrphans?: boolean }): Promise<ProjectContainer> {
    const [s] = this.services([service], true);
    if (!s) throw new ComposeError(`no such service: ${service}`);
    await checkBuildContexts([s]);
    const deps = Object.keys(s.depends_on ?? {});
    if (!o.noDeps && deps.length) {
      await this.create({ services: deps, recreate: 'diverged', build: o.build, pull: o.pull, removeOrphans: o.removeOrphans });
      await this.start({ services: deps });
    } else {
      await this.checkOrphans(o.removeOrphans);
    }
    await this.ensureNetworks([s]);
    await this.ensureVolumes([s]);
    const imageId = (await this.ensureImages([s], { build: o.build, pull: o.pull })).get(s.name)!;
    const name = o.name ?? oneoffName(this.name, s.name, randomBytes(6).toString('hex'));
    const body = containerCreateBody(this.project, s, { name, number: 1, oneoff: true, imageId, containerOf: this.containerOf }, builtImageName(this.name, s), { ...o, noRestart: true });
    const { Id } = await this.client.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    await this.inject(Id, s);
    const info = await this.client.json<Parameters<typeof asProjectContainer>[0] & { Name: string; Config: { Labels: Record<string, string> }; State: { Status: string } }>('GET', `/containers/${Id}/json`);
    return asProjectContainer({ ...info, Id, Names: [info.Name], Labels: info.Config.Labels, State: info.State.Status, Image: '', Command: '', Created: 0, Status: '' });
  }

  // ---- stop, remove, down ------------------------------------------------------------------------------------

  private async stopContainer(c: ProjectContainer, timeout?: number): Promise<void> {
    const s = this.project.services[c.service] ?? this.project.disabledServices[c.service];
    this.hooks.progress('Container', c.name, 'Stopping');
    await this.client.do('POST', `/containers/${c.id}/stop`, { query: this.stopQuery(s, timeout) });
    this.hooks.progress('Container', c.name, 'Stopped');
  }

  private async removeContainer(c: ProjectContainer, o: { stop?: boolean; volumes?: boolean; timeout?: number }): Promise<void> {
    if (o.stop && c.state === 'running') await this.stopContainer(c, o.timeout);
    this.hooks.progress('Container', c.name, 'Removing');
    await this.client.do('DELETE', `/containers/${c.id}`, { query: { force: true, v: o.volumes } }).catch(ignore404);
    this.hooks.progress('Container', c.name, 'Removed');
  }

  /** Runs `fn` on the containers of the services, dependents first (stopping) or dependencies first (starting). */
  private async eachContainer(q: ContainerQuery & { reverse?: boolean }, fn: (c: ProjectContainer, s: ServiceConfig | undefined) => Promise<void>): Promise<void> {
    const list = await this.containers(q);
    const all = { ...this.project.disabledServices, ...this.project.services };
    const known = Object.values(all).filter((s) => list.some((c) => c.service === s.name));
    await inDependencyOrder(known, (s) => Promise.all(list.filter((c) => c.service === s.name).map((c) => fn(c, s))).then(() => {}), q.reverse);
    // containers of services no longer in the model (orphans)
    await Promise.all(list.filter((c) => !all[c.service]).map((c) => fn(c, undefined)));
  }

  async stop(o: ContainerOperation = {}): Promise<void> {
    await this.eachContainer({ services: o.services, reverse: true }, (c) => this.stopContainer(c, o.timeout));
  }

  async restart(o: ContainerOperation = {}): Promise<void> {
    await this.eachContainer({ all: true, services: o.services }, async (c, s) => {
      this.hooks.progress('Container', c.name, 'Restarting');
      await this.client.do('POST', `/containers/${c.id}/restart`, { query: this.stopQuery(s, o.timeout) });
      this.hooks.progress('Container', c.name, 'Started');
    });
  }

  async kill(o: ContainerOperation = {}): Promise<void> {
    await this.eachContainer({ services: o.services, reverse: true }, async (c) => {
      this.hooks.progress('Container', c.name, 'Killing');
      await this.client.do('POST', `/containers/${c.id}/kill`, { query: { signal: o.signal } });
      this.hooks.progress('Container', c.name, 'Killed');
    });
  }

  async pause(o: ContainerOperation & { unpause?: boolean } = {}): Promise<void> {
    const [op, doing, done] = o.unpause ? ['unpause', 'Unpausing', 'Unpaused'] : ['pause', 'Pausing', 'Paused'];
    await this.eachContainer({ services: o.services }, async (c) => {
      this.hooks.progress('Container', c.name, doing);
      await this.client.do('POST', `/containers/${c.id}/${op}`);
      this.hooks.progress('Container', c.name, done);
    });
  }

  /** `rm`: the stopped containers of the services (running ones too with `stop`). */
  async remove(o: ContainerOperation & { stop?: boolean; volumes?: boolean }, confirm?: (names: string[]) => Promise<boolean>): Promise<void> {
    const list = (await this.containers({ all: true, services: o.services })).filter((c) => o.stop || c.state !== 'running');
    if (!list.length) return this.hooks.warn('No stopped containers');
    if (confirm && !(await confirm(list.map((c) => c.name)))) return;
    await Promise.all(list.map((c) => this.removeContainer(c, { stop: o.stop, volumes: o.volumes, timeout: o.timeout })));
  }

  async down(o: DownOptions = {}): Promise<void> {
    const known = new Set([...Object.keys(this.project.services), ...Object.keys(this.project.disabledServices)]);
    // the project's networks are listed while the containers are stopped
    const listingNetworks = this.client.json<Array<{ Name: string }>>('GET', '/networks', { query: { filters: projectFilter(this.name) } });
    listingNetworks.catch(() => {}); // awaited below; a failure is reported there
    const list = await this.containers({ all: true, oneoff: 'include' });
    const orphans = list.filter((c) => !known.has(c.service));
    if (orphans.length && !o.removeOrphans) {
      this.hooks.warn(
        `Found orphan containers ([${orphans.map((c) => c.name).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      );
    }
    const all = Object.values({ ...this.project.disabledServices, ...this.project.services });
    // Stopping follows the dependencies (dependents first); removing a stopped container waits for nothing else.
    const removals: Array<Promise<void>> = [];
    const stopThenRemove = async (c: ProjectContainer) => {
      if (c.state === 'running') await this.stopContainer(c, o.timeout);
      removals.push(this.removeContainer(c, { volumes: o.volumes }));
    };
    const stopped = await Promise.allSettled([
      inDependencyOrder(all, (s) => Promise.all(list.filter((c) => c.service === s.name).map(stopThenRemove)).then(() => {}), true),
      ...(o.removeOrphans ? orphans.map(stopThenRemove) : []),
    ]);
    const failed = [...stopped, ...(await Promise.allSettled(removals))].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    // Networks and volumes go together once no container uses them.
    const external = new Set(Object.values(this.project.networks).filter((n) => n.external).map((n) => n.name));
    const networks = (await listingNetworks).filter((n) => !external.has(n.Name));
    const volumes = o.volumes ? Object.values(this.project.volumes).filter((v) => !v.external) : [];
    const gone = await Promise.allSettled([
      ...networks.map(async (n) => {
        this.hooks.progress('Network', n.Name, 'Removing');
        await this.client.do('DELETE', `/networks/${encodeURIComponent(n.Name)}`).catch(ignore404);
        this.hooks.progress('Network', n.Name, 'Removed');
      }),
      ...volumes.map(async (v) => {
        // Compose reports only the volumes that were there
        if ((await this.client.do('DELETE', `/volumes/${encodeURIComponent(v.name)}`).then(() => true, ignore404)) !== true) return;
        this.hooks.progress('Volume', v.name, 'Removing');
        this.hooks.progress('Volume', v.name, 'Removed');
      }),
    ]);
    const failedRemoval = gone.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedRemoval) throw failedRemoval.reason;
    if (o.rmi) {
      const images = new Set(all.filter((s) => o.rmi === 'all' || !s.image).map((s) => builtImageName(this.name, s)));
      await Promise.all(
        [...images].map(async (ref) => {
          const removed = await this.client.do('DELETE', `/images/${encodeURIComponent(ref)}`).then(() => true, ignore404);
          if (removed) this.hooks.progress('Image', ref, 'Removed');
        }),
      );
    }
  }
}

/** A local build context that is not there fails the command before anything is made, as Compose checks it first. */
async function checkBuildContexts(services: ServiceConfig[]): Promise<void> {
  for (const s of services) {
    const context = s.build?.context;
    if (!context || /^[a-z]+:\/\//.test(context) || context.startsWith('git@')) continue;
    const st = await stat(context).catch(() => undefined);
    if (!st?.isDirectory()) throw new ComposeError(`unable to prepare context: path "${context}" not found`);
  }
}

/** The API's `since` (Unix seconds and nanoseconds, inclusive) for what comes after an RFC 3339 time. */
function unixSecondsAfter(rfc3339: string): string {
  const [whole = '', fraction = ''] = rfc3339.replace(/Z$/, '').split('.');
  const nanos = Number(fraction.padEnd(9, '0').slice(0, 9)) + 1;
  const seconds = Math.floor(Date.parse(`${whole}Z`) / 1000) + Math.floor(nanos / 1e9);
  return `${seconds}.${String(nanos % 1e9).padStart(9, '0')}`;
}
