// Build contexts kept between builds, so that a rebuild sends only what changed (BuildKit's idea: its local
// sources are synced into a copy the daemon keeps, file by file, by their metadata). It is Berth's own protocol
// beside the classic API, used by the berth CLI; the docker CLI and the SDKs send the whole context as ever.
//
//   1. POST /berth/build/context {Key, Entries: [[name, stamp], …]} → {ID, Need: [name, …]}; the key names the
//      client's context (berth's: host and path), and a build under the same key reuses the copy.
//      The client lists every entry of its context (.dockerignore applied) with a stamp of its metadata; the daemon
//      answers which entries its copy lacks or has with another stamp (and the directories around them).
//   2. POST /build with `X-Berth-Context: ID` and, as the body, the tar of just those entries.
//
// A stamp is opaque here but for its first letter, the entry's type (`f` a regular file, whose content must come
// when asked for): the client decides what counts as a change (berth's: type, mode, size, mtime, ctime and
// inode). Stamps only decide what is sent, never the cache: COPY's cache key is the content digest, kept per file.
// Copies live under the builder's scratch directory, so a restart of berthd starts from nothing (they are caches).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgument } from '../errors/index.js';
import { contentSize, removeAll } from '../kernel/fs.js';
import { ScopedRoot } from '../kernel/scoped.js';
import type { Logger } from '../util/logger.js';
import { type BuildContext, fillContext, makeContext, peek, removeInRoot } from './context.js';
import type { DockerIgnore } from './ignore.js';

/** One entry of a client's context: its path (relative, `/`-separated) and its metadata stamp. */
export type ContextListing = ReadonlyArray<readonly [name: string, stamp: string]>;

/** A kept copy of one client context. */
interface Copy {
  dir: string;
  /** What the copy holds: each entry's stamp, as the client listed it. */
  stamps: Map<string, string>;
  /** sha256 (hex) of each regular file's content. */
  digests: Map<string, string>;
  /** A build is using it (or a session is about to). */
  busy: boolean;
  /** When it was made and last handed back (ms), and by how many builds. */
  created: number;
  lastUsed: number;
  uses: number;
  /** The Dockerfile as the last build read it (with its `-f` name): unchanged files need no reading again. */
  read?: { dockerfile: string; dockerfiles: Map<string, string> };
  /** What builds worked out from the files (COPY's sources and their digest), kept while no file changes. */
  memo: Map<string, unknown>;
}

/** Step 1 done, step 2 awaited. */
interface Session {
  key: string;
  copy: Copy;
  listing: Map<string, string>;
  expiry: NodeJS.Timeout;
}

/** How long a session waits for its build (the CLI sends it right after). */
const sessionTimeoutMs = 60_000;
/** An end-of-archive is 1024 zero bytes; some writers pad to a 10 KiB record. */
const emptyTarMax = 10240;
/** Copies kept; the least recently used goes first. */
const maxCopies = 8;

export class ContextCache {
  private readonly copies = new Map<string, Copy>();
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Step 1: which entries of `listing` the copy kept for `key` needs, and the session's ID for the build. */
  async plan(clientKey: string, listing: ContextListing): Promise<{ id: string; need: string[] }> {
    if (!clientKey || clientKey.length > 4096) throw new InvalidArgument('invalid build context key: 1 to 4096 characters expected');
    const key = createHash('sha256').update(clientKey).digest('hex');
    const entries = new Map<string, string>();
    for (const [name, stamp] of listing) {
      if (!isCleanName(name)) throw new InvalidArgument(`invalid build context entry name ${JSON.stringify(name)}`);
      entries.set(name, stamp);
    }
    let copy = this.copies.get(key);
    if (!copy || copy.busy) {
      // None yet, or a build of the same directory is running: this one gets a copy of its own, kept for the next
      // build only if none is kept yet (a copy not in the map is removed when its build ends).
      const fresh: Copy = { dir: join(this.dir, `${key.slice(0, 16)}-${randomBytes(4).toString('hex')}`), stamps: new Map(), digests: new Map(), busy: true, created: Date.now(), lastUsed: 0, uses: 0, memo: new Map() };
      if (!copy) this.copies.set(key, fresh);
      copy = fresh;
      await mkdir(copy.dir, { recursive: true, mode: 0o700 }).catch(async (e: unknown) => {
        await this.release(key, fresh, false);
        throw e;
      });
    }
    copy.busy = true;
    const id = randomBytes(16).toString('hex');
    const taken = copy;
    const expiry = setTimeout(() => {
      // the client never sent its build: the copy is as it was
      this.sessions.delete(id);
      this.release(key, taken, true).catch((e: unknown) => this.log.warn('build: releasing a context copy failed', { error: String(e) }));
    }, sessionTimeoutMs).unref();
    this.sessions.set(id, { key, copy, listing: entries, expiry });
    return { id, need: needed(copy.stamps, entries) };
  }

  /**
   * Step 2: the session's copy brought up to date by `input` (a tar of the entries step 1 asked for), as the
   * build's context (ready once all of it is in); closing it hands the copy back. A copy that fails to update is
   * dropped.
   */
  async open(id: string, input: Readable, o: { dockerfile: string }): Promise<BuildContext> {
    const session = this.sessions.get(id);
    if (!session) throw new InvalidArgument(`unknown or expired build context session ${JSON.stringify(id)}: send the context again`);
    this.sessions.delete(id);
    clearTimeout(session.expiry);
    const { key, copy, listing } = session;
    const release = (intact: boolean) => this.release(key, copy, intact);
    try {
      const need = new Set(needed(copy.stamps, listing));
      const { head, stream } = await peek(input, emptyTarMax + 1);
      const unchanged = need.size === 0 && [...copy.stamps.keys()].every((n) => listing.has(n));
      if (unchanged && copy.read?.dockerfile === o.dockerfile && head.length <= emptyTarMax && head.every((b) => b === 0)) {
        // Nothing changed since the last build, and an empty tar came: the copy, its Dockerfile and memo stand.
        return makeContext(copy.dir, copy.read.dockerfiles, copy.digests, release, { memo: copy.memo });
      }
      copy.memo.clear();
      copy.read = undefined;
      await this.removeUnlisted(copy, listing);
      const digests = new Map<string, string>();
      const dropped = new Set<string>();
      const filled = await fillContext(stream, copy.dir, o.dockerfile, digests, (root, rules, keep) => pruneListed(root, rules, keep, listing, dropped));
      if (filled.dockerfiles.has('')) {
        await filled.done;
        throw new InvalidArgument('a synced build context must be a tar');
      }
      // The copy's records follow once all of it is in (the first steps may run meanwhile).
      const ready = filled.done.then((removed) => {
        for (const name of need) {
          if (listing.get(name)?.startsWith('f') && !digests.has(name)) throw new InvalidArgument(`the build context lacks ${JSON.stringify(name)}, which the daemon asked for`);
        }
        for (const name of [...dropped, ...removed]) listing.delete(name);
        for (const name of copy.digests.keys()) if (!listing.has(name) || need.has(name)) copy.digests.delete(name);
        for (const [name, digest] of digests) if (listing.has(name)) copy.digests.set(name, digest);
        copy.stamps = listing;
        // read again next time if this build's Dockerfile or .dockerignore went (an ignored one is sent each time)
        if (!dropped.size && !removed.length) copy.read = { dockerfile: o.dockerfile, dockerfiles: filled.dockerfiles };
      });
      return makeContext(copy.dir, filled.dockerfiles, copy.digests, release, { ready, memo: copy.memo });
    } catch (e) {
      await release(false);
      throw e;
    }
  }

  /** The copies kept, for `system df`: bytes of file content, whether a build has one, when made and used. */
  async usage(): Promise<Array<{ id: string; size: number; inUse: boolean; created: Date; lastUsed?: Date; uses: number }>> {
    return Promise.all(
      [...this.copies].map(async ([key, copy]) => ({
        id: copyId(key),
        size: await contentSize(copy.dir),
        inUse: copy.busy,
        created: new Date(copy.created),
        ...(copy.lastUsed && { lastUsed: new Date(copy.lastUsed) }),
        uses: copy.uses,
      })),
    );
  }

  /** `builder prune`: every copy no build is using; their names, as the build cache entries removed. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const [key, copy] of this.copies) {
      if (copy.busy) continue;
      this.copies.delete(key);
      await removeAll(copy.dir);
      removed.push(copyId(key));
    }
    return removed;
  }

  /** Entries the copy holds that the client no longer lists go first (the tar only adds and replaces). */
  private async removeUnlisted(copy: Copy, listing: ReadonlyMap<string, string>): Promise<void> {
    const gone = [...copy.stamps.keys()].filter((n) => !listing.has(n)).sort();
    if (!gone.length) return;
    await ScopedRoot.with(copy.dir, async (root) => {
      let last = '';
      for (const name of gone) {
        if (last && name.startsWith(`${last}/`)) continue; // went with its directory
        await removeInRoot(root, name);
        last = name;
      }
    });
  }

  /** A build's end (or a session's): the copy is kept for the next build when it is intact, else removed. */
  private async release(key: string, copy: Copy, intact: boolean): Promise<void> {
    copy.busy = false;
    copy.lastUsed = Date.now();
    copy.uses++;
    const kept = this.copies.get(key) === copy;
    if (intact && kept) return this.evict();
    if (kept) this.copies.delete(key);
    await removeAll(copy.dir).catch((e: unknown) => this.log.warn('build: removing a context copy failed', { dir: copy.dir, error: String(e) }));
  }

  private async evict(): Promise<void> {
    const idle = [...this.copies].filter(([, c]) => !c.busy).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [key, copy] of idle.slice(0, Math.max(0, this.copies.size - maxCopies))) {
      this.copies.delete(key);
      await removeAll(copy.dir).catch((e: unknown) => this.log.warn('build: removing a context copy failed', { dir: copy.dir, error: String(e) }));
    }
  }
}

/**
 * The entries whose stamp the copy does not have, and the directories that hold them or held something removed
 * (writing or removing inside a directory changes its mtime: the tar's directory entry sets it back).
 */
function needed(have: ReadonlyMap<string, string>, want: ReadonlyMap<string, string>): string[] {
  const need = new Set<string>();
  const parentsOf = (name: string) => {
    for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
      const dir = name.slice(0, i);
      if (want.has(dir)) need.add(dir);
    }
  };
  for (const [name, stamp] of want) {
    if (have.get(name) === stamp) continue;
    need.add(name);
    parentsOf(name);
  }
  for (const name of have.keys()) if (!want.has(name)) parentsOf(name);
  return [...want.keys()].filter((n) => need.has(n)); // in the client's order: parents first
}

/**
 * .dockerignore on a synced copy: the client left out what it matches already, so only its listing is judged
 * (no walk of the copy), with pruneIgnored's rules; what goes is removed from the copy and noted in `dropped`.
 */
async function pruneListed(root: ScopedRoot, rules: DockerIgnore, keep: ReadonlySet<string>, listing: ReadonlyMap<string, string>, dropped: Set<string>): Promise<void> {
  const names = [...listing.keys()];
  const under = (dir: string) => names.filter((n) => n.startsWith(`${dir}/`));
  for (const name of names) {
    if (dropped.has(name) || keep.has(name) || !rules.ignores(name)) continue;
    const inside = under(name);
    const mayKeepInside = inside.length > 0 && (rules.hasExceptions || [...keep].some((k) => k.startsWith(`${name}/`)));
    if (mayKeepInside) {
      // judged entry by entry; the directory itself goes only if nothing under it stays (checked below)
      continue;
    }
    await removeInRoot(root, name);
    dropped.add(name);
    for (const n of inside) dropped.add(n);
  }
  // ignored directories kept for their contents, deepest first: gone if nothing under them stayed
  for (const name of names.filter((n) => rules.ignores(n) && !keep.has(n) && !dropped.has(n)).reverse()) {
    if (under(name).some((n) => !dropped.has(n))) continue;
    await removeInRoot(root, name);
    dropped.add(name);
  }
}

/** How `system df` and `builder prune` name a kept copy. */
const copyId = (key: string) => `context:${key.slice(0, 16)}`;

/** A relative path without empty, `.` or `..` components. */
function isCleanName(name: string): boolean {
  return name !== '' && name.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}
