import { passOn, sha256Stream } from '../../util/hash-thread.js';
import { type Readable, Transform } from 'node:stream';
import { Conflict, FailedPrecondition, Internal, InvalidArgument, NotFound } from '../../errors/index.js';
import type { ContentStore } from '../../content/index.js';
import {
  adoptUpperDir,
  applyLayer,
  applyLayerWithSplit,
  assembleTar,
  decodeTarSplit,
  decompress,
  detectCompression,
  type FilledLayer,
  type LayerStore,
} from '../../layers/index.js';
import type { BuildStamp, ImageMetadata, ImageRecord } from '../../metadata/index.js';
import { collectGarbage, type GcResult } from '../../metadata/gc.js';
import {
  type Digest,
  type ImageConfig,
  chainIds,
  familiarName,
  familiarString,
  formatReference,
  isDigest,
  parseReference,
  repositoryName,
  withDefaultTag,
} from '../../oci/index.js';
import type { Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import { shortId } from '../../util/ids.js';
import type { EventBus } from '../system/events.js';
import { type Filters, matchImage, matchingTags } from './filters.js';
import {
  type HistoryItem,
  type ImageInspect,
  type ImageSummary,
  graphDriver,
  imageHistory,
  imageInspect,
  imageSummary,
} from './views.js';

export type { ImageSummary, ImageInspect, HistoryItem };
export type { Filters } from './filters.js';

export interface ImageServiceDeps {
  content: ContentStore;
  layers: LayerStore;
  meta: ImageMetadata;
  events: EventBus;
  log: Logger;
  /** What containers hold of images (rmi's in-use check, GC roots); the composition root wires it to their records. */
  containers: ContainerReferences;
}

/** The images and layers containers stand on. */
export interface ContainerReferences {
  /** IDs of the containers made from this image. */
  usedBy(imageId: Digest): string[];
  /** Top layers of every container's image: garbage collection keeps their chains. */
  layerRoots(): Digest[];
}

/** One line of `DELETE /images/{name}` and of prune's ImagesDeleted. */
export type DeleteItem = { Untagged: string } | { Deleted: string };

/** What makes a new image: its config bytes (hashed into the ID) and its layers as uncompressed blobs. */
export interface NewImage {
  config: Uint8Array;
  /** Content-store digests of the layers' uncompressed tars, bottom first; must equal the config's diff_ids. */
  layerBlobs: Digest[];
  repoDigests?: string[];
  parent?: Digest;
  /** The image is about to be tagged: stamp LastTagTime in the same write. */
  tagged?: boolean;
  /** Made by a build step (its cache key). */
  build?: BuildStamp;
  /** The top layer's content already on disk as an overlay upper directory: moved into place, not unpacked. */
  prepared?: { diffId: Digest; dir: string; tarSplit?: Buffer };
}

/** One entry of `system df`'s build cache (the Engine API's BuildCache). */
export interface BuildCacheEntry {
  ID: string;
  Parents: string[] | null;
  /** BuildKit's names: a step's image is `regular`, a kept build context `source.local`. */
  Type: 'regular' | 'source.local';
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/**
 * Images: resolution of names, listing, inspect, tag/untag, delete and prune, and the entry of new images
 * (load, import, commit later) through `createImage`. All writes run under one lock, so the garbage collector
 * never races an operation that has written blobs it has not yet recorded.
 */
export class ImageService {
  private readonly lock = new Mutex();
  /** Blobs in-flight operations hold (by count): collections and cleanups leave them. */
  private readonly pins = new Map<Digest, number>();
  /** Parsed configs by image ID, least recently used first (see `config`). */
  private readonly configs = new Map<Digest, ImageConfig>();
  constructor(private readonly d: ImageServiceDeps) {}

  /** Start-up: drop crash leftovers (ingests, unpack temporaries) and whatever no record references. */
  recover(): Promise<GcResult & { ingests: number; temporaries: number }> {
    return this.lock.run(async () => {
      const ingests = await this.d.content.reclaimIngests();
      const temporaries = await this.d.layers.reclaim();
      const gc = await collectGarbage(this.d.meta, this.d.content, this.d.layers, [...this.d.containers.layerRoots(), ...this.pins.keys()], this.pins.keys());
      return { ...gc, ingests, temporaries };
    });
  }

  // ---- resolution -------------------------------------------------------------------------------------------

  /** Docker's lookup order: a reference (tag or digest), then a full or unique-prefix image ID. */
  find(name: string): ImageRecord | undefined {
    const m = this.d.meta;
    const full = name.startsWith('sha256:') ? name : `sha256:${name}`;
    if (isDigest(full) && m.get(full)) return m.get(full);
    try {
      const ref = withDefaultTag(parseReference(name));
      if (ref.digest) {
        const repo = repositoryName(ref);
        // Pulls record repo digests in Docker's familiar form (`busybox@sha256:…`).
        const wanted = [`${repo}@${ref.digest}`, `${familiarName(repo)}@${ref.digest}`];
        const byDigest = m.list().find((r) => wanted.some((w) => r.repoDigests.includes(w)));
        if (byDigest) return byDigest;
      } else {
        const id = m.tags().get(formatReference(ref));
        if (id) return m.get(id);
      }
    } catch {
      // not a reference: may still be an ID prefix
    }
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (!/^[a-f0-9]+$/.test(hex)) return undefined;
    const matches = m.list().filter((r) => r.id.slice(7).startsWith(hex));
    if (matches.length > 1) throw new InvalidArgument(`multiple IDs found with provided prefix: ${hex}`);
    return matches[0];
  }

  resolve(name: string): ImageRecord {
    const rec = this.find(name);
    if (!rec) throw new NotFound(`No such image: ${displayName(name)}`);
    return rec;
  }

  /** Familiar `repo:tag` strings of an image, sorted. */
  repoTags(id: Digest): string[] {
    const out: string[] = [];
    for (const [ref, target] of this.d.meta.tags()) if (target === id) out.push(familiarString(parseReference(ref)));
    return out.sort();
  }

  private tagIndex(): Map<Digest, string[]> {
    const index = new Map<Digest, string[]>();
    for (const [ref, id] of this.d.meta.tags()) {
      const list = index.get(id) ?? [];
      list.push(familiarString(parseReference(ref)));
      index.set(id, list);
    }
    return index;
  }

  tagMap(): ReadonlyMap<string, Digest> {
    return this.d.meta.tags();
  }

  /**
   * A blob, for `save` and `push`: from the content store, or a layer's tar made again from the files of a layer
   * that keeps its tar-split (a pulled or built layer), checked against its digest as it streams.
   */
  async blob(digest: Digest): Promise<BlobSource | undefined> {
    const stored = await this.d.content.info(digest);
    if (stored) return { size: stored.size, stored: true, open: () => this.d.content.open(digest) };
    for (const l of this.d.layers.list()) {
      if (l.diffId !== digest || !l.tarSplit) continue;
      const encoded = await this.d.layers.tarSplit(l.chainId).catch(() => undefined);
      if (!encoded) continue;
      const split = await decodeTarSplit(encoded);
      const root = this.d.layers.dirs(l.chainId).diff;
      return { size: split.size, stored: false, open: () => checkDigest(assembleTar(split, root), digest) };
    }
    return undefined;
  }

  /** A small blob (a config) whole. */
  blobBytes(digest: Digest): Promise<Buffer> {
    return this.d.content.read(digest);
  }

  /** Whether `blob` would find the layer tar `diffId` (without reading anything). */
  async hasLayerTar(diffId: Digest): Promise<boolean> {
    return this.d.layers.list().some((l) => l.diffId === diffId && l.tarSplit) || !!(await this.d.content.info(diffId));
  }

  /**
   * The image's config. Configs are content-addressed, so the last few read are kept, parsed and frozen (a caller
   * changing one would throw): a cached build asks for one per step, a `run` for its image's.
   */
  async config(rec: ImageRecord): Promise<ImageConfig> {
    const kept = this.configs.get(rec.id);
    if (kept) {
      this.configs.delete(rec.id); // most recently used last
      this.configs.set(rec.id, kept);
      return kept;
    }
    const config = deepFreeze(JSON.parse((await this.d.content.read(rec.id)).toString('utf8')) as ImageConfig);
    this.configs.set(rec.id, config);
    if (this.configs.size > keptConfigs) this.configs.delete(this.configs.keys().next().value as Digest);
    return config;
  }

  // ---- queries ---------------------------------------------------------------------------------------------

  list(opts: { all?: boolean; filters?: Filters } = {}): ImageSummary[] {
    const records = this.d.meta.list();
    const tags = this.tagIndex();
    const parents = new Set(records.map((r) => r.parent).filter((p): p is Digest => !!p));
    const byId = (name: string) => this.resolve(name);
    const out: ImageSummary[] = [];
    for (const rec of records) {
      const repoTags = (tags.get(rec.id) ?? []).sort();
      // Without -a, untagged parents of other images and the builder's cache are intermediates, and hidden.
      if (!opts.all && repoTags.length === 0 && (parents.has(rec.id) || rec.build?.intermediate)) continue;
      if (opts.filters && !matchImage(rec, repoTags, opts.filters, byId)) continue;
      const shown = opts.filters ? matchingTags(repoTags, opts.filters) : repoTags;
      out.push(imageSummary(rec, shown, this.d.containers.usedBy(rec.id).length));
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspect(name: string): Promise<ImageInspect> {
    const rec = this.resolve(name);
    const top = rec.chain.at(-1);
    const driver = top
      ? graphDriver(this.d.layers.dirs(top), this.d.layers.chainDiffDirs(top).slice(1))
      : { Name: 'overlay2', Data: {} };
    return imageInspect(rec, await this.config(rec), this.repoTags(rec.id), driver);
  }

  async history(name: string): Promise<HistoryItem[]> {
    const rec = this.resolve(name);
    const sizes = rec.chain.map((c) => this.d.layers.get(c)?.size ?? 0);
    const rows = imageHistory(rec, await this.config(rec), sizes, this.repoTags(rec.id));
    // Rows that are themselves local images (a parent chain from commit/build) show their ID and tags.
    let parent = rec.parent;
    for (let i = 1; i < rows.length && parent; i++) {
      const p = this.d.meta.get(parent);
      if (!p) break;
      const row = rows[i];
      if (row && rows.length - i === historyLength(await this.config(p))) {
        row.Id = p.id;
        const t = this.repoTags(p.id);
        row.Tags = t.length ? t : null;
        parent = p.parent;
      }
    }
    return rows;
  }

  /** For `system df`: per image, the bytes of its layers that at least one other image also uses. */
  sharedSizes(): Map<Digest, number> {
    const users = new Map<Digest, number>();
    const records = this.d.meta.list();
    for (const r of records) for (const c of r.chain) users.set(c, (users.get(c) ?? 0) + 1);
    return new Map(
      records.map((r) => [r.id, r.chain.reduce((n, c) => n + ((users.get(c) ?? 0) > 1 ? (this.d.layers.get(c)?.size ?? 0) : 0), 0)]),
    );
  }

  /** Layer bytes on disk, counted once however many images share them. */
  layersSize(): number {
    return this.d.layers.list().reduce((n, l) => n + l.size, 0);
  }

  // ---- tags and deletion -----------------------------------------------------------------------------------

  tag(source: string, repo: string, tag?: string): Promise<void> {
    return this.lock.run(async () => {
      const rec = this.resolve(source);
      const ref = withDefaultTag(parseReference(tag ? `${repo}:${tag}` : repo));
      if (ref.digest) throw new InvalidArgument('refusing to create a tag with a digest reference');
      await this.setTags(rec, [formatReference(ref)]);
      this.d.events.publish('image', 'tag', rec.id, { name: familiarString(ref) });
    });
  }

  /** Points refs at `rec` in one write and stamps LastTagTime. */
  private async setTags(rec: ImageRecord, refs: string[]): Promise<void> {
    if (refs.length === 0) return;
    await this.d.meta.updateTags(new Map(refs.map((r) => [r, rec.id])));
    await this.d.meta.put({ ...rec, lastTagTime: new Date().toISOString() });
  }

  remove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteItem[]> {
    return this.lock.run(() => this.removeLocked(name, opts));
  }

  private async removeLocked(name: string, opts: { force?: boolean; noprune?: boolean }): Promise<DeleteItem[]> {
    const rec = this.resolve(name);
    const refs = [...this.d.meta.tags()].filter(([, id]) => id === rec.id).map(([r]) => r);
    const named = this.namedRef(name, refs);
    const out: DeleteItem[] = [];
    const users = this.d.containers.usedBy(rec.id);

    if (named) {
      // Removing by reference: untag it; the image itself goes only when that was its last name.
      if (refs.length === 1 && users.length > 0 && !opts.force) {
        throw new Conflict(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(users[0] ?? '')} is using its referenced image ${shortId(rec.id)}`,
        );
      }
      await this.d.meta.updateTags(new Map([[named, undefined]]));
      const familiar = familiarString(parseReference(named));
      out.push({ Untagged: familiar });
      this.d.events.publish('image', 'untag', rec.id, { name: familiar });
      if (refs.length > 1) return out;
      // Images built on it keep it (as dockerd does, the name goes and the image stays, without an error).
      if (this.d.meta.list().some((r) => r.parent === rec.id)) return out;
    } else {
      if (refs.length > 1 && !opts.force) {
        throw new Conflict(
          `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      if (users.length > 0 && !opts.force) {
        throw new Conflict(
          `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is being used by stopped container ${shortId(users[0] ?? '')}`,
        );
      }
    }
    if (users.length > 0) {
      // Forced removal of an image a container uses: Docker untags it and keeps the image.
      return [...out, ...(await this.untagAll(rec, refs.filter((r) => r !== named)))];
    }
    if (this.d.meta.list().some((r) => r.parent === rec.id)) {
      throw new Conflict(`conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image has dependent child images`);
    }
    out.push(...(await this.untagAll(rec, refs.filter((r) => r !== named))));
    out.push(...(await this.deleteRecord(rec)));
    // As dockerd does: the parents left untagged and childless (a build's steps, a commit's base) go too.
    for (let p = rec.parent && !opts.noprune ? this.d.meta.get(rec.parent) : undefined; p && this.prunableParent(p); ) {
      out.push(...(await this.deleteRecord(p)));
      p = p.parent ? this.d.meta.get(p.parent) : undefined;
    }
    return out;
  }

  private prunableParent(rec: ImageRecord): boolean {
    return (
      ![...this.d.meta.tags().values()].includes(rec.id) &&
      !this.d.meta.list().some((r) => r.parent === rec.id) &&
      this.d.containers.usedBy(rec.id).length === 0
    );
  }

  /** The stored ref the user named, if the name was a reference rather than an ID. */
  private namedRef(name: string, refs: string[]): string | undefined {
    if (this.d.meta.get(name as Digest) || this.d.meta.get(`sha256:${name}` as Digest)) return undefined;
    try {
      const full = formatReference(withDefaultTag(parseReference(name)));
      return refs.includes(full) ? full : undefined;
    } catch {
      return undefined;
    }
  }

  private async untagAll(rec: ImageRecord, refs: string[]): Promise<DeleteItem[]> {
    if (refs.length === 0) return [];
    await this.d.meta.updateTags(new Map(refs.map((r) => [r, undefined])));
    return refs.map((r) => {
      const familiar = familiarString(parseReference(r));
      this.d.events.publish('image', 'untag', rec.id, { name: familiar });
      return { Untagged: familiar };
    });
  }

  /** Deletes an image record and sweeps the blobs and layers nothing else references. */
  private async deleteRecord(rec: ImageRecord): Promise<DeleteItem[]> {
    await this.d.meta.delete(rec.id);
    const before = new Set(this.d.layers.list().map((l) => l.chainId));
    await collectGarbage(this.d.meta, this.d.content, this.d.layers, [...this.d.containers.layerRoots(), ...this.pins.keys()], this.pins.keys());
    const removedLayers = [...before].filter((c) => !this.d.layers.get(c)).reverse();
    this.d.events.publish('image', 'delete', rec.id, { name: rec.id });
    return [{ Deleted: rec.id }, ...removedLayers.map((c) => ({ Deleted: c }))];
  }

  prune(opts: { all?: boolean; filters?: Filters } = {}): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    return this.lock.run(async () => {
      const before = this.layersSize();
      const deleted: DeleteItem[] = [];
      const { dangling: _ignored, ...filters } = opts.filters ?? {};
      // Children first, so parents become deletable in the same pass.
      let progress = true;
      while (progress) {
        progress = false;
        const tags = this.tagIndex();
        const parents = new Set(this.d.meta.list().map((r) => r.parent));
        for (const rec of this.d.meta.list()) {
          const repoTags = tags.get(rec.id) ?? [];
          if (!opts.all && repoTags.length > 0) continue;
          // Build cache is `builder prune`'s, as it is with BuildKit.
          if (repoTags.length === 0 && rec.build?.intermediate) continue;
          if (parents.has(rec.id) || this.d.containers.usedBy(rec.id).length > 0) continue;
          if (!matchImage(rec, repoTags, filters, (n) => this.resolve(n))) continue;
          const refs = [...this.d.meta.tags()].filter(([, id]) => id === rec.id).map(([r]) => r);
          deleted.push(...(await this.untagAll(rec, refs)), ...(await this.deleteRecord(rec)));
          progress = true;
        }
      }
      this.d.events.publish('image', 'prune', '', { reclaimed: String(before - this.layersSize()) });
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: before - this.layersSize() };
    });
  }

  // ---- build cache -----------------------------------------------------------------------------------------

  /** The image a build step with this cache key made, among `candidates` (default: every image). */
  findBuildStep(key: string, candidates?: ReadonlySet<Digest>): ImageRecord | undefined {
    return this.d.meta.list().find((r) => r.build?.key === key && (!candidates || candidates.has(r.id)));
  }

  /** An image and its ancestors (for `--cache-from`: only their steps are reused). */
  lineage(id: Digest): Digest[] {
    const out: Digest[] = [];
    for (let r = this.d.meta.get(id); r && !out.includes(r.id); r = r.parent ? this.d.meta.get(r.parent) : undefined) out.push(r.id);
    return out;
  }

  /** A build's result is an image of its own, no longer only cache (it may have been an intermediate step's). */
  markBuildResult(id: Digest): Promise<void> {
    return this.lock.run(async () => {
      const rec = this.d.meta.get(id);
      if (!rec?.build?.intermediate) return;
      await this.d.meta.put({ ...rec, build: { ...rec.build, intermediate: false } });
    });
  }

  /** The build cache as `system df` shows it: the intermediate images of builds, with the size of their own layer. */
  buildCache(): BuildCacheEntry[] {
    const tagged = new Set(this.d.meta.tags().values());
    const users = new Map<Digest, number>();
    const records = this.d.meta.list();
    for (const r of records) for (const c of r.chain) users.set(c, (users.get(c) ?? 0) + 1);
    return records
      .filter((r) => r.build?.intermediate && !tagged.has(r.id))
      .map((r) => {
        const parent = r.parent ? this.d.meta.get(r.parent) : undefined;
        const own = r.chain.at(-1) && r.chain.at(-1) !== parent?.chain.at(-1) ? (r.chain.at(-1) as Digest) : undefined;
        return {
          ID: r.id.slice(7, 7 + 25),
          Parents: r.parent ? [r.parent.slice(7, 7 + 25)] : null,
          Type: 'regular' as const,
          Description: r.build?.createdBy ?? '',
          InUse: this.d.containers.usedBy(r.id).length > 0,
          Shared: own ? (users.get(own) ?? 0) > 1 : false,
          Size: own ? (this.d.layers.get(own)?.size ?? 0) : 0,
          CreatedAt: r.created,
          LastUsedAt: null,
          UsageCount: 0,
        };
      });
  }

  /**
   * `builder prune`: removes the builds' intermediate images nothing stands on (children first); with `all`, also
   * those under other images, which then no longer name them as parent (their layers stay, the cache goes).
   */
  pruneBuildCache(o: { all?: boolean } = {}): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.lock.run(async () => {
      const before = this.layersSize();
      const deleted: string[] = [];
      const tagged = () => new Set(this.d.meta.tags().values());
      const isCache = (r: ImageRecord) => !!r.build?.intermediate && !tagged().has(r.id) && this.d.containers.usedBy(r.id).length === 0;
      if (o.all) {
        for (const child of this.d.meta.list()) {
          const parent = child.parent ? this.d.meta.get(child.parent) : undefined;
          if (parent && isCache(parent) && !isCache(child)) {
            const { parent: _dropped, ...rest } = child;
            await this.d.meta.put(rest);
          }
        }
      }
      for (let progress = true; progress; ) {
        progress = false;
        const parents = new Set(this.d.meta.list().map((r) => r.parent));
        for (const rec of this.d.meta.list()) {
          if (!isCache(rec) || parents.has(rec.id)) continue;
          await this.deleteRecord(rec);
          deleted.push(rec.id.slice(7, 7 + 25));
          progress = true;
        }
      }
      return { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: before - this.layersSize() };
    });
  }

  // ---- creating images -------------------------------------------------------------------------------------

  /** Runs `fn` under the image lock; on failure, blobs it ingested that no record uses are removed. */
  withIngestion<T>(fn: (ingest: Ingestion) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const ing = new Ingestion(this.d.content, this.pins, this.d.layers);
      try {
        return await fn(ing);
      } finally {
        ing.unpin();
        await this.dropUnreferenced(ing.touched);
      }
    });
  }

  /**
   * For long transfers (a pull): `fetch` runs without the image lock, so other image operations go on meanwhile;
   * the blobs it brings in are pinned, so no collection or cleanup sweeps them before `record`, which runs under
   * the lock with the same ingestion. Blobs no record ends up using are removed after, as withIngestion does.
   */
  async withDownloads<T, R>(fetch: (ingest: Ingestion) => Promise<T>, record: (ingest: Ingestion, fetched: T) => Promise<R>): Promise<R> {
    const ing = new Ingestion(this.d.content, this.pins, this.d.layers);
    try {
      const fetched = await fetch(ing);
      return await this.lock.run(() => record(ing, fetched));
    } finally {
      ing.unpin();
      await this.lock.run(async () => {
        await this.dropUnreferenced(ing.touched);
        await this.dropUnreferencedLayers(ing.unpacked);
      });
    }
  }

  /** Layers an operation unpacked that no image or container ended up on (a failed pull's), children first. */
  private async dropUnreferencedLayers(made: Digest[]): Promise<void> {
    if (made.length === 0) return;
    const live = new Set<Digest>(this.pins.keys());
    const mark = (top: Digest | undefined) => {
      for (let cur = top; cur && !live.has(cur); cur = this.d.layers.get(cur)?.parent) live.add(cur);
    };
    for (const r of this.d.meta.list()) mark(r.chain.at(-1));
    for (const c of this.d.containers.layerRoots()) mark(c);
    for (const c of [...made].reverse()) if (!live.has(c) && this.d.layers.get(c)) await this.d.layers.remove(c);
  }

  private async dropUnreferenced(blobs: Set<Digest>): Promise<void> {
    if (blobs.size === 0) return;
    const live = new Set<Digest>(this.pins.keys());
    for (const r of this.d.meta.list()) {
      live.add(r.id);
      for (const b of r.layerBlobs) live.add(b);
    }
    for (const b of blobs) if (!live.has(b)) await this.d.content.delete(b);
  }

  /**
   * Records an image whose layer blobs are in the content store: stores the config, unpacks each missing layer
   * into the layer store, writes the record. Called under the lock (from `withIngestion`). Tags are separate.
   */
  async createImage(img: NewImage, ing: Ingestion): Promise<ImageRecord> {
    const config = parseConfig(img.config);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== img.layerBlobs.length) {
      throw new InvalidArgument(`image config lists ${diffIds.length} layers but ${img.layerBlobs.length} were supplied`);
    }
    diffIds.forEach((d, i) => {
      if (img.layerBlobs[i] !== d) {
        throw new FailedPrecondition(`layer digest mismatch: layer ${i} has diff ID ${img.layerBlobs[i]}, config says ${d}`);
      }
    });
    const id = (await ing.put(img.config)).digest;
    const chain = chainIds(diffIds);
    // Layers unpack in parallel; the layer store commits each only after its parent.
    const created = await Promise.all(
      chain.map((chainId, i) =>
        this.d.layers.create(chainId, chain[i - 1], async (dir) =>
          img.prepared && i === chain.length - 1 && img.prepared.diffId === diffIds[i]
            ? { diffId: img.prepared.diffId, size: await adoptUpperDir(img.prepared.dir, dir), ...(img.prepared.tarSplit && { tarSplit: img.prepared.tarSplit }) }
            : this.unpackFrom(diffIds[i] as Digest, dir, ing),
        ),
      ),
    );
    const size = created.reduce((n, l) => n + l.size, 0);
    const existing = this.d.meta.get(id);
    const record: ImageRecord = {
      id,
      chain,
      layerBlobs: [...diffIds],
      size,
      created: config.created ?? new Date(0).toISOString(),
      labels: config.config?.Labels ?? {},
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...(img.repoDigests ?? [])])],
      ...((img.parent ?? existing?.parent) && { parent: img.parent ?? existing?.parent }),
      ...((img.tagged || existing?.lastTagTime) && { lastTagTime: img.tagged ? new Date().toISOString() : existing?.lastTagTime }),
      ...((img.build ?? existing?.build) && { build: img.build ?? existing?.build }),
    };
    await this.d.meta.put(record);
    return record;
  }

  /**
   * Unpacks a layer whose tar is stored or made from another layer's files. Made from files, the new layer keeps a
   * tar-split of its own, so that every image can make its tars from its own chain; should that fail, the tar is
   * stored instead.
   */
  private async unpackFrom(diffId: Digest, dir: string, ing: Ingestion): Promise<FilledLayer> {
    const src = await this.blob(diffId);
    if (!src) throw new NotFound(`layer ${diffId} not found`);
    if (src.stored) return applyLayer(src.open(), dir);
    const filled = await applyLayerWithSplit(src.open(), dir);
    if (!filled.tarSplit) await ing.ingest(src.open(), { digest: diffId });
    return filled;
  }

  /**
   * Points refs (fully qualified) at images created with `tagged: true`, in one write, and returns docker's
   * notices for tags that moved off another image. Under the lock.
   */
  async retag(assignments: Map<string, Digest>): Promise<string[]> {
    const messages: string[] = [];
    for (const [r, id] of assignments) {
      const previous = this.d.meta.tags().get(r);
      if (previous && previous !== id) {
        messages.push(
          `The image ${familiarString(parseReference(r))} already exists, renaming the old one with ID ${previous} to empty string`,
        );
      }
    }
    // a rebuild tags the image the tag already names: no write (and no fsync) for nothing
    const changes = new Map([...assignments].filter(([r, id]) => this.d.meta.tags().get(r) !== id));
    if (changes.size) await this.d.meta.updateTags(changes);
    return messages;
  }

  publish(action: string, id: string, name?: string): void {
    this.d.events.publish('image', action, id, name ? { name } : {});
  }
}

/**
 * The blobs one operation brings into the content store; those no record ends up using are deleted when the
 * operation ends (successful or not), so a failed load leaves nothing behind.
 */
export class Ingestion {
  readonly touched = new Set<Digest>();
  /** Layers (chain IDs) unpacked by `unpackLayer`, pinned as the blobs are, in the order they were started. */
  readonly unpacked: Digest[] = [];
  constructor(
    private readonly content: ContentStore,
    private readonly pins: Map<Digest, number>,
    private readonly layers?: LayerStore,
  ) {}

  private pin(d: Digest): void {
    this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
  }

  async ingest(source: Readable | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, expected?: { digest?: Digest; size?: number }) {
    const info = await this.content.ingest(source, expected);
    if (!this.touched.has(info.digest)) {
      this.touched.add(info.digest);
      this.pin(info.digest);
    }
    return info;
  }

  /** The operation is over: its blobs are the records' to keep, or the cleanup's to take. */
  unpin(): void {
    for (const d of [...this.touched, ...this.unpacked]) {
      const n = (this.pins.get(d) ?? 1) - 1;
      if (n > 0) this.pins.set(d, n);
      else this.pins.delete(d);
    }
  }

  put(data: Uint8Array, expected?: { digest?: Digest }) {
    return this.ingest([data], expected);
  }

  /** Stores a layer as its uncompressed tar (gzip and zstd are undone), returning the diff ID. */
  async ingestLayer(source: Readable): Promise<Digest> {
    return (await this.ingest(decompress(source))).digest;
  }

  /**
   * Unpacks a layer (a download) into the layer store as `chainId` in one pass, keeping a tar-split instead of
   * the tar: the bytes are decompressed and hashed once and written once, as files. The layer is committed only if
   * its diff ID makes that chain ID; `diffId` is what the bytes made, either way. `keptTar` is false when the tar
   * cannot be made again from the files (a path written twice in one layer, say): the caller stores it then.
   * Callers check first that the layer is neither stored nor being made and that its parent is or soon will be
   * (`canUnpack`).
   */
  async unpackLayer(source: Readable, unpack: { chainId: Digest; parent: Digest | undefined }): Promise<{ diffId: Digest; keptTar: boolean }> {
    const layers = this.layers;
    if (!layers) return { diffId: await this.ingestLayer(source), keptTar: true };
    this.pin(unpack.chainId);
    this.unpacked.push(unpack.chainId);
    let diffId: Digest | undefined;
    let keptTar = false;
    try {
      await layers.create(unpack.chainId, unpack.parent, async (dir) => {
        const filled = await applyLayerWithSplit(source, dir);
        diffId = filled.diffId;
        keptTar = !!filled.tarSplit;
        return filled;
      });
    } catch (e) {
      // A tar that is not the layer the chain names: the caller's diff ID check says so in its words.
      if (!(diffId && e instanceof FailedPrecondition)) throw e;
      return { diffId, keptTar: true };
    }
    // Made meanwhile by another (its fill never ran): the bytes are stored as a plain layer.
    if (!diffId) return { diffId: await this.ingestLayer(source), keptTar: true };
    return { diffId, keptTar };
  }

  /** Whether `unpackLayer` may unpack `chainId` as it stores it: not there yet, and its parent there or coming. */
  canUnpack(chainId: Digest, parent: Digest | undefined): boolean {
    return !!this.layers && !this.layers.has(chainId) && (!parent || this.layers.has(parent));
  }

  /**
   * The uncompressed layer tar for a stored blob: the blob itself when it is a plain tar (its digest is then the
   * diff ID), else a decompressed copy.
   */
  async layerFromBlob(blob: Digest): Promise<Digest> {
    const head = await readHead(this.content.open(blob), 4);
    if (detectCompression(head) === 'none') return blob;
    return this.ingestLayer(this.content.open(blob));
  }

  read(digest: Digest): Promise<Buffer> {
    return this.content.read(digest);
  }
}

/** A blob to read: its size, and whether the content store holds it or it is made again from a layer's files. */
export interface BlobSource {
  size: number;
  stored: boolean;
  open(): Readable;
}

/** Passes `source` on, failing at its end if its bytes are not `digest`'s (a layer's files changed under it). */
function checkDigest(source: Readable, digest: Digest): Readable {
  const hash = sha256Stream();
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      passOn(hash.update(chunk), chunk, cb);
    },
    flush(cb) {
      hash.digest().then((hex) => {
        const got = `sha256:${hex}`;
        cb(got === digest ? null : new Internal(`layer ${digest} cannot be made again from its files: they make ${got}`));
      }, cb);
    },
  });
  source.once('error', (e) => out.destroy(e));
  return source.pipe(out);
}

export function parseConfig(bytes: Uint8Array): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(Buffer.from(bytes).toString('utf8')) as ImageConfig;
  } catch {
    throw new InvalidArgument('invalid image config: not JSON');
  }
  const ids = config?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every(isDigest)) throw new InvalidArgument('invalid image config: bad rootfs.diff_ids');
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string') {
    throw new InvalidArgument('invalid image config: missing os or architecture');
  }
  return config;
}

function historyLength(c: ImageConfig): number {
  return c.history?.length || c.rootfs.diff_ids.length;
}


async function readHead(stream: Readable, n: number): Promise<Buffer> {
  let head = Buffer.alloc(0);
  for await (const chunk of stream) {
    head = Buffer.concat([head, chunk as Buffer]);
    if (head.length >= n) break;
  }
  stream.destroy();
  return head.subarray(0, n);
}

/** How Docker names a missing image: a reference in its familiar form with the default tag, else as given. */
function displayName(name: string): string {
  try {
    const ref = parseReference(name);
    return ref.tag || ref.digest || /^[a-f0-9]+$/.test(name) ? name : familiarString(withDefaultTag(ref));
  } catch {
    return name;
  }
}

/** How many parsed image configs ImageService keeps. */
const keptConfigs = 256;

/** `value` and everything in it made read-only. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
