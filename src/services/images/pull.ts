import { PassThrough, type Readable } from 'node:stream';
import { FailedPrecondition, InvalidArgument } from '../../errors/index.js';
import {
  type Descriptor,
  type Digest,
  chainIds,
  type Reference,
  familiarName,
  familiarString,
  formatReference,
  parseReference,
  repositoryName,
} from '../../oci/index.js';
import {
  type Credentials,
  type Endpoint,
  type FetchedManifest,
  RegistryClient,
  chooseManifest,
  formatPlatform,
  hostPlatform,
  parsePlatform,
  pullEndpoints,
} from '../../registry/client/index.js';
import type { Logger } from '../../util/logger.js';
import { type ImageService, type Ingestion, parseConfig } from './index.js';
import { pool } from '../../util/pool.js';
import type { DistributionMetadata } from './distribution.js';

/** One line of docker's JSON progress stream (`docker pull`'s output). */
export interface ProgressMessage {
  status: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
}

export interface PullOptions {
  /** `os/arch[/variant]`: which entry of a manifest list or index; this host's by default. */
  platform?: string;
  credentials?: Credentials;
  /** Every tag of the repository (`pull -a`); the reference must then name no tag or digest. */
  allTags?: boolean;
  signal?: AbortSignal;
  /** Registries reached over plain HTTP (besides loopback ones): `host[:port]` or IPv4 CIDRs. */
  insecureRegistries?: readonly string[];
  /** docker.io's mirrors (`registry-mirrors`, validated), tried in order before docker.io itself. */
  mirrors?: readonly string[];
  /** Where a mirror's failure is told before the next endpoint is tried. */
  log?: Logger;
  /** Layers downloaded at once (dockerd's `max-concurrent-downloads`, 3 by default). */
  concurrency?: number;
  /** Where each layer's registry blob is remembered (for pushes to find it). */
  known?: DistributionMetadata;
}

/** The registry side of the image service, with the daemon's registry settings. */
export class ImagePuller {
  constructor(
    private readonly images: ImageService,
    private readonly known: DistributionMetadata,
    private readonly cfg: { insecureRegistries: readonly string[]; mirrors: readonly string[]; concurrency?: number; log: Logger },
  ) {}

  async pull(ref: string, opts: Omit<PullOptions, 'insecureRegistries' | 'mirrors' | 'known' | 'log'>, progress: (m: ProgressMessage) => void): Promise<void> {
    try {
      const { insecureRegistries, mirrors, log } = this.cfg;
      await pullImage(this.images, ref, { concurrency: this.cfg.concurrency, ...opts, insecureRegistries, mirrors, log, known: this.known }, progress);
    } finally {
      await this.known.save().catch((e: unknown) => this.cfg.log.warn('pull: layer locations not saved', { error: String(e) }));
    }
  }
}

/**
 * `docker pull`: resolves the reference at its registry, picks this host's image from a manifest list or index,
 * downloads the layers not yet stored (a few at once, each verified against its digest and, unpacked, against
 * the config's diff ID) into the content store, and records the image with its repo digest and tag. Progress is
 * dockerd's message stream. All or nothing: the downloads happen inside `withDownloads`, so a failed or cut pull
 * leaves no blob and no record.
 */
export async function pullImage(images: ImageService, reference: string, opts: PullOptions, progress: (m: ProgressMessage) => void): Promise<void> {
  const ref = parseReference(reference);
  if (opts.allTags) {
    if (ref.tag || ref.digest) throw new InvalidArgument('tag can only be used with --all-tags/-a=false');
    const name = familiarName(repositoryName(ref));
    const newer = await fromEndpoints(ref, opts, async (endpoint) => {
      const client = newClient(ref, endpoint, opts);
      let newer = false;
      // As dockerd: each tag's lines and digest, then one status for the repository.
      for (const tag of (await client.tags(name)).sort()) newer = (await pullOne(images, { ...ref, tag }, endpoint, opts, progress, client)).newer || newer;
      return newer;
    });
    progress({ status: `Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${name}` });
    return;
  }
  const one = ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
  const { newer, warning } = await fromEndpoints(ref, opts, (endpoint) => pullOne(images, one, endpoint, opts, progress));
  progress({ status: `Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(one)}` });
  if (warning) progress({ status: warning });
}

/**
 * Runs a pull against each of the reference's endpoints in turn until one succeeds: any failure at a mirror
 * moves on to the next (as dockerd's does; a pull is all or nothing, so nothing of the failed try is left), and
 * the last endpoint's failure is the pull's.
 */
async function fromEndpoints<T>(ref: Reference, opts: PullOptions, pull: (endpoint: Endpoint) => Promise<T>): Promise<T> {
  const endpoints = pullEndpoints(ref.domain, opts.insecureRegistries, opts.mirrors);
  for (let i = 0; ; i++) {
    const endpoint = endpoints[i] as Endpoint;
    try {
      return await pull(endpoint);
    } catch (e) {
      if (i === endpoints.length - 1 || opts.signal?.aborted) throw e;
      opts.log?.info('pull: mirror failed, trying the next endpoint', { mirror: endpoint.host, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function newClient(ref: Reference, endpoint: Endpoint, opts: PullOptions, signal = opts.signal): RegistryClient {
  return new RegistryClient(endpoint, ref.path, {
    ...(opts.credentials && { credentials: opts.credentials }),
    ...(signal && { signal }),
  });
}

async function pullOne(
  images: ImageService,
  ref: Reference,
  endpoint: Endpoint,
  opts: PullOptions,
  progress: (m: ProgressMessage) => void,
  shared?: RegistryClient,
): Promise<{ newer: boolean; warning?: string }> {
  // One failed layer stops its siblings; a client gone stops them all.
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const client = shared ?? newClient(ref, endpoint, opts, abort.signal);
    const display = familiarString(ref);
    const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    const top = await client.manifest(ref.digest ?? ref.tag ?? 'latest', display);
    const manifest = await platformManifest(client, top, want, display);
    const config = await client.blobBytes(manifest.config);
    const diffIds = parseConfig(config).rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgument(`manifest for ${display} lists ${manifest.layers.length} layers, its config ${diffIds.length}`);
    }
    const configDigest = manifest.config.digest;
    const repoDigest = `${familiarName(repositoryName(ref))}@${top.digest}`;
    progress({ status: `Pulling from ${ref.path}`, id: ref.digest ? display : (ref.tag ?? 'latest') });

    // The downloads run without the image lock (their blobs pinned); recording the image takes it.
    const upToDate = await images.withDownloads(
      (ing) => (images.find(configDigest) ? Promise.resolve([]) : downloadLayers(images, ing, client, manifest.layers, diffIds, opts.concurrency ?? 3, progress, abort)),
      async (ing, downloaded) => {
        // By digest, no tag moves (a tag given with a digest is only a label, as in dockerd).
        const tagRef = ref.tag && !ref.digest ? formatReference(ref) : undefined;
        const existing = images.find(configDigest);
        const upToDate = !!existing && (tagRef ? images.tagMap().get(tagRef) === configDigest : existing.repoDigests.includes(repoDigest));
        for (const l of downloaded) progress({ status: 'Extracting', progressDetail: { current: l.size, total: l.size }, progress: progressBar(l.size, l.size), id: shortDigest(l.digest) });
        const rec = await images.createImage({ config, layerBlobs: diffIds, repoDigests: [repoDigest], tagged: !!tagRef && !upToDate }, ing);
        for (const l of downloaded) progress({ status: 'Pull complete', progressDetail: {}, id: shortDigest(l.digest) });
        if (tagRef && !upToDate) await images.retag(new Map([[tagRef, rec.id]]));
        images.publish('pull', display, display);
        return upToDate;
      },
    );
    manifest.layers.forEach((l, i) => opts.known?.add(diffIds[i] as Digest, l, `${client.endpoint.name}/${client.repository}`));
    progress({ status: `Digest: ${top.digest}` });
    // A single-platform image asked for another platform is still pulled; dockerd warns after its status line.
    const c = parseConfig(config);
    const got = { os: c.os, architecture: c.architecture, ...(c.variant && { variant: c.variant }) };
    const mismatch = opts.platform && top.kind === 'manifest' && (got.os !== want.os || got.architecture !== want.architecture);
    const warning = `WARNING: image with reference ${familiarName(repositoryName(ref))} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(got)}`;
    return { newer: !upToDate, ...(mismatch && { warning }) };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** The image manifest for `want`: the manifest itself, or the matching entry of a list or index. */
async function platformManifest(client: RegistryClient, top: FetchedManifest, want: ReturnType<typeof hostPlatform>, display: string) {
  if (top.kind === 'manifest') return top.manifest;
  const entry = chooseManifest(top.index.manifests, want);
  const m = await client.manifest(entry.digest, `${display}@${entry.digest}`);
  if (m.kind !== 'manifest') throw new InvalidArgument(`manifest list for ${display} points at another list (${entry.digest})`);
  return m.manifest;
}

const layerMediaTypes = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
]);

/**
 * The layers whose uncompressed tar is not stored yet, downloaded `concurrency` at a time and stored
 * decompressed (the diff ID must be the config's). Returns them (each distinct blob once) in image order.
 */
async function downloadLayers(
  images: ImageService,
  ing: Ingestion,
  client: RegistryClient,
  layers: Descriptor[],
  diffIds: Digest[],
  concurrency: number,
  progress: (m: ProgressMessage) => void,
  abort: AbortController,
): Promise<Descriptor[]> {
  const todo: Array<{ desc: Descriptor; diffId: Digest; chainId: Digest; parent?: Digest; prev?: Promise<unknown>; started: () => void }> = [];
  const seen = new Set<string>();
  const chain = chainIds(diffIds);
  let prev: Promise<unknown> | undefined;
  for (const [i, desc] of layers.entries()) {
    const diffId = diffIds[i] as Digest;
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    if (!layerMediaTypes.has(desc.mediaType)) throw new InvalidArgument(`layer ${desc.digest} has media type ${desc.mediaType}, which Berth cannot unpack`);
    if (await images.hasLayerTar(diffId)) {
      progress({ status: 'Already exists', progressDetail: {}, id: shortDigest(desc.digest) });
      continue;
    }
    let started = () => {};
    const p = new Promise<void>((r) => (started = r));
    todo.push({ desc, diffId, chainId: chain[i] as Digest, ...(i > 0 && { parent: chain[i - 1] }), ...(prev && { prev }), started });
    prev = p;
  }
  for (const { desc } of todo) progress({ status: 'Pulling fs layer', progressDetail: {}, id: shortDigest(desc.digest) });
  for (const { desc } of todo.slice(concurrency)) progress({ status: 'Waiting', progressDetail: {}, id: shortDigest(desc.digest) });

  const one = async ({ desc, diffId, chainId, parent, prev, started }: (typeof todo)[number]) => {
    const id = shortDigest(desc.digest);
    let last = 0;
    const stream = await client.blob(desc, (n) => {
      const now = Date.now();
      // dockerd rate-limits these too; one message per chunk would be thousands for a big layer.
      if (n !== desc.size && now - last < 100) return;
      last = now;
      progress({ status: 'Downloading', progressDetail: { current: n, total: desc.size }, progress: progressBar(n, desc.size), id });
      if (n === desc.size) progress({ status: 'Verifying Checksum', progressDetail: {}, id });
    });
    // Unpacked as it arrives when its parent is stored or on its way: the layer below has decided first.
    let got: { diffId: Digest; keptTar: boolean };
    try {
      await prev;
      const unpack = ing.canUnpack(chainId, parent) ? { chainId, parent } : undefined;
      const ingesting = ingestVerified(stream, (feed) => (unpack ? ing.unpackLayer(feed, unpack) : ing.ingestLayer(feed).then((d) => ({ diffId: d, keptTar: true }))));
      started();
      got = await ingesting;
    } finally {
      started();
    }
    if (got.diffId !== diffId) throw new FailedPrecondition(`layer ${desc.digest} unpacks to ${got.diffId}, but the image config says ${diffId}`);
    // Rare: a tar its files cannot make again (a path written twice, say). It is fetched again and stored whole.
    if (!got.keptTar && (await ingestVerified(await client.blob(desc), (feed) => ing.ingestLayer(feed))) !== diffId) {
      throw new FailedPrecondition(`layer ${desc.digest} changed between two downloads`);
    }
    progress({ status: 'Download complete', progressDetail: {}, id });
  };
  await pool(todo, concurrency, one, abort);
  return todo.map((t) => t.desc);
}

/**
 * Ingests a layer from its verifying download stream. A corrupt layer usually breaks its decompression before
 * the download has ended and its digest been checked: the rest is then read, so that the failure said is the
 * digest's (dockerd's "filesystem layer verification failed") whenever the bytes are not the layer's.
 */
async function ingestVerified<T>(download: Readable, ingest: (feed: Readable) => Promise<T>): Promise<T> {
  // The default buffer: a reader's read() joins whatever is buffered into one new Buffer, a copy per chunk.
  const feed = new PassThrough();
  // 'close' too: a download destroyed without an error (its request aborted) must not leave this waiting.
  const verified = new Promise<unknown>((resolve) => download.once('error', resolve).once('end', () => resolve(undefined)).once('close', () => resolve(undefined)));
  download.once('error', (e) => feed.destroy(e)); // pipe() does not pass errors on
  // The ingest reads `feed` and reports its failures; once it has stopped reading, a later error of the download
  // (reported above, through `verified`) would reach a pipe() destination with no listener, which throws.
  feed.on('error', () => {});
  download.pipe(feed);
  try {
    return await ingest(feed);
  } catch (e) {
    if (!(e instanceof FailedPrecondition)) {
      download.unpipe(feed);
      download.resume();
      const verification = await verified;
      if (verification) throw verification;
    }
    throw e;
  } finally {
    download.destroy();
    feed.destroy();
  }
}


/** The 12 hex digits docker shows of a digest. */
export function shortDigest(d: string): string {
  return d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
}

/** Go's `%.4g`, as docker's units.HumanSize prints sizes (decimal units). */
function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  for (; n >= 1000 && i < units.length - 1; i++) n /= 1000;
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** dockerd's progress text: a 50-wide bar and `current/total`. */
export function progressBar(current: number, total: number): string {
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] ${numbers}`;
}

export type { Credentials };
