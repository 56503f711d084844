// A container's filesystem: an overlay of its own upper directory over a shared init layer and its image's layers,
// mounted while it runs and, for `cp`/`export`/`commit` of a stopped container, for the duration of the request.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { contentSize } from '../../kernel/fs.js';
import { mount, unmount } from '../../kernel/mount.js';
import type { LayerStore } from '../../layers/index.js';
import type { InitLayers } from './etc.js';
import type { ContainerRecord } from './record.js';

export interface RootfsDirs {
  upper: string;
  work: string;
  merged: string;
  /** Overlay's lowerdir order: the init layer, then the image's layers, top first. */
  lower: string[];
  /** The image's layers alone (inspect's GraphDriver). */
  image: string[];
}

export class ContainerRootfs {
  constructor(
    private readonly layers: LayerStore,
    private readonly initLayers: InitLayers,
    private readonly dataDir: (id: string) => string,
  ) {}

  dirs(c: ContainerRecord): RootfsDirs {
    const dir = this.dataDir(c.id);
    const image = c.topLayer ? this.layers.chainDiffDirs(c.topLayer) : [];
    const lower = c.initLayer ? [this.initLayers.path(c.initLayer), ...image] : image;
    return { upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged'), lower, image };
  }

  /** Mounts the container's root (read-only for a request that only reads it), as the layer store describes it. */
  async mount(c: ContainerRecord, o: { readonly?: boolean } = {}): Promise<void> {
    const { upper, work } = this.dirs(c);
    const between = c.initLayer ? [this.initLayers.path(c.initLayer)] : [];
    // A scratch container (a build's RUN) skips the sync of the whole filesystem its unmount would do; its changes
    // are kept as a layer tar the content store syncs. A volatile mount leaves a mark its next mount must clear.
    if (c.scratch) await rm(join(work, 'incompat'), { recursive: true, force: true });
    const extra = [...(o.readonly ? ['ro'] : []), ...(c.scratch ? ['volatile'] : [])];
    for (const m of this.layers.mounts(c.topLayer, { upper, work }, between)) {
      await mount({ ...m, options: [...m.options, ...extra] }, this.merged(c.id));
    }
  }

  unmount(id: string): Promise<void> {
    return unmount(this.merged(id));
  }

  merged(id: string): string {
    return join(this.dataDir(id), 'merged');
  }

  /** Bytes the container wrote. */
  written(c: ContainerRecord): Promise<number> {
    return contentSize(this.dirs(c).upper);
  }

  /** `diff`: what the container changed against its image, from its upper directory (0 changed, 1 added, 2 deleted). */
  async changes(c: ContainerRecord): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    const { upper, lower } = this.dirs(c);
    const out: Array<{ Path: string; Kind: 0 | 1 | 2 }> = [];
    const inLower = async (rel: string) => {
      for (const l of lower) if (await lstat(join(l, rel)).then(() => true, () => false)) return true;
      return false;
    };
    const walk = async (rel: string): Promise<void> => {
      for (const e of (await readdir(join(upper, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = `${rel}/${e.name}`;
        const st = await lstat(join(upper, path));
        if (st.isCharacterDevice() && st.rdev === 0) {
          out.push({ Path: path, Kind: 2 });
          continue;
        }
        out.push({ Path: path, Kind: (await inLower(path)) ? 0 : 1 });
        if (e.isDirectory()) await walk(path);
      }
    };
    await walk('');
    return out;
  }
}
