import { Transform } from 'node:stream';
import { constants as zlibConstants } from 'node:zlib';
import { InvalidArgument, NotFound } from '../../errors/index.js';
import type { ImageRecord } from '../../metadata/index.js';
import { type Digest, type Reference, familiarName, formatReference, isDigest, parseReference, repositoryName, sha256 } from '../../oci/index.js';
import {
  type Credentials,
  RegistryClient,
  checkLogin,
  hasBlob,
  mountBlob,
  putManifest,
  resolveEndpoint,
  uploadBytes,
  uploadStream,
} from '../../registry/client/index.js';
import type { Logger } from '../../util/logger.js';
import { createLayerGzip } from '../../layers/index.js';
import type { ImageService } from './index.js';
import { type ProgressMessage, progressBar, shortDigest } from './pull.js';
import { pool } from '../../util/pool.js';
import type { DistributionMetadata } from './distribution.js';

/** The last message of each pushed tag: what `docker push` turns into its digest line's aux data. */
export interface AuxMessage {
  progressDetail: Record<string, never>;
  aux: { Tag: string; Digest: Digest; Size: number };
}

export type PushMessage = ProgressMessage | AuxMessage;

export interface PushOptions {
  credentials?: Credentials;
  signal?: AbortSignal;
}

const DockerManifest = 'application/vnd.docker.distribution.manifest.v2+json';
const DockerConfig = 'application/vnd.docker.container.image.v1+json';
const DockerLayerGzip = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/**
 * gzip's fastest level: layers are compressed on the fly for every upload, and at the default level compression
 * is slower than a LAN (≈ 20 MB/s against ≈ 100 MB/s); the blob is a few per cent larger. Parts that do not
 * compress are not deflated at all but stored (createLayerGzip), and the rest is deflated on several cores.
 */
const gzipLevel = zlibConstants.Z_BEST_SPEED;


/**
 * `docker push` and `docker login`'s check, with the daemon's registry settings. Which compressed blob each layer
 * became and where it went (`DistributionMetadata`, also fed by pulls) lets a layer pushed or pulled before be
 * found with a `HEAD`, or mounted from a sibling repository, without compressing it again.
 */
export class ImagePusher {
  constructor(
    private readonly images: ImageService,
    private readonly known: DistributionMetadata,
    private readonly cfg: { insecureRegistries: readonly string[]; concurrency?: number; log: Logger },
  ) {}

  /**
   * Pushes `name`'s tag (`tag`, or the tag in `name`), or every tag of the repository when there is none, as dockerd
   * 20.10 does: the repository line first, then the local checks (as stream errors), then per tag the layers
   * (bounded in parallel), the config and a Docker v2 schema 2 manifest PUT by tag. The pushed digest is recorded
   * as a repo digest of the image; nothing else in the store changes, whether the push succeeds or not.
   */
  async push(name: string, tag: string | undefined, opts: PushOptions, progress: (m: PushMessage) => void): Promise<void> {
    const parsed = parseReference(name);
    if (tag && isDigest(tag)) throw new InvalidArgument('push by digest is not supported');
    if (parsed.digest && !tag) throw new InvalidArgument('push by digest is not supported');
    const ref: Reference = { domain: parsed.domain, path: parsed.path, ...((tag || parsed.tag) && { tag: tag || parsed.tag }) };
    const repo = repositoryName(ref);
    progress({ status: `The push refers to repository [${repo}]` });

    const tags: Array<{ tag: string; id: Digest }> = [];
    for (const [r, id] of this.images.tagMap()) {
      const t = parseReference(r);
      if (repositoryName(t) === repo && t.tag) tags.push({ tag: t.tag, id });
    }
    if (tags.length === 0) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    const wanted = ref.tag ? tags.filter((t) => t.tag === ref.tag) : tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    if (wanted.length === 0) throw new NotFound(`tag does not exist: ${formatReference(ref)}`);

    // One failed blob stops its siblings; a client gone stops them all.
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const endpoint = resolveEndpoint(ref.domain, this.cfg.insecureRegistries);
      const client = new RegistryClient(endpoint, ref.path, { push: true, signal: abort.signal, ...(opts.credentials && { credentials: opts.credentials }) });
      for (const { tag: t, id } of wanted) {
        const rec = this.images.find(id);
        if (!rec) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
        await this.pushOne(client, rec, t, progress, abort);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async pushOne(client: RegistryClient, rec: ImageRecord, tag: string, progress: (m: PushMessage) => void, abort: AbortController): Promise<void> {
    const config = await this.images.blobBytes(rec.id);
    const registry = client.endpoint.name;
    const target = `${registry}/${client.repository}`;
    // dockerd lists the layers top first and starts them in that order.
    const layers = [...new Set(rec.layerBlobs)].reverse();
    const concurrency = this.cfg.concurrency ?? 5; // dockerd's max-concurrent-uploads
    for (const l of layers) progress({ status: 'Preparing', progressDetail: {}, id: shortDigest(l) });
    for (const l of layers.slice(concurrency)) progress({ status: 'Waiting', progressDetail: {}, id: shortDigest(l) });

    const pushed = new Map<Digest, { digest: Digest; size: number }>();
    const one = async (diffId: Digest) => {
      const id = shortDigest(diffId);
      const known = this.known.get(diffId);
      if (known && (await hasBlob(client, known.digest))) {
        this.known.add(diffId, known, target);
        pushed.set(diffId, known);
        progress({ status: 'Layer already exists', progressDetail: {}, id });
        return;
      }
      const sibling = known && [...known.repos].find((r) => r !== target && r.startsWith(`${registry}/`));
      if (known && sibling) {
        const from = sibling.slice(registry.length + 1);
        if (await mountBlob(client, known.digest, from)) {
          this.known.add(diffId, known, target);
          pushed.set(diffId, known);
          progress({ status: `Mounted from ${from}`, progressDetail: {}, id });
          return;
        }
      }
      const blob = await this.uploadLayer(client, diffId, id, progress);
      this.known.add(diffId, blob, target);
      pushed.set(diffId, blob);
      progress({ status: 'Pushed', progressDetail: {}, id });
    };
    try {
      await pool(layers, concurrency, one, abort);
    } finally {
      await this.known.save().catch((e: unknown) => this.cfg.log.warn('push: layer locations not saved', { error: String(e) }));
    }

    const configDigest = rec.id;
    if (!(await hasBlob(client, configDigest))) await uploadBytes(client, config, configDigest);

    const manifest = {
      schemaVersion: 2,
      mediaType: DockerManifest,
      config: { mediaType: DockerConfig, size: config.length, digest: configDigest },
      layers: rec.layerBlobs.map((d) => {
        const b = pushed.get(d) as { digest: Digest; size: number };
        return { mediaType: DockerLayerGzip, size: b.size, digest: b.digest };
      }),
    };
    // distribution's own serialisation (three-space indent), as dockerd sends it.
    const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
    const digest = sha256(bytes);
    await putManifest(client, tag, DockerManifest, bytes, digest);

    // The only change to the store: the repo digest, recorded once the registry has the manifest.
    const repoDigest = `${familiarName(`${registry}/${client.repository}`)}@${digest}`;
    if (!rec.repoDigests.includes(repoDigest)) {
      await this.images.withIngestion((ing) => this.images.createImage({ config, layerBlobs: rec.layerBlobs, repoDigests: [repoDigest] }, ing));
    }
    progress({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
    progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
  }

  /** The layer's tar (stored, or made from its files), gzipped as it is sent; progress counts the tar's bytes, as dockerd's does. */
  private async uploadLayer(client: RegistryClient, diffId: Digest, id: string, progress: (m: PushMessage) => void) {
    const blob = await this.images.blob(diffId);
    if (!blob) throw new NotFound(`layer ${diffId} is not in the content store`);
    const total = blob.size;
    let read = 0;
    let last = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        read += chunk.length;
        const now = Date.now();
        // Rate-limited as dockerd's: one message per chunk would be thousands for a big layer.
        if (now - last >= 100 || read === total) {
          last = now;
          progress({ status: 'Pushing', progressDetail: { current: read, total }, progress: progressBar(read, total), id });
        }
        cb(null, chunk);
      },
    });
    const source = blob.open();
    const gzip = createLayerGzip({ level: gzipLevel });
    source.once('error', (e) => counter.destroy(e));
    counter.once('error', (e) => gzip.destroy(e));
    // A failed upload must close the file and the compressor whichever end stopped first.
    gzip.once('close', () => {
      source.destroy();
      counter.destroy();
    });
    source.pipe(counter).pipe(gzip);
    return uploadStream(client, gzip);
  }


  /**
   * `POST /auth`: the credentials tried against the registry's `/v2/` (an empty address is Docker Hub, as the CLI
   * means it). Nothing is stored: the client keeps its credentials.
   */
  async login(c: { username?: string; password?: string; serverAddress?: string; identityToken?: string }, signal?: AbortSignal): Promise<{ Status: string; IdentityToken: string }> {
    const domain = registryDomain(c.serverAddress ?? '');
    const creds: Credentials = {
      ...(c.username && { username: c.username }),
      ...(c.password && { password: c.password }),
      ...(c.identityToken && { identityToken: c.identityToken }),
    };
    await checkLogin(resolveEndpoint(domain, this.cfg.insecureRegistries), creds, signal);
    this.cfg.log.info('registry login succeeded', { registry: domain, username: c.username ?? '' });
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }
}

/** A login's server address as the registry's name: scheme and path dropped, Docker Hub's aliases as docker.io. */
export function registryDomain(address: string): string {
  const host = address.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (!host || host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io') return 'docker.io';
  if (!/^[a-zA-Z0-9.[\]:-]+$/.test(host)) throw new InvalidArgument(`invalid registry address: ${address}`);
  return host;
}


