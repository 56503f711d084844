import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mount, overlayMount, unmount } from '../../kernel/mount.js';
import { sha256Stream } from '../../util/hash-thread.js';
import { type LayerStore, TarSplitter, emptyLayerDiffId, encodeTarSplit, layerTar, packLayer } from '../../layers/index.js';
import type { BuildStamp, ImageRecord } from '../../metadata/index.js';
import type { Digest, ImageConfig } from '../../oci/index.js';
import type { ImageService } from '../images/index.js';

/**
 * A build step's writable layer over an image's layers, mounted in `dir` for the duration of `fn` without a
 * container (COPY/ADD, WORKDIR, and COPY --from's source, read only): containerd's snapshot, as the builder needs
 * no process there. The changes stay in `dir/upper` for `commitUpper`.
 */
export async function withSnapshot<T>(layers: LayerStore, dir: string, top: Digest | undefined, fn: (root: string) => Promise<T>): Promise<T> {
  const [upper, work, merged, empty] = ['upper', 'work', 'merged', 'empty'].map((n) => join(dir, n)) as [string, string, string, string];
  await Promise.all([upper, work, merged, empty].map((d) => mkdir(d, { recursive: true, mode: 0o755 })));
  // overlayfs wants a lower directory: a `FROM scratch` stage's is empty. `volatile`: the unmount would otherwise
  // sync the whole filesystem under the upper directory (the context just unpacked included); what is kept of the
  // snapshot is the layer tar, which the content store syncs itself.
  const m = overlayMount(top ? layers.chainDiffDirs(top) : [empty], upper, work);
  await mount({ ...m, options: [...m.options, 'volatile'] }, merged);
  try {
    return await fn(merged);
  } finally {
    await unmount(merged);
  }
}

/**
 * A step's changes (an overlay upper directory no longer mounted: a snapshot's, or an exited RUN container's) as
 * one layer on `parent`, in the image `image` describes around it (`diffId` undefined when nothing changed). The
 * directory itself becomes the layer, moved rather than unpacked again, and keeps a tar-split of the layer's tar
 * instead of the tar (which goes to the content store only when no split can be made).
 */
export function commitUpper(
  images: ImageService,
  upper: string,
  parent: Digest | undefined,
  image: (diffId: Digest | undefined) => ImageConfig,
  build: BuildStamp,
): Promise<ImageRecord> {
  return images.withIngestion(async (ing) => {
    // The tar is hashed, not stored: the directory becomes the layer, and its tar-split makes the tar again.
    // Each chunk is used before the next is read: the file data can come in one reused buffer.
    const split = new TarSplitter();
    const hash = sha256Stream();
    for await (const c of layerTar(upper, { overlayWhiteouts: true, split, reuseBuffer: true })) {
      split.observe(c);
      await hash.update(c);
    }
    const diffId: Digest = `sha256:${await hash.digest()}`;
    const made = split.result();
    if (!made) await ing.ingest(packLayer(upper, { overlayWhiteouts: true }), { digest: diffId });
    const empty = diffId === emptyLayerDiffId;
    const config = image(empty ? undefined : diffId);
    return images.createImage(
      {
        config: Buffer.from(JSON.stringify(config)),
        layerBlobs: config.rootfs.diff_ids,
        ...(parent && { parent }),
        build,
        ...(!empty && { prepared: { diffId, dir: upper, ...(made && { tarSplit: await encodeTarSplit(made) }) } }),
      },
      ing,
    );
  });
}
