import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore } from '../../content/index.js';
import { isNotExist } from '../../errors/index.js';
import { atomicWriteFile, ensureDir } from '../../kernel/fs.js';
import { type Descriptor, type Digest, digestHex, isDigest } from '../../oci/index.js';
import { RegistryError } from './errors.js';
import type { ManifestReference } from './names.js';

/**
 * What each repository holds, on top of one content store shared by all (a layer pushed to ten repositories is
 * stored once). Layout under `<root>/repositories/<name>/`, the shape of distribution's filesystem driver:
 *
 *   _layers/sha256/<hex>                   the repository may serve this blob (an empty link file)
 *   _manifests/revisions/sha256/<hex>      a manifest of the repository: `{"mediaType": …}` (bytes in content)
 *   _manifests/tags/<tag>/link             the digest the tag points at
 *   _referrers/sha256/<subject>/<hex>      descriptor of a manifest whose `subject` is <subject>
 *
 * Every link is written with atomicWriteFile (temp file, fsync, rename), so a crash leaves either the old link
 * or the new one. Leftover temp files are `<name>.tmp-*` beside the link and are never read: listings only take
 * names that are a hex digest, and a tag is its directory's `link` file. Tags live one directory each so that a
 * temp file can never be mistaken for a tag (`v1.tmp-1-2` is a valid tag name).
 *
 * Names reaching this module passed `validateName` and digests `isDigest`, so they are safe path components.
 */
export interface RevisionInfo {
  mediaType: string;
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  body: Buffer;
}

const hexRe = /^[a-f0-9]{64}$/;

export class RegistryStorage {
  readonly reposDir: string;
  constructor(
    root: string,
    readonly content: ContentStore,
  ) {
    this.reposDir = join(root, 'repositories');
  }

  async init(): Promise<void> {
    await ensureDir(this.reposDir, 0o755);
  }

  private repoDir(name: string): string {
    return join(this.reposDir, ...name.split('/'));
  }
  private blobLink(name: string, d: Digest): string {
    return join(this.repoDir(name), '_layers', 'sha256', digestHex(d));
  }
  private revisionLink(name: string, d: Digest): string {
    return join(this.repoDir(name), '_manifests', 'revisions', 'sha256', digestHex(d));
  }
  private tagDir(name: string, tag: string): string {
    return join(this.repoDir(name), '_manifests', 'tags', tag);
  }
  private referrersDir(name: string, subject: Digest): string {
    return join(this.repoDir(name), '_referrers', 'sha256', digestHex(subject));
  }

  /** A repository exists once anything (a blob or a manifest) was linked into it. */
  async repoExists(name: string): Promise<boolean> {
    for (const sub of ['_manifests', '_layers']) {
      if (await exists(join(this.repoDir(name), sub))) return true;
    }
    return false;
  }

  // --- blobs -------------------------------------------------------------------------------------------------

  /** Size of a blob the repository may serve, or undefined. */
  async blobSize(name: string, d: Digest): Promise<number | undefined> {
    if (!(await exists(this.blobLink(name, d)))) return undefined;
    return (await this.content.info(d))?.size;
  }

  async linkBlob(name: string, d: Digest): Promise<void> {
    const link = this.blobLink(name, d);
    if (await exists(link)) return;
    await ensureDir(join(link, '..'), 0o755);
    await atomicWriteFile(link, '', 0o644);
  }

  /** Removes the repository's link; the bytes stay until garbage collection (another repository may use them). */
  async unlinkBlob(name: string, d: Digest): Promise<boolean> {
    try {
      await unlink(this.blobLink(name, d));
      return true;
    } catch (e) {
      if (isNotExist(e)) return false;
      throw e;
    }
  }

  // --- manifests ---------------------------------------------------------------------------------------------

  async revision(name: string, d: Digest): Promise<RevisionInfo | undefined> {
    try {
      const info = JSON.parse(await readFile(this.revisionLink(name, d), 'utf8')) as RevisionInfo;
      return typeof info.mediaType === 'string' ? info : undefined;
    } catch (e) {
      if (isNotExist(e) || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async resolveTag(name: string, tag: string): Promise<Digest | undefined> {
    try {
      const d = (await readFile(join(this.tagDir(name, tag), 'link'), 'utf8')).trim();
      return isDigest(d) ? d : undefined;
    } catch (e) {
      if (isNotExist(e)) return undefined;
      throw e;
    }
  }

  /** The manifest a reference names in this repository; MANIFEST_UNKNOWN when there is none. */
  async getManifest(name: string, ref: ManifestReference): Promise<StoredManifest> {
    const digest = ref.digest ?? (await this.resolveTag(name, ref.tag));
    const unknown = () => new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', ref.tag !== undefined ? { Tag: ref.tag } : { Revision: ref.digest });
    if (!digest) throw unknown();
    const rev = await this.revision(name, digest);
    if (!rev) throw unknown();
    let body: Buffer;
    try {
      body = await this.content.read(digest);
    } catch {
      throw unknown(); // the link outlived its bytes (a GC in progress, a hand-edited root): as good as absent
    }
    return { digest, mediaType: rev.mediaType, body };
  }

  /**
   * Stores a manifest's bytes, links it into the repository, then points `tags` at it and records it as a
   * referrer of `subject`. Bytes first, links after: a crash between them leaves an unreferenced blob, never a
   * link to missing bytes.
   */
  async putManifest(name: string, m: { digest: Digest; mediaType: string; body: Buffer; tags: string[]; subject?: Digest; referrer?: Descriptor }): Promise<void> {
    await this.content.put(m.body, { digest: m.digest });
    const rev = this.revisionLink(name, m.digest);
    await ensureDir(join(rev, '..'), 0o755);
    await atomicWriteFile(rev, JSON.stringify({ mediaType: m.mediaType } satisfies RevisionInfo), 0o644);
    if (m.subject && m.referrer) {
      const dir = this.referrersDir(name, m.subject);
      await ensureDir(dir, 0o755);
      await atomicWriteFile(join(dir, digestHex(m.digest)), JSON.stringify(m.referrer), 0o644);
    }
    for (const tag of m.tags) {
      const dir = this.tagDir(name, tag);
      await ensureDir(dir, 0o755);
      await atomicWriteFile(join(dir, 'link'), m.digest, 0o644);
    }
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    const dir = this.tagDir(name, tag);
    if (!(await exists(join(dir, 'link')))) return false;
    await rm(dir, { recursive: true, force: true });
    return true;
  }

  /** Removes a manifest from the repository with every tag pointing at it and its referrer entry. */
  async deleteManifest(name: string, d: Digest, subject?: Digest): Promise<boolean> {
    if (!(await this.revision(name, d))) return false;
    for (const tag of await this.tags(name)) {
      if ((await this.resolveTag(name, tag)) === d) await rm(this.tagDir(name, tag), { recursive: true, force: true });
    }
    if (subject) await unlink(join(this.referrersDir(name, subject), digestHex(d))).catch(() => {});
    await unlink(this.revisionLink(name, d)).catch((e: unknown) => {
      if (!isNotExist(e)) throw e;
    });
    return true;
  }

  /** Tags in ASCII order (the spec's "ASCIIbetical"). */
  async tags(name: string): Promise<string[]> {
    const dir = join(this.repoDir(name), '_manifests', 'tags');
    const out: string[] = [];
    for (const tag of await readdirOrEmpty(dir)) {
      if (await exists(join(dir, tag, 'link'))) out.push(tag);
    }
    return out.sort();
  }

  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.referrersDir(name, subject);
    const out: Descriptor[] = [];
    for (const n of (await readdirOrEmpty(dir)).filter((x) => hexRe.test(x)).sort()) {
      try {
        const desc = JSON.parse(await readFile(join(dir, n), 'utf8')) as Descriptor;
        // An entry whose manifest was deleted since (a crash between the two unlinks) is not a referrer.
        if (await this.revision(name, desc.digest)) out.push(desc);
      } catch {
        // a half-written entry cannot exist (atomic writes); anything unreadable is skipped, not served
      }
    }
    return out;
  }

  // --- listings for garbage collection ----------------------------------------------------------------------

  /** Every repository with anything linked (blobs or manifests), in ASCII order. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      if (prefix && entries.some((e) => e.isDirectory() && (e.name === '_manifests' || e.name === '_layers'))) out.push(prefix);
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
      }
    };
    await walk(this.reposDir, '');
    return out.sort();
  }

  /** Manifests linked into the repository, with the time each link was written. */
  async revisions(name: string): Promise<{ digest: Digest; mtimeMs: number }[]> {
    return this.linksIn(join(this.repoDir(name), '_manifests', 'revisions', 'sha256'));
  }

  /** Blobs linked into the repository, with the time each link was written. */
  async blobLinks(name: string): Promise<{ digest: Digest; mtimeMs: number }[]> {
    return this.linksIn(join(this.repoDir(name), '_layers', 'sha256'));
  }

  private async linksIn(dir: string): Promise<{ digest: Digest; mtimeMs: number }[]> {
    const out: { digest: Digest; mtimeMs: number }[] = [];
    for (const n of await readdirOrEmpty(dir)) {
      if (!hexRe.test(n)) continue;
      const st = await stat(join(dir, n)).catch(() => undefined);
      if (st) out.push({ digest: `sha256:${n}`, mtimeMs: st.mtimeMs });
    }
    return out;
  }

  /** Every repository holding manifests, in ASCII order. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      if (prefix && entries.some((e) => e.isDirectory() && e.name === '_manifests')) out.push(prefix);
      for (const e of entries) {
        // Path components of names never start with `_`: those are the repository's own directories.
        if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
      }
    };
    await walk(this.reposDir, '');
    return out.sort();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isNotExist(e) || (e as { code?: string }).code === 'ENOTDIR') return false;
    throw e;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNotExist(e) || (e as { code?: string }).code === 'ENOTDIR') return [];
    throw e;
  }
}
