import { stat } from 'node:fs/promises';
import type { ContentStore } from '../../content/index.js';
import { type Digest, isDigest } from '../../oci/index.js';
import type { Logger } from '../../util/logger.js';
import { Mutex } from '../../util/mutex.js';
import { subjectOf } from './manifests.js';
import type { RegistryStorage } from './storage.js';

/**
 * Garbage collection: mark, then sweep.
 *
 * Mark: every blob linked by any repository (`_layers`), every manifest linked by any repository (or, with
 * `deleteUntagged`, only those reachable from a tag: tagged manifests, the children of kept indexes, and
 * referrers whose subject is kept), and every blob a kept manifest names (config, layers, children, subject).
 * Sweep: content-store blobs nobody marked. Upload sessions (`uploads/`) and ingests in progress are not in the
 * content store's blob list, so they are never touched.
 *
 * Racing with pushes: a blob is written (ingest) before it is linked, so a sweep between the two would delete a
 * blob about to be linked. Two defences:
 *  - the grace period: blobs, links and manifests written less than `graceMs` ago are kept. Enough for a
 *    separate process (the `garbage-collect` command) as long as pushes finish within it;
 *  - inside the server, the `GcGuard`: every handler calls `protect(digest)` before it ingests or links a digest;
 *    while a collection runs, a protected digest is never deleted, and a digest whose deletion is under way is
 *    waited for (the push then writes it afresh). JavaScript runs one callback at a time, so the check and the
 *    start of the unlink cannot interleave with a `protect`.
 */
export class GcGuard {
  private touched: Set<Digest> | undefined;
  private readonly deleting = new Map<Digest, Promise<unknown>>();
  readonly mutex = new Mutex();

  async protect(...digests: (Digest | undefined)[]): Promise<void> {
    for (const d of digests) {
      if (!d) continue;
      this.touched?.add(d);
      const pending = this.deleting.get(d);
      if (pending) await pending.catch(() => {});
    }
  }

  /** Called by the collector: starts recording what handlers touch. */
  begin(): void {
    this.touched = new Set();
  }
  end(): void {
    this.touched = undefined;
  }
  isTouched(d: Digest): boolean {
    return this.touched?.has(d) ?? false;
  }
  /** Deletes `d` unless a handler touched it; synchronous check, then the deletion is visible to `protect`. */
  async deleteUnlessTouched(d: Digest, del: () => Promise<unknown>): Promise<boolean> {
    if (this.isTouched(d) || this.deleting.has(d)) return false;
    const p = del();
    this.deleting.set(d, p);
    try {
      await p;
    } finally {
      this.deleting.delete(d);
    }
    return true;
  }
}

export interface GcOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  /** Keep what was written less than this long ago (default 0: a stopped registry needs none). */
  graceMs?: number;
  log: Logger;
}

export interface GcResult {
  blobsDeleted: Digest[];
  bytesFreed: number;
  manifestsDeleted: { repository: string; digest: Digest }[];
  linksDeleted: { repository: string; digest: Digest }[];
  /** Unreferenced but kept for being younger than the grace period or touched by a request. */
  kept: number;
}

interface ManifestRefs {
  children: Digest[];
  blobs: Digest[];
  subject?: Digest;
}

function refsOf(body: Buffer): ManifestRefs {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { manifests?: { digest?: unknown }[]; config?: { digest?: unknown }; layers?: { digest?: unknown }[] };
    const digests = (list: { digest?: unknown }[] | undefined) => (Array.isArray(list) ? list.map((x) => x?.digest).filter(isDigest) : []);
    const config = isDigest(doc.config?.digest) ? [doc.config.digest] : [];
    return { children: digests(doc.manifests), blobs: [...config, ...digests(doc.layers)], subject: subjectOf(body) };
  } catch {
    return { children: [], blobs: [] };
  }
}

export async function collectGarbage(storage: RegistryStorage, content: ContentStore, opts: GcOptions, guard: GcGuard = new GcGuard()): Promise<GcResult> {
  return guard.mutex.run(async () => {
    guard.begin();
    try {
      return await run(storage, content, opts, guard);
    } finally {
      guard.end();
    }
  });
}

async function run(storage: RegistryStorage, content: ContentStore, opts: GcOptions, guard: GcGuard): Promise<GcResult> {
  const { log } = opts;
  const grace = opts.graceMs ?? 0;
  const startedAt = Date.now();
  const recent = (mtimeMs: number) => startedAt - mtimeMs < grace;
  const result: GcResult = { blobsDeleted: [], bytesFreed: 0, manifestsDeleted: [], linksDeleted: [], kept: 0 };
  const marked = new Set<Digest>();
  const refsCache = new Map<Digest, ManifestRefs>();
  const refs = async (d: Digest): Promise<ManifestRefs> => {
    let r = refsCache.get(d);
    if (!r) {
      const body = await content.read(d).catch(() => undefined);
      r = body ? refsOf(body) : { children: [], blobs: [] };
      refsCache.set(d, r);
    }
    return r;
  };

  for (const repo of await storage.repositories()) {
    const revisions = await storage.revisions(repo);
    const revSet = new Set(revisions.map((r) => r.digest));
    let keep: Set<Digest>;
    if (opts.deleteUntagged) {
      keep = new Set();
      const queue: Digest[] = [];
      const add = (d: Digest) => {
        if (revSet.has(d) && !keep.has(d)) {
          keep.add(d);
          queue.push(d);
        }
      };
      for (const tag of await storage.tags(repo)) {
        const d = await storage.resolveTag(repo, tag);
        if (d) add(d);
      }
      // Young manifests are kept: a multi-platform push writes the children before the tagged index.
      for (const r of revisions) if (recent(r.mtimeMs) || guard.isTouched(r.digest)) add(r.digest);
      // Closure over index children and referrers (a signature stays while what it signs stays).
      for (;;) {
        while (queue.length) {
          const d = queue.pop() as Digest;
          for (const c of (await refs(d)).children) add(c);
        }
        let grew = false;
        for (const r of revisions) {
          if (keep.has(r.digest)) continue;
          const s = (await refs(r.digest)).subject;
          if (s && keep.has(s)) {
            add(r.digest);
            grew = true;
          }
        }
        if (!grew) break;
      }
      for (const r of revisions) {
        if (keep.has(r.digest)) continue;
        log.info('untagged manifest', { repository: repo, digest: r.digest, dryRun: opts.dryRun ?? false });
        if (!opts.dryRun) {
          const deleted = await guard.deleteUnlessTouched(r.digest, () => storage.deleteManifest(repo, r.digest, refsCache.get(r.digest)?.subject));
          if (!deleted) {
            keep.add(r.digest);
            continue;
          }
        }
        result.manifestsDeleted.push({ repository: repo, digest: r.digest });
      }
    } else {
      keep = revSet;
    }

    const referenced = new Set<Digest>();
    for (const d of keep) {
      marked.add(d);
      const r = await refs(d);
      for (const x of [...r.blobs, ...r.children, ...(r.subject ? [r.subject] : [])]) {
        marked.add(x);
        referenced.add(x);
      }
    }
    for (const link of await storage.blobLinks(repo)) {
      // With deleteUntagged, a link only the deleted manifests needed goes too (else their layers never would);
      // a young link is a push whose manifest has not come yet.
      if (opts.deleteUntagged && !referenced.has(link.digest) && !recent(link.mtimeMs) && !keep.has(link.digest)) {
        if (!opts.dryRun) {
          const deleted = await guard.deleteUnlessTouched(link.digest, () => storage.unlinkBlob(repo, link.digest));
          if (!deleted) {
            marked.add(link.digest);
            continue;
          }
        }
        result.linksDeleted.push({ repository: repo, digest: link.digest });
        continue;
      }
      marked.add(link.digest);
    }
  }

  for (const blob of await content.list()) {
    if (marked.has(blob.digest)) continue;
    const st = await stat(content.path(blob.digest)).catch(() => undefined);
    if (!st) continue;
    if (recent(st.mtimeMs) || guard.isTouched(blob.digest)) {
      result.kept++;
      continue;
    }
    log.info('unreferenced blob', { digest: blob.digest, size: blob.size, dryRun: opts.dryRun ?? false });
    if (!opts.dryRun) {
      const deleted = await guard.deleteUnlessTouched(blob.digest, () => content.delete(blob.digest));
      if (!deleted) {
        result.kept++;
        continue;
      }
    }
    result.blobsDeleted.push(blob.digest);
    result.bytesFreed += blob.size;
  }
  return result;
}
