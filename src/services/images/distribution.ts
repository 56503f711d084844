import { atomicWriteFile, readJsonFile } from '../../kernel/fs.js';
import type { Digest } from '../../oci/index.js';
import { Mutex } from '../../util/mutex.js';

/** A layer as registries hold it: the compressed blob that came from (or was made of) an uncompressed tar. */
export interface KnownBlob {
  digest: Digest;
  size: number;
  /** `registry/path` of the repositories known to have it. */
  repos: Set<string>;
}

/**
 * Which registry blob each layer (by diff ID) is, and where it is (dockerd's v2metadata): kept from pulls and
 * pushes in one file, so that after a restart a push still finds a layer with a `HEAD`, or mounts it from a sibling
 * repository, without compressing and uploading it again. Lost or torn, it only costs uploads.
 */
export class DistributionMetadata {
  private readonly lock = new Mutex();

  private constructor(
    private readonly file: string,
    private readonly known: Map<Digest, KnownBlob>,
  ) {}

  static async open(file: string): Promise<DistributionMetadata> {
    const saved = (await readJsonFile<Record<string, { digest: Digest; size: number; repos: string[] }>>(file).catch(() => undefined)) ?? {};
    const known = new Map<Digest, KnownBlob>();
    for (const [diffId, b] of Object.entries(saved)) {
      if (b && typeof b.digest === 'string' && typeof b.size === 'number' && Array.isArray(b.repos)) known.set(diffId as Digest, { digest: b.digest, size: b.size, repos: new Set(b.repos) });
    }
    return new DistributionMetadata(file, known);
  }

  get(diffId: Digest): KnownBlob | undefined {
    return this.known.get(diffId);
  }

  /** Records that `repo` has `blob` for the layer `diffId` (the same tar always compresses to one blob here). */
  add(diffId: Digest, blob: { digest: Digest; size: number }, repo: string): void {
    const entry = this.known.get(diffId);
    if (entry && entry.digest === blob.digest) entry.repos.add(repo);
    else this.known.set(diffId, { ...blob, repos: new Set([repo]) });
  }

  /** Writes what is known (after a pull or push; one write at a time). */
  save(): Promise<void> {
    return this.lock.run(() =>
      atomicWriteFile(this.file, JSON.stringify(Object.fromEntries([...this.known].map(([d, b]) => [d, { digest: b.digest, size: b.size, repos: [...b.repos] }])))),
    );
  }
}
