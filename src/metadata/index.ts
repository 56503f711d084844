import { join } from 'node:path';
import { atomicWriteFile, readJsonFile } from '../kernel/fs.js';
import { type Digest, digestHex, isDigest } from '../oci/index.js';
import { openRecordStore } from './records.js';

/** What Berth records about an image beyond its config blob (which lives in the content store). */
export interface ImageRecord {
  /** The image ID: digest of the config blob. */
  id: Digest;
  /** Chain IDs of the image's layers, bottom first. */
  chain: Digest[];
  /** Digest of each layer's uncompressed tar in the content store (equal to its diff ID). */
  layerBlobs: Digest[];
  /** Sum of the layers' sizes. */
  size: number;
  /** From the config, cached so listing 1,000 images reads no blob. */
  created: string;
  labels: Record<string, string>;
  /** The local image this one was built or committed from, if any. */
  parent?: Digest;
  /** `repo@sha256:…` digests under which registries know this image. */
  repoDigests: string[];
  /** When the image was last tagged (Docker's Metadata.LastTagTime). */
  lastTagTime?: string;
  /** Made by a build step: the step's cache key, and whether it is only cache (no build's result). */
  build?: BuildStamp;
}

/** What the builder records on the images its steps make (see services/build/cache.ts). */
export interface BuildStamp {
  key: string;
  /** An intermediate step's image: hidden from `images` (unless -a), counted and pruned as build cache. */
  intermediate: boolean;
  /** The step's history line, for `system df`'s build cache description. */
  createdBy: string;
}

/**
 * The state store for images: one record file per image under `images/`, and the tag map in `repositories.json`.
 *
 * Every write is an atomic file replace (temp + fsync + rename + dir fsync), so after a crash each record is the
 * old or the new version. Cross-record consistency (a tag naming a deleted image, a layer no record uses) is
 * restored by the garbage collector at start-up, which treats records and tags as the roots.
 * Reads are served from memory; the files are read once at open.
 */
export interface ImageMetadata {
  get(id: Digest): ImageRecord | undefined;
  list(): ImageRecord[];
  put(record: ImageRecord): Promise<void>;
  delete(id: Digest): Promise<void>;
  /** Fully qualified reference (`docker.io/library/busybox:latest` or `…@sha256:…`) → image ID. */
  tags(): ReadonlyMap<string, Digest>;
  /** Applies tag additions (ref → id) and removals (ref → undefined) in one atomic write. */
  updateTags(changes: Map<string, Digest | undefined>): Promise<void>;
}

export async function openImageMetadata(root: string): Promise<ImageMetadata> {
  const records = await openRecordStore<ImageRecord>(join(root, 'images'), (id) => (isDigest(id) ? digestHex(id) : ''));
  const tagsFile = join(root, 'repositories.json');
  const tags = new Map<string, Digest>(Object.entries((await readJsonFile<Record<string, Digest>>(tagsFile)) ?? {}));
  return {
    get: (id) => records.get(id),
    list: () => records.list(),
    put: (record) => records.put(record),
    delete: (id) => records.delete(id),
    tags: () => tags,
    async updateTags(changes) {
      const next = new Map(tags);
      for (const [ref, id] of changes) {
        if (id) next.set(ref, id);
        else next.delete(ref);
      }
      await atomicWriteFile(tagsFile, JSON.stringify(Object.fromEntries(next)));
      tags.clear();
      for (const [k, v] of next) tags.set(k, v);
    },
  };
}
