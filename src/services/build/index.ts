import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { removeAll } from '../../kernel/fs.js';
import { mountsUnder, unmount } from '../../kernel/mount.js';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  type BuildContext,
  type ContextListing,
  ContextCache,
  type Dockerfile,
  type Instruction,
  type Source,
  type Stage,
  type StageState,
  type Step,
  copyCreatedBy,
  copyIntoRoot,
  evaluate,
  expandBase,
  fetchUrl,
  heredocBody,
  hashSources,
  initialState,
  metaArgValues,
  openContext,
  processWord,
  parseDockerfile,
  resolveChown,
  resolveSources,
  sourceKind,
  stageRef,
  stagesFor,
  varsOf,
} from '../../builder/index.js';
import { InvalidArgument, NotFound, Unavailable } from '../../errors/index.js';
import type { LayerStore } from '../../layers/index.js';
import type { BuildStamp, ImageRecord } from '../../metadata/index.js';
import { commitUpper, withSnapshot } from './snapshot.js';
import type { ContainerConfig, Digest, ImageConfig } from '../../oci/index.js';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../../oci/index.js';
import { shortId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import type { ContainerService } from '../containers/index.js';
import { hostArchitecture } from '../images/import.js';
import type { BuildCacheEntry, ImageService } from '../images/index.js';
import type { Credentials, ImagePuller } from '../images/pull.js';

export interface BuildOptions {
  /** The Dockerfile's path in the context. */
  dockerfile: string;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  /** RUN containers' network mode (`--network`). */
  networkMode?: string;
  /** Remove RUN containers after a successful step (`--rm`, default) or always (`--force-rm`). */
  remove: boolean;
  forceRemove: boolean;
  cpusetCpus?: string;
  memory?: number;
  /** Images whose steps may be reused; when given, only theirs are (Docker's classic `--cache-from`). */
  cacheFrom: string[];
  /** Credentials for pulling base images, by registry (`docker.io`, `host:port`). */
  registryCredentials?: ReadonlyMap<string, Credentials>;
  /** The body updates the context kept for this session (`planContext`) instead of being the whole context. */
  contextSession?: string;
  signal?: AbortSignal;
}

/** Where a build's progress goes: docker's `stream` lines, the resulting image ID (`aux`), a pull's messages. */
export interface BuildOutput {
  stream(text: string): void;
  aux(id: Digest): void;
  message(m: object): void;
}

export interface BuildServiceDeps {
  containers: ContainerService;
  images: ImageService;
  layers: LayerStore;
  /** Pulls a base image that is missing (or every one, with `--pull`). */
  pull: Pick<ImagePuller, 'pull'>;
  /** Scratch space for build contexts (removed after each build, and swept at start-up). */
  workDir: string;
  log: Logger;
}

/** The image a stage has built so far: its record (none yet for `FROM scratch`) and its config. */
interface Current {
  id?: Digest;
  image: ImageConfig;
}

/** One build: the context, the Dockerfile and what the stages made. */
interface Build {
  o: BuildOptions;
  out: BuildOutput;
  context: BuildContext;
  dockerfile: Dockerfile;
  /** Images that may be reused (`--cache-from`), or every image. */
  cacheable?: ReadonlySet<Digest>;
  /** Results of the stages built so far, by index. */
  stages: Map<number, Current>;
  step: number;
  steps: number;
  usedArgs: Set<string>;
  /** The index of the stage being built. */
  stage: number;
  /** Scratch directories (heredocs, downloads) removed when the build ends. */
  scratch: string[];
  /** RUN containers being removed (each logs its own failure); the build ends once they are gone. */
  removals: Promise<void>[];
}

/**
 * The classic builder (`POST /build`): a Dockerfile's stages run step by step, each step's result an image, reused
 * when a step with the same cache key made one before. RUN steps are containers of the engine (same runtime, monitor,
 * mounts and network as `docker run`), COPY/ADD and WORKDIR are copies into a snapshot of the image's layers
 * (snapshot.ts), and every change is committed as a read-only layer shared by chain ID.
 */
export class BuildService {
  /** Contexts kept between builds, updated by what changed (builder/context-cache.ts). */
  private readonly contexts: ContextCache;

  constructor(private readonly d: BuildServiceDeps) {
    this.contexts = new ContextCache(join(d.workDir, 'contexts'), d.log);
  }

  /** Which entries of a client's context the copy kept for `key` needs, and the session the build names. */
  planContext(key: string, listing: ContextListing): Promise<{ id: string; need: string[] }> {
    return this.contexts.plan(key, listing);
  }

  /** `system df`'s part here: the kept contexts, as BuildKit lists its local sources. */
  async contextUsage(): Promise<BuildCacheEntry[]> {
    return (await this.contexts.usage()).map((c) => ({
      ID: c.id,
      Parents: null,
      Type: 'source.local',
      Description: 'local source for context',
      InUse: c.inUse,
      Shared: false,
      Size: c.size,
      CreatedAt: c.created.toISOString(),
      LastUsedAt: c.lastUsed?.toISOString() ?? null,
      UsageCount: c.uses,
    }));
  }

  /** `builder prune`'s part here: the kept contexts no build is using. */
  pruneContexts(): Promise<string[]> {
    return this.contexts.prune();
  }

  /**
   * Start-up: what a build cut short by a crash left. Its step containers (a RUN's) are removed, its snapshots
   * unmounted and its scratch directory (contexts, snapshots, downloads) removed.
   */
  async recover(): Promise<void> {
    for (const c of this.d.containers.list(true).filter((c) => c.scratch)) {
      await this.d.containers.remove(c.id, true, true).catch((e: unknown) => this.d.log.warn('build: leftover step container not removed', { container: c.id, error: String(e) }));
    }
    for (const m of await mountsUnder(this.d.workDir)) await unmount(m);
    await removeAll(this.d.workDir);
  }

  async build(input: Readable, o: BuildOptions, out: BuildOutput): Promise<Digest> {
    const tags = o.tags.map((t) => {
      const ref = withDefaultTag(parseReference(t));
      if (ref.digest) throw new InvalidArgument(`invalid reference format: ${t}`);
      return formatReference(ref);
    });
    await mkdir(this.d.workDir, { recursive: true, mode: 0o700 });
    const context = o.contextSession
      ? await this.contexts.open(o.contextSession, input, { dockerfile: o.dockerfile })
      : await openContext(input, join(this.d.workDir, `context-${randomHex()}`), { dockerfile: o.dockerfile });
    const scratch: string[] = [];
    const removals: Promise<void>[] = [];
    try {
      const dockerfile = parseDockerfile(await context.readDockerfile(o.dockerfile));
      const stages = stagesFor(dockerfile, o.target, metaArgValues(dockerfile, o.buildArgs));
      const labels = Object.entries(o.labels);
      const b: Build = {
        o,
        out,
        context,
        dockerfile,
        ...(o.cacheFrom.length && { cacheable: this.cacheFromSet(o.cacheFrom) }),
        stages: new Map(),
        step: 0,
        // As the classic builder counts: the ARGs before the first FROM, every instruction of the stages built (FROM
        // included), and the LABEL `--label` adds at the end.
        steps: dockerfile.metaArgs.length + stages.reduce((n, s) => n + 1 + s.instructions.length, 0) + (labels.length ? 1 : 0),
        usedArgs: new Set(),
        stage: 0,
        scratch,
        removals,
      };
      // The ARGs before the first FROM are steps of their own in the classic builder's count and output.
      for (const ins of dockerfile.metaArgs) {
        this.announce(b, ins);
        for (const w of ins.args.trim().split(/\s+/)) b.usedArgs.add(w.split('=')[0] ?? '');
      }
      let last: Current | undefined;
      for (const stage of stages) {
        last = await this.buildStage(b, stage, stage === stages.at(-1) ? labels : []);
        b.stages.set(stage.index, last);
      }
      await context.ready; // a context that broke after the Dockerfile came fails the build, COPY or not
      const unused = [...o.buildArgs.keys()].filter((k) => !b.usedArgs.has(k) && !proxyArgs.has(k.toLowerCase()));
      if (unused.length) out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
      const id = (last && (await this.ensureRecord(last))) as Digest;
      await this.d.images.markBuildResult(id);
      if (tags.length) {
        await this.d.images.withIngestion(() => this.d.images.retag(new Map(tags.map((t) => [t, id]))));
        for (const t of tags) this.d.images.publish('tag', id, familiarString(parseReference(t)));
      }
      out.aux(id);
      out.stream(`Successfully built ${shortId(id)}\n`);
      for (const t of tags) out.stream(`Successfully tagged ${familiarString(parseReference(t))}\n`);
      return id;
    } finally {
      await Promise.all(removals);
      for (const dir of scratch) await removeAll(dir).catch((e: unknown) => this.d.log.warn('build: removing a scratch directory failed', { dir, error: String(e) }));
      await context.close().catch((e: unknown) => this.d.log.warn('build: removing the context failed', { error: String(e) }));
    }
  }

  private cacheFromSet(names: string[]): Set<Digest> {
    const ids = new Set<Digest>();
    for (const name of names) {
      const rec = this.d.images.find(name);
      if (rec) for (const id of this.d.images.lineage(rec.id)) ids.add(id);
    }
    return ids;
  }

  private async buildStage(b: Build, stage: Stage, labels: Array<[string, string]>): Promise<Current> {
    b.stage = stage.index;
    const metaArgs = metaArgValues(b.dockerfile, b.o.buildArgs);
    const base = expandBase(stage, metaArgs, b.dockerfile.escape);
    this.announce(b, stage.from);
    let cur = await this.baseImage(b, base, stage);
    b.out.stream(` ---> ${cur.id ? shortId(cur.id) : ''}\n`);
    let state = initialState(cur.image.config ?? {}, metaArgs, b.o.buildArgs);
    // ONBUILD triggers of the base run first, as if written right after FROM.
    const triggers = cur.image.config?.OnBuild ?? [];
    if (triggers.length) {
      b.out.stream(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      const config = { ...(cur.image.config ?? {}), OnBuild: [] };
      cur = { ...cur, image: { ...cur.image, config } };
      state = { ...state, config };
      for (const trigger of triggers) ({ cur, state } = await this.runStep(b, cur, state, instructionOf(trigger)));
    }
    for (const ins of stage.instructions) {
      this.announce(b, ins);
      ({ cur, state } = await this.runStep(b, cur, state, ins));
      b.out.stream(` ---> ${cur.id ? shortId(cur.id) : ''}\n`);
    }
    for (const k of state.usedBuildArgs) b.usedArgs.add(k);
    if (labels.length) {
      const ins = instructionOf(`LABEL ${labels.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}`);
      this.announce(b, ins);
      ({ cur } = await this.runStep(b, cur, state, ins));
      b.out.stream(` ---> ${cur.id ? shortId(cur.id) : ''}\n`);
    }
    return cur;
  }

  private announce(b: Build, ins: Instruction): void {
    // A client gone (or a daemon stopping) ends the build between steps; a RUN in progress is killed (runContainer).
    if (b.o.signal?.aborted) throw new Cancelled('the build was cancelled: the client went away');
    b.step++;
    b.out.stream(`Step ${b.step}/${b.steps} : ${ins.text}\n`);
  }

  /** FROM: an earlier stage's result, `scratch`, or a local image. */
  private async baseImage(b: Build, name: string, stage: Stage): Promise<Current> {
    const earlier = b.dockerfile.stages.find((s) => s.index < stage.index && s.name === name.toLowerCase());
    if (earlier) {
      const built = b.stages.get(earlier.index);
      if (!built) throw new InvalidArgument(`stage ${name} was not built`);
      return built;
    }
    if (name === 'scratch') {
      return { image: { architecture: hostArchitecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [], config: {} } };
    }
    let rec = this.d.images.find(name);
    // As the classic builder: a base image not here is pulled, and with --pull every one is.
    if (!rec || b.o.pull) {
      const credentials = b.o.registryCredentials?.get(parseReference(name).domain);
      await this.d.pull.pull(name, { ...(b.o.signal && { signal: b.o.signal }), ...(credentials && { credentials }) }, (m) => b.out.message(m));
      rec = this.d.images.find(name);
    }
    if (!rec) throw new NotFound(`No such image: ${name}`);
    return { id: rec.id, image: await this.d.images.config(rec) };
  }

  /** One instruction: its cache key, a cache hit, or the work and a new image. */
  private async runStep(b: Build, cur: Current, state: StageState, ins: Instruction): Promise<{ cur: Current; state: StageState }> {
    let step: Step;
    try {
      step = evaluate(state, ins, b.dockerfile.escape);
    } catch (e) {
      throw withLine(e, ins);
    }
    const next = step.kind === 'config' || step.kind === 'workdir' ? step.state : state;
    if (step.kind === 'config' && step.createdBy === '') return { cur, state: next }; // an ARG-only change: no image
    const plan = await this.plan(b, state, step);
    const key = cacheKey(cur.id, step, plan.digest);
    const hit = b.o.noCache ? undefined : this.d.images.findBuildStep(key, b.cacheable);
    if (hit) {
      b.out.stream(' ---> Using cache\n');
      return { cur: { id: hit.id, image: await this.d.images.config(hit) }, state: next };
    }
    const stamp: BuildStamp = { key, intermediate: true, createdBy: plan.createdBy };
    if (step.kind === 'config') return { cur: await this.configImage(cur, next.config, plan.createdBy, stamp, state.author), state: next };
    return { cur: await this.changeStep(b, cur, next, step, plan, stamp), state: next };
  }

  /**
   * What a step will do that its cache key must cover beyond its text: for COPY/ADD, the digest of the sources'
   * contents and metadata (context files, heredocs, downloads: ADD fetches its URLs first, so a changed remote file
   * is a changed step, as in Docker), or the ID of the image they come from.
   */
  private async plan(b: Build, state: StageState, step: Step): Promise<Plan> {
    if (step.kind !== 'copy') return { createdBy: step.createdBy };
    const instruction = step.add ? ('ADD' as const) : ('COPY' as const);
    if (step.from !== undefined) {
      const digest = sha256(JSON.stringify([this.fromImage(b, step.from).id ?? '', step.sources]));
      return { createdBy: copyCreatedBy(step, `from:${digest}`), digest };
    }
    const groups: CopyGroup[] = [];
    if (step.heredocs.length) {
      // Heredoc sources become files of a scratch directory, copied like context files.
      const dir = await this.scratchDir(b, 'heredoc');
      const vars = varsOf(state);
      for (const h of step.heredocs) {
        const body = h.expand ? processWord(heredocBody(h), vars, b.dockerfile.escape, { raw: true }) : heredocBody(h);
        await writeFile(join(dir, h.name), body, { mode: 0o644 });
      }
      groups.push({ fromRoot: dir, sources: await resolveSources(dir, step.heredocs.map((h) => h.name), { allowWildcards: false, instruction }), extractArchives: false });
    } else {
      const urls = step.add ? step.sources.filter(isUrl) : [];
      if (urls.length) {
        const dir = await this.scratchDir(b, 'fetch');
        // Downloads are never unpacked; local archives beside them are.
        for (const url of urls) {
          const fetched = await fetchUrl(url, dir);
          groups.push({ fromRoot: fetched.root, sources: [fetched], extractArchives: false });
        }
      }
      const local = step.sources.filter((src) => !urls.includes(src));
      if (local.length) groups.push(await this.contextSources(b, local, instruction, step.add));
    }
    const digests = await Promise.all(groups.map((g) => g.digest ?? hashSources(g.fromRoot, g.sources)));
    const digest = digests.length === 1 ? (digests[0] as string) : sha256(digests.join(','));
    const label = step.heredocs.length ? 'heredoc' : step.add && step.sources.some(isUrl) ? 'url' : sourceKind(groups.flatMap((g) => g.sources));
    return { createdBy: copyCreatedBy(step, `${label}:${digest}`), digest, copy: groups };
  }

  /** COPY/ADD's sources in the context and their digest; a context kept from the last build may know them. */
  private async contextSources(b: Build, names: string[], instruction: 'ADD' | 'COPY', extractArchives: boolean): Promise<CopyGroup & { digest: string }> {
    await b.context.ready; // the first steps ran while the context arrived: its files are all in now
    const memoKey = `sources ${JSON.stringify([instruction, names])}`;
    const known = b.context.memo?.get(memoKey) as { sources: Source[]; digest: string } | undefined;
    const sources = known?.sources ?? (await resolveSources(b.context.root, names, { allowWildcards: true, instruction }));
    const digest = known?.digest ?? (await hashSources(b.context.root, sources, b.context.digests));
    b.context.memo?.set(memoKey, { sources, digest });
    return { fromRoot: b.context.root, sources, extractArchives, digest };
  }

  private async scratchDir(b: Build, kind: string): Promise<string> {
    const dir = join(this.d.workDir, `${kind}-${randomHex()}`);
    await mkdir(dir, { mode: 0o700 });
    b.scratch.push(dir);
    return dir;
  }

  /** COPY --from: an earlier stage (by name or index) or an image. */
  private fromImage(b: Build, from: string): Current {
    const stage = stageRef(b.dockerfile, b.stage, from);
    if (stage) {
      const built = b.stages.get(stage.index);
      if (!built) throw new InvalidArgument(`invalid from flag value ${from}: stage not built yet`);
      return built;
    }
    const rec = this.d.images.find(from);
    if (!rec) throw new NotFound(`invalid from flag value ${from}: pull access denied for ${from}: the image is not here`);
    return { id: rec.id, image: { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } } };
  }

  /** A step that changes only the config: a new image over the same layers, with an empty-layer history line. */
  private async configImage(cur: Current, config: ContainerConfig, createdBy: string, stamp: BuildStamp, author?: string): Promise<Current> {
    const image = childConfig(cur.image, config, createdBy, undefined, author);
    const rec = await this.d.images.withIngestion((ing) =>
      this.d.images.createImage(
        { config: Buffer.from(JSON.stringify(image)), layerBlobs: image.rootfs.diff_ids, ...(cur.id && { parent: cur.id }), build: stamp },
        ing,
      ),
    );
    return { id: rec.id, image };
  }

  /** The record of a stage's result (a `FROM scratch` stage with no step has none yet). */
  private async ensureRecord(cur: Current): Promise<Digest> {
    if (cur.id) return cur.id;
    const rec = await this.configImage(cur, cur.image.config ?? {}, '', { key: cacheKey(undefined, { kind: 'scratch' }, ''), intermediate: true, createdBy: '' });
    return rec.id as Digest;
  }

  /**
   * RUN, COPY/ADD and WORKDIR: the step's changes committed as a layer over the current image. A RUN is a container
   * of the engine; a copy needs no process, so it goes into a snapshot (an overlay mount of the image's layers).
   */
  private async changeStep(b: Build, cur: Current, state: StageState, step: Exclude<Step, { kind: 'config' }>, plan: Plan, stamp: BuildStamp): Promise<Current> {
    const image = (diffId: Digest | undefined) => childConfig(cur.image, state.config, plan.createdBy, diffId, state.author);
    let made: ImageRecord;
    if (step.kind === 'run') {
      made = await this.runInContainer(b, cur, state, step, (upper) => commitUpper(this.d.images, upper, cur.id, image, stamp));
    } else {
      const dir = await this.scratchDir(b, 'step');
      await withSnapshot(this.d.layers, dir, this.topLayer(cur), (root) => this.fill(b, root, step, plan));
      made = await commitUpper(this.d.images, join(dir, 'upper'), cur.id, image, stamp);
    }
    return { id: made.id, image: await this.d.images.config(made) };
  }

  private topLayer(cur: Current): Digest | undefined {
    return cur.id ? this.d.images.resolve(cur.id).chain.at(-1) : undefined;
  }

  /** A RUN: a container of the current image with the stage's user, directory and environment; `commit` takes its changes. */
  private async runInContainer(b: Build, cur: Current, state: StageState, step: Extract<Step, { kind: 'run' }>, commit: (upper: string) => Promise<ImageRecord>): Promise<ImageRecord> {
    // Heredoc scripts a RUN executes are bound in read-only, so they never land in its layer.
    const binds: string[] = [];
    if (step.files?.length) {
      const dir = await this.scratchDir(b, 'run');
      for (const [i, f] of step.files.entries()) {
        await writeFile(join(dir, String(i)), f.content, { mode: f.mode });
        binds.push(`${join(dir, String(i))}:${f.path}:ro`);
      }
    }
    const { container } = await this.d.containers.create({
      image: cur.id ?? (await this.ensureRecord(cur)),
      cmd: step.argv,
      entrypoint: [''],
      env: step.env,
      ...(state.config.User && { user: state.config.User }),
      ...(state.config.WorkingDir && { workingDir: state.config.WorkingDir }),
      labels: { [buildLabel]: '' },
      scratch: true,
      hostConfig: {
        NetworkMode: step.network || b.o.networkMode || 'default',
        ...(binds.length && { Binds: binds }),
        ...(b.o.cpusetCpus && { CpusetCpus: b.o.cpusetCpus }),
        ...(b.o.memory && { Memory: b.o.memory }),
      },
    });
    try {
      b.out.stream(` ---> Running in ${shortId(container.id)}\n`);
      await this.runContainer(b, container.id, step.argv);
      // Its processes are gone with its init (the pid namespace dies with it), so its upper directory is final:
      // the commit reads it while the engine tears the container down (the runtime's delete, the unmount).
      const [made] = await Promise.all([commit(this.d.containers.dirs(container).upper), this.d.containers.settled(container.id)]);
      if (b.o.remove || b.o.forceRemove) b.out.stream(`Removing intermediate container ${shortId(container.id)}\n`);
      return made;
    } finally {
      // Unlike the classic builder, a failed RUN's container goes too (unless --rm=false), quietly: a failed build
      // leaves nothing behind, and its output ends with the RUN's own. The removal runs beside the next steps;
      // the build ends only once it is done.
      if (b.o.remove || b.o.forceRemove) b.removals.push(this.removeContainer(container.id));
    }
  }

  /** Runs a RUN container, streaming its output; a non-zero exit is the build's error. */
  private async runContainer(b: Build, id: string, argv: string[]): Promise<void> {
    const abort = new AbortController();
    const output = this.d.containers.attachOutput(id, { signal: abort.signal });
    const relay = (async () => {
      for await (const batch of output) for (let i = 0; i < batch.length; i++) b.out.stream(batch.text(i).toString('utf8'));
    })();
    const cancel = () => void this.d.containers.kill(id).catch(() => {});
    b.o.signal?.addEventListener('abort', cancel, { once: true });
    try {
      if (b.o.signal?.aborted) throw new Cancelled('the build was cancelled: the client went away');
      const exited = this.d.containers.wait(id, 'next-exit');
      await this.d.containers.start(id);
      const code = await exited;
      await relay;
      if (b.o.signal?.aborted) throw new Cancelled('the build was cancelled: the client went away');
      if (code !== 0) throw new BuildFailure(`The command '${argv.join(' ')}' returned a non-zero code: ${code}`, code);
    } finally {
      b.o.signal?.removeEventListener('abort', cancel);
      abort.abort();
      await relay.catch(() => {});
    }
  }

  /** COPY/ADD and WORKDIR inside a step's snapshot. */
  private async fill(b: Build, rootfs: string, step: Exclude<Step, { kind: 'config' | 'run' }>, plan: Plan): Promise<void> {
    if (step.kind === 'workdir') {
      await copyIntoRoot({ fromRoot: rootfs, sources: [], rootfs, dest: `${step.path}/`, extractArchives: false });
      return;
    }
    const chown = step.chown ? await resolveChown(rootfs, step.chown) : undefined;
    const into = { rootfs, dest: step.dest, instruction: step.add ? ('ADD' as const) : ('COPY' as const), ...(chown && { chown }), ...(step.chmod !== undefined && { chmod: step.chmod }) };
    if (step.from === undefined) {
      for (const g of plan.copy ?? []) await copyIntoRoot({ ...g, ...into });
      return;
    }
    const sources = step.sources;
    await this.withImageRoot(b, this.fromImage(b, step.from), async (fromRoot) => {
      await copyIntoRoot({ fromRoot, sources: await resolveSources(fromRoot, sources, { allowWildcards: true }), ...into, extractArchives: false });
    });
  }

  /** An image's root filesystem for the duration of `fn` (a snapshot nothing is committed from). */
  private async withImageRoot<T>(b: Build, image: Current, fn: (root: string) => Promise<T>): Promise<T> {
    return withSnapshot(this.d.layers, await this.scratchDir(b, 'from'), this.topLayer(image), fn);
  }

  private async removeContainer(id: string): Promise<void> {
    await this.d.containers.remove(id, true, true).catch((e: unknown) => this.d.log.warn('build: removing a step container failed', { container: id, error: String(e) }));
  }
}

interface Plan {
  /** The history line (for COPY/ADD, with the sources' digest). */
  createdBy: string;
  digest?: string;
  /** COPY/ADD from files at hand: the context's, heredocs written out, downloads. */
  copy?: CopyGroup[];
}

/** Sources under one root, copied in one go. */
interface CopyGroup {
  fromRoot: string;
  sources: Source[];
  extractArchives: boolean;
  /** Their digest, when known already (the context's). */
  digest?: string;
}

/** The client went away: the build stops (nobody is left to tell). */
class Cancelled extends Unavailable {}

/** A failing RUN: the message, and the exit code Docker's errorDetail carries. */
export class BuildFailure extends InvalidArgument {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Marks a RUN step's container, so that one a crash left behind is known for what it is. */
export const buildLabel = 'com.berth.build.step';

const proxyArgs = new Set(['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy']);

function cacheKey(parent: Digest | undefined, step: Step | { kind: 'scratch' }, digest: string | undefined): string {
  const what = step.kind === 'scratch' ? 'scratch' : step.kind === 'config' || step.kind === 'workdir' ? [step.createdBy, step.state.config] : step.kind === 'run' ? [step.createdBy, step.env, step.network ?? ''] : [step.createdBy, step.chown ?? '', step.chmod ?? '', step.dest];
  return sha256(JSON.stringify([parent ?? 'scratch', step.kind, what, digest ?? '']));
}

function childConfig(parent: ImageConfig, config: ContainerConfig, createdBy: string, diffId: Digest | undefined, author?: string): ImageConfig {
  const created = new Date().toISOString();
  return {
    ...parent,
    ...(author && { author }),
    config,
    created,
    rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, ...(diffId ? [diffId] : [])] },
    history: [...(parent.history ?? []), { created, created_by: createdBy, ...(!diffId && { empty_layer: true }) }],
  };
}

/** One instruction written outside the Dockerfile (an ONBUILD trigger, the LABEL of `--label`). */
function instructionOf(text: string): Instruction {
  const ins = parseDockerfile(`FROM scratch\n${text}\n`).stages[0]?.instructions[0];
  if (!ins) throw new InvalidArgument(`not an instruction: ${text}`);
  return ins;
}

function withLine(e: unknown, ins: Instruction): unknown {
  if (e instanceof InvalidArgument && !/line \d+/.test(e.message)) return new InvalidArgument(`Dockerfile:${ins.line}: ${e.message}`, { cause: e });
  return e;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function randomHex(): string {
  return createHash('sha256').update(`${process.pid}-${Date.now()}-${Math.random()}`).digest('hex').slice(0, 16);
}

function isUrl(source: string): boolean {
  return /^https?:\/\//.test(source);
}
