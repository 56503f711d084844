import { Conflict, InvalidArgument, NotFound } from '../../errors/index.js';
import { emptyLayerDiffId, packLayer } from '../../layers/index.js';
import { type ContainerConfig as ImageRunConfig, type Digest, type HistoryEntry, type ImageConfig, familiarString, formatReference, parseReference, withDefaultTag } from '../../oci/index.js';
import type { BuildStamp, ImageRecord } from '../../metadata/index.js';
import { applyChanges } from '../images/import.js';
import type { ImageService } from '../images/index.js';
import type { ContainerRecord, ContainerService } from './index.js';

export interface CommitOptions {
  /** Container ID or name. */
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Freeze a running container while its changes are read (default true, as in Docker). */
  pause?: boolean;
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  /** The request body: a config that replaces the container's as the starting point (Docker's semantics). */
  config?: ImageRunConfig | null;
}

export interface CommitDeps {
  containers: ContainerService;
  images: ImageService;
}


/**
 * `docker commit`: a new image made of the container's image and one more layer holding the container's changes
 * (its overlay upper directory, whiteouts and opaque directories turned into OCI `.wh.` entries). The parent's
 * layers are shared, not copied. The config is the container's (or the body's), with `changes` applied and
 * what is missing filled in from the container's, as dockerd does. Returns the new image ID.
 */
export async function commitContainer(d: CommitDeps, o: CommitOptions): Promise<Digest> {
  const c = d.containers.resolve(o.container);
  if (c.state.status === 'dead') throw new Conflict(`You cannot commit container ${c.id} which is Dead`);
  if (c.state.status === 'removing') throw new Conflict(`You cannot commit container ${c.id} which is being removed`);
  const ref = o.repo ? withDefaultTag(parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo)) : undefined;
  if (ref?.digest) throw new InvalidArgument('refusing to create a tag with a digest reference');
  const parent = d.images.resolve(c.image);
  const parentConfig = await d.images.config(parent);
  const containerConfig = dockerContainerConfig(c, parentConfig.config ?? {});
  const config = mergeConfig(withChanges(o.config ?? containerConfig, o.changes ?? []), containerConfig);

  // Only what runs is paused; a container exiting meanwhile is committed as it is.
  const pause = (o.pause ?? true) && (await d.containers.pauseIfRunning(c.id));
  let id: Digest;
  try {
    id = (
      await commitChanges(d, c.id, parent.id, (diffId) => childImage(parentConfig, c, containerConfig, config, diffId, o), {
        ...(ref && { tag: formatReference(ref) }),
      })
    ).id;
  } finally {
    if (pause) await d.containers.setPaused(c.id, false).catch(() => {});
  }
  const imageRef = ref ? familiarString(ref) : '';
  d.images.publish('create', id, imageRef || undefined);
  if (ref) d.images.publish('tag', id, imageRef);
  d.containers.publish(c, 'commit', { comment: o.comment ?? '', imageID: id, imageRef });
  return id;
}

/**
 * The container's changes (its overlay upper directory, whiteouts and opaque directories as OCI `.wh.` entries) as
 * one layer on `parent`, and the image `image` describes around it (`diffId` undefined when nothing changed).
 * Shared by `commit` and the builder's steps.
 */
export async function commitChanges(
  d: CommitDeps,
  containerId: string,
  parent: Digest | undefined,
  image: (diffId: Digest | undefined) => ImageConfig,
  o: { tag?: string; build?: BuildStamp } = {},
): Promise<ImageRecord> {
  // withRootfs holds a stopped container's lock, so it cannot start (or go away) while its changes are read.
  return d.containers
    .withRootfs(
      containerId,
      () =>
        d.images.withIngestion(async (ing) => {
          const diffId = (await ing.ingest(packLayer(d.containers.dirs(d.containers.resolve(containerId)).upper, { overlayWhiteouts: true }))).digest;
          const config = image(diffId === emptyLayerDiffId ? undefined : diffId);
          const rec = await d.images.createImage(
            {
              config: Buffer.from(JSON.stringify(config)),
              layerBlobs: config.rootfs.diff_ids,
              ...(parent && { parent }),
              tagged: !!o.tag,
              ...(o.build && { build: o.build }),
            },
            ing,
          );
          if (o.tag) await d.images.retag(new Map([[o.tag, rec.id]]));
          return rec;
        }),
      { readonly: true },
    )
    .catch((e: unknown) => {
      // A running container removed by another request while its changes were read: its files went under us.
      if (!d.containers.record(containerId)) throw new NotFound(`No such container: ${containerId}`, { cause: e });
      throw e;
    });
}

/** The image config: the parent's, plus the layer (unless empty), the history entry and the container's config. */
function childImage(
  parent: ImageConfig,
  c: ContainerRecord,
  containerConfig: ImageRunConfig,
  config: ImageRunConfig,
  diffId: Digest | undefined,
  o: CommitOptions,
): ImageConfig {
  const created = new Date().toISOString();
  const empty = !diffId;
  const history: HistoryEntry = {
    created,
    ...(o.author && { author: o.author }),
    created_by: (containerConfig.Cmd ?? []).join(' '),
    ...(o.comment && { comment: o.comment }),
    ...(empty && { empty_layer: true }),
  };
  return {
    architecture: parent.architecture,
    ...(parent.variant && { variant: parent.variant }),
    os: parent.os,
    ...(o.author && { author: o.author }),
    config,
    container: c.id,
    container_config: containerConfig,
    created,
    rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, ...(diffId ? [diffId] : [])] },
    history: [...(parent.history ?? []), history],
  };
}

/**
 * The container's config as Docker records it (`container_config`): Berth's container record, plus what the
 * record does not keep but dockerd's container config inherits from the image (volumes; ports and healthcheck for
 * records made before Berth kept them).
 */
function dockerContainerConfig(c: ContainerRecord, image: ImageRunConfig): ImageRunConfig {
  const k = c.config;
  return {
    Hostname: k.Hostname,
    Domainname: '',
    User: k.User,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...((k.ExposedPorts ?? image.ExposedPorts) && { ExposedPorts: k.ExposedPorts ?? image.ExposedPorts }),
    Tty: k.Tty,
    OpenStdin: k.OpenStdin,
    StdinOnce: k.StdinOnce,
    Env: k.Env,
    Cmd: k.Cmd,
    ...((k.Healthcheck ?? image.Healthcheck) !== undefined && { Healthcheck: k.Healthcheck ?? image.Healthcheck }),
    Image: k.Image,
    ...(image.Volumes && { Volumes: image.Volumes }),
    WorkingDir: k.WorkingDir,
    Entrypoint: k.Entrypoint,
    OnBuild: null,
    Labels: k.Labels,
    ...(k.StopSignal && { StopSignal: k.StopSignal }),
    ...(k.StopTimeout !== undefined && { StopTimeout: k.StopTimeout }),
  };
}

/** `--change` instructions in order; as in a Dockerfile, ENTRYPOINT drops the Cmd unless a CMD came before it. */
function withChanges(base: ImageRunConfig, changes: string[]): ImageRunConfig {
  let config: ImageRunConfig = { ...base };
  let cmdSet = false;
  for (const change of changes) {
    const instruction = /^\s*(\w+)/.exec(change)?.[1]?.toUpperCase();
    config = applyChanges(config, [change]);
    if (instruction === 'CMD') cmdSet = true;
    if (instruction === 'ENTRYPOINT' && !cmdSet) config.Cmd = null;
  }
  return config;
}

/** dockerd's merge of the committed config with the container's: what the former leaves empty, the latter fills. */
function mergeConfig(user: ImageRunConfig, container: ImageRunConfig): ImageRunConfig {
  const out: ImageRunConfig = { ...user };
  if (!out.User) out.User = container.User ?? '';
  out.ExposedPorts = { ...(container.ExposedPorts ?? {}), ...(out.ExposedPorts ?? {}) };
  if (Object.keys(out.ExposedPorts).length === 0) delete out.ExposedPorts;
  const keys = new Set((out.Env ?? []).map((e) => e.split('=')[0]));
  out.Env = [...(out.Env ?? []), ...(container.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  out.Labels = { ...(container.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) out.Cmd = container.Cmd ?? null;
    if (out.Entrypoint == null) out.Entrypoint = container.Entrypoint ?? null;
  }
  if (out.Healthcheck === undefined && container.Healthcheck !== undefined) out.Healthcheck = container.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = container.WorkingDir ?? '';
  const volumes = { ...(container.Volumes ?? {}), ...(out.Volumes ?? {}) };
  if (Object.keys(volumes).length) out.Volumes = volumes;
  if (!out.StopSignal && container.StopSignal) out.StopSignal = container.StopSignal;
  return out;
}
