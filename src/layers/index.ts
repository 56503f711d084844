import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPrecondition, NotFound } from '../errors/index.js';
import { atomicWriteFile, ensureDir, fsyncDir, readJsonFile, removeAll } from '../kernel/fs.js';
import { type Mount, overlayMount } from '../kernel/mount.js';
import { type Digest, chainIds, digestHex } from '../oci/index.js';
import { failpoint } from '../util/failpoint.js';

export { adoptUpperDir } from './adopt.js';
export {
  applyLayer,
  applyLayerWithSplit,
  assembleTar,
  createLayerGzip,
  type GzipStats,
  decodeTarSplit,
  decompress,
  detectCompression,
  encodeTarSplit,
  extractInRoot,
  layerTar,
  packInRoot,
  packLayer,
  type ExtractOptions,
  type TarSplit,
  TarSplitter,
} from './archive/index.js';

/** A read-only image layer as stored: its identity (chain ID) and content identity (diff ID). */
export interface LayerInfo {
  chainId: Digest;
  diffId: Digest;
  parent?: Digest;
  /** Bytes of file content in this layer alone (what Docker counts as the layer's size). */
  size: number;
  /** Its tar can be made again from its files (`tarSplit`): the content store need not hold it. */
  tarSplit?: boolean;
}

/** What a layer's `fill` made: its diff ID and size, and the tar-split when the tar is not stored elsewhere. */
export interface FilledLayer {
  diffId: Digest;
  size: number;
  tarSplit?: Buffer;
}

/** overlay2-style directories of one layer; they exist on disk for every committed layer. */
export interface LayerDirs {
  diff: string;
  work: string;
  merged: string;
}

/**
 * The layer store: read-only layers unpacked once each, in `overlay2/<chain-id hex>/diff`, shared by every image
 * whose chain contains them (ten images on one base store the base once).
 *
 * Lifecycle: `create` unpacks into a private temporary directory and renames it into place only when the content
 * is complete and its diff ID verified, so a layer is either wholly present or absent; temporaries left by a crash
 * are removed by `reclaim` at start-up. `remove` is called by the garbage collector once no image references the
 * layer. The layers are never written to: containers (later) stack a writable upper directory over them.
 */
export interface LayerStore {
  get(chainId: Digest): LayerInfo | undefined;
  /** Whether the layer is stored or being created (a `create` of it now would not call its `fill`). */
  has(chainId: Digest): boolean;
  list(): LayerInfo[];
  /**
   * Returns the layer `chainId`, creating it if needed: `fill` unpacks the layer into the empty `diffDir` given and
   * returns the diff ID it computed, which must match the chain ID (else FailedPrecondition, nothing kept).
   * Concurrent creates of one chain ID share one unpack.
   */
  create(
    chainId: Digest,
    parent: Digest | undefined,
    fill: (diffDir: string) => Promise<FilledLayer>,
  ): Promise<LayerInfo>;
  /** The layer's tar-split (encoded), if it has one. */
  tarSplit(chainId: Digest): Promise<Buffer | undefined>;
  remove(chainId: Digest): Promise<void>;
  dirs(chainId: Digest): LayerDirs;
  /** Diff directories of the chain ending at `chainId`, top layer first (overlay's lowerdir order). */
  chainDiffDirs(chainId: Digest): string[];
  /**
   * The mount of a writable layer (its `upper` and `work` directories) over the chain ending at `parent`, with
   * `between` (read-only directories, top first) in between: containerd's snapshotter `Mounts`, as a value the
   * caller mounts or hands to the runtime.
   */
  mounts(parent: Digest | undefined, rw: { upper: string; work: string }, between?: string[]): Mount[];
  /** Removes unpack temporaries left by a crash. */
  reclaim(): Promise<number>;
}

/** The diff ID of a layer without a single entry (a tar of only its end marker), which Docker never records. */
export const emptyLayerDiffId: Digest = `sha256:${createHash('sha256').update(Buffer.alloc(1024)).digest('hex')}`;

const metaFile = 'layer.json';
const tarSplitFile = 'tar-split.gz';
const tmpPrefix = '.tmp-';

export async function openLayerStore(root: string): Promise<LayerStore> {
  await ensureDir(root);
  const layers = new Map<Digest, LayerInfo>();
  const inflight = new Map<Digest, Promise<LayerInfo>>();
  let seq = 0;

  for (const name of await readdir(root)) {
    if (name.startsWith(tmpPrefix)) continue;
    const info = await readJsonFile<LayerInfo>(join(root, name, metaFile));
    if (info && digestHex(info.chainId) === name) layers.set(info.chainId, info);
  }

  const dirOf = (chainId: Digest) => join(root, digestHex(chainId));

  async function doCreate(chainId: Digest, parent: Digest | undefined, fill: (d: string) => Promise<FilledLayer>) {
    const tmp = join(root, `${tmpPrefix}${process.pid}-${++seq}`);
    try {
      await mkdir(join(tmp, 'diff'), { recursive: true, mode: 0o755 });
      await mkdir(join(tmp, 'work'), { mode: 0o700 });
      await mkdir(join(tmp, 'merged'), { mode: 0o700 });
      const { diffId, size, tarSplit } = await fill(join(tmp, 'diff'));
      const expected = chainIds(parent ? [parent, diffId] : [diffId]).at(-1);
      if (expected !== chainId) {
        throw new FailedPrecondition(`layer digest mismatch: content has diff ID ${diffId}, expected chain ID ${chainId}`);
      }
      const info: LayerInfo = { chainId, diffId, ...(parent && { parent }), size, ...(tarSplit && { tarSplit: true }) };
      if (tarSplit) await atomicWriteFile(join(tmp, tarSplitFile), tarSplit);
      await atomicWriteFile(join(tmp, metaFile), JSON.stringify(info));
      // Unpacking may run beside the parent's; committing waits for it, so no layer is ever visible without its parent.
      if (parent && !layers.has(parent)) await inflight.get(parent)?.catch(() => {});
      if (parent && !layers.has(parent)) throw new NotFound(`parent layer ${parent} not found`);
      await failpoint('layers.commit');
      await rename(tmp, dirOf(chainId));
      await fsyncDir(root);
      layers.set(chainId, info);
      return info;
    } catch (e) {
      await removeAll(tmp);
      throw e;
    }
  }

  const store: LayerStore = {
    get: (chainId) => layers.get(chainId),
    has: (chainId) => layers.has(chainId) || inflight.has(chainId),
    list: () => [...layers.values()],
    create(chainId, parent, fill) {
      const existing = layers.get(chainId);
      if (existing) return Promise.resolve(existing);
      let p = inflight.get(chainId);
      if (!p) {
        p = doCreate(chainId, parent, fill).finally(() => inflight.delete(chainId));
        inflight.set(chainId, p);
      }
      return p;
    },
    async tarSplit(chainId) {
      if (!layers.get(chainId)?.tarSplit) return undefined;
      return readFile(join(dirOf(chainId), tarSplitFile));
    },
    async remove(chainId) {
      if (!layers.delete(chainId)) return;
      // Rename first so a crash mid-delete leaves a temporary (reclaimed at start) rather than a torn layer.
      const doomed = join(root, `${tmpPrefix}rm-${digestHex(chainId)}`);
      await rename(dirOf(chainId), doomed);
      await removeAll(doomed);
    },
    dirs(chainId) {
      const dir = dirOf(chainId);
      return { diff: join(dir, 'diff'), work: join(dir, 'work'), merged: join(dir, 'merged') };
    },
    chainDiffDirs(chainId) {
      const out: string[] = [];
      for (let cur: Digest | undefined = chainId; cur; cur = layers.get(cur)?.parent) {
        if (!layers.has(cur)) throw new NotFound(`layer ${cur} not found`);
        out.push(join(dirOf(cur), 'diff'));
      }
      return out;
    },
    mounts(parent, rw, between = []) {
      return [overlayMount([...between, ...(parent ? store.chainDiffDirs(parent) : [])], rw.upper, rw.work)];
    },
    async reclaim() {
      const stale = (await readdir(root)).filter((n) => n.startsWith(tmpPrefix));
      await Promise.all(stale.map((n) => removeAll(join(root, n))));
      return stale.length;
    },
  };
  return store;
}
