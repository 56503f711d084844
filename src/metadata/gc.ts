import type { ContentStore } from '../content/index.js';
import type { LayerStore } from '../layers/index.js';
import type { Digest } from '../oci/index.js';
import type { ImageMetadata } from './index.js';

export interface GcResult {
  blobsRemoved: number;
  layersRemoved: number;
  recordsRemoved: number;
  tagsRemoved: number;
  bytesReclaimed: number;
}

/**
 * Mark-and-sweep over the stores, rooted at the image records (and, later, containers' layer references passed
 * in `extraLayerRoots`). An image record whose config blob or layers are missing (a crash between writes) is
 * itself dropped, then tags naming no record. Whatever nothing references is deleted. The caller must hold the
 * image-store lock so no write is in flight.
 */
export async function collectGarbage(
  meta: ImageMetadata,
  content: ContentStore,
  layers: LayerStore,
  extraLayerRoots: Iterable<Digest> = [],
  /** Blobs an operation in flight holds (a pull downloading without the image lock). */
  pinnedBlobs: Iterable<Digest> = [],
): Promise<GcResult> {
  const result: GcResult = { blobsRemoved: 0, layersRemoved: 0, recordsRemoved: 0, tagsRemoved: 0, bytesReclaimed: 0 };
  const blobs = new Map((await content.list()).map((b) => [b.digest, b.size]));

  for (const rec of meta.list()) {
    const complete =
      blobs.has(rec.id) &&
      rec.chain.every((c) => layers.get(c)) &&
      // a layer's tar is stored, or its layer can make it again (a pulled layer's tar-split)
      rec.layerBlobs.every((b, i) => blobs.has(b) || layers.get(rec.chain[i] as Digest)?.tarSplit);
    if (!complete) {
      await meta.delete(rec.id);
      result.recordsRemoved++;
    }
  }
  const danglingTags = new Map<string, undefined>();
  for (const [ref, id] of meta.tags()) if (!meta.get(id)) danglingTags.set(ref, undefined);
  if (danglingTags.size) {
    await meta.updateTags(danglingTags);
    result.tagsRemoved = danglingTags.size;
  }

  const liveBlobs = new Set<Digest>(pinnedBlobs);
  const liveLayers = new Set<Digest>();
  const markChain = (top: Digest) => {
    for (let cur: Digest | undefined = top; cur && !liveLayers.has(cur); cur = layers.get(cur)?.parent) liveLayers.add(cur);
  };
  for (const rec of meta.list()) {
    liveBlobs.add(rec.id);
    for (const b of rec.layerBlobs) liveBlobs.add(b);
    const top = rec.chain.at(-1);
    if (top) markChain(top);
  }
  for (const l of extraLayerRoots) markChain(l);

  for (const [digest, size] of blobs) {
    if (liveBlobs.has(digest)) continue;
    await content.delete(digest);
    result.blobsRemoved++;
    result.bytesReclaimed += size;
  }
  // Children before parents, so a crash mid-sweep never leaves a layer whose parent is gone.
  const doomed = layers.list().filter((l) => !liveLayers.has(l.chainId));
  const depth = (l: Digest) => {
    let n = 0;
    for (let cur: Digest | undefined = l; cur; cur = layers.get(cur)?.parent) n++;
    return n;
  };
  doomed.sort((a, b) => depth(b.chainId) - depth(a.chainId));
  for (const l of doomed) {
    await layers.remove(l.chainId);
    result.layersRemoved++;
    result.bytesReclaimed += l.size;
  }
  return result;
}
