import type { Readable } from 'node:stream';
import { InvalidArgument } from '../../errors/index.js';
import { type ContainerConfig, type ImageConfig, formatReference, familiarString, parseReference, withDefaultTag } from '../../oci/index.js';
import { applyChange } from '../../builder/index.js';
import type { ImageService } from './index.js';

export interface ImportOptions {
  /** `repo` or `repo:tag` to tag the result with. */
  repo?: string;
  tag?: string;
  /** Dockerfile instructions applied to the config (`--change`): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, … */
  changes?: string[];
  message?: string;
  /** What the history says it was imported from: `-` for stdin, else the URL or file. */
  source?: string;
  /** Fixed creation time (for reproducible base images); default now. */
  created?: string;
}

export const hostArchitecture = process.arch === 'x64' ? 'amd64' : process.arch;

/**
 * `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image. The tag is validated
 * before any byte is read, so a bad name fails fast and stores nothing.
 */
export async function importImage(images: ImageService, input: Readable, opts: ImportOptions): Promise<string> {
  const ref = opts.repo ? withDefaultTag(parseReference(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo)) : undefined;
  if (ref?.digest) throw new InvalidArgument('cannot import with a digest reference');
  const container = applyChanges({}, opts.changes ?? []);
  return images.withIngestion(async (ing) => {
    const diffId = await ing.ingestLayer(input);
    const created = opts.created ?? new Date().toISOString();
    const config: ImageConfig = {
      architecture: hostArchitecture,
      os: 'linux',
      created,
      config: container,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, comment: opts.message || `Imported from ${opts.source ?? '-'}` }],
    };
    const rec = await images.createImage({ config: Buffer.from(JSON.stringify(config)), layerBlobs: [diffId], tagged: !!ref }, ing);
    if (ref) await images.retag(new Map([[formatReference(ref), rec.id]]));
    images.publish('import', rec.id, ref ? familiarString(ref) : undefined);
    return rec.id;
  });
}

/**
 * Applies `--change` instructions (the subset docker import/commit accept) to a container config, each as the
 * builder evaluates that instruction, with its checks and messages.
 */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  return changes.reduce((config, change) => applyChange(config, change), base);
}
