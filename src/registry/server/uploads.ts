import { randomUUID } from 'node:crypto';
import { open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, ContentStore } from '../../content/index.js';
import { FailedPrecondition, isNotExist } from '../../errors/index.js';
import { ensureDir, syncAsWritten } from '../../kernel/fs.js';
import type { Digest } from '../../oci/index.js';
import { type StreamHash, sha256Stream } from '../../util/hash-thread.js';
import { Mutex } from '../../util/mutex.js';
import { RegistryError } from './errors.js';
import { isUploadId } from './names.js';

/**
 * Blob upload sessions, one directory each under `<root>/uploads/<uuid>/`: `info.json` (the repository it
 * belongs to) and `data` (the bytes received so far; its size is the session's offset). Sessions survive a
 * restart, so a client may resume; the bytes only become a blob when the closing PUT streams them through the
 * content store, which verifies the digest and renames the result into place: no crash at any point leaves a
 * visible half blob. A chunk that fails midway (a client gone) is cut off again, so the offset is always the end
 * of the last complete chunk. Sessions idle longer than the TTL are removed at start-up and periodically.
 */
export interface UploadState {
  id: string;
  name: string;
  offset: number;
}

export interface ChunkRange {
  start: number;
  end: number;
}

interface UploadInfo {
  name: string;
  startedAt: string;
}

export class UploadStore {
  readonly dir: string;
  /** One request at a time per session: concurrent chunks would interleave at the same offset. */
  private readonly locks = new Map<string, { mutex: Mutex; users: number }>();
  /**
   * The sha256 of each session's bytes, kept as they are written, so that the closing PUT need not read a pushed
   * layer back. Only while it covers every byte of the session: a chunk cut off, or a session resumed after a
   * restart, falls back to reading the file.
   */
  private readonly hashes = new Map<string, { hash: StreamHash; at: number }>();

  constructor(
    root: string,
    private readonly content: ContentStore,
  ) {
    this.dir = join(root, 'uploads');
  }

  async init(): Promise<void> {
    await ensureDir(this.dir, 0o700);
  }

  async create(name: string): Promise<UploadState> {
    const id = randomUUID();
    const dir = join(this.dir, id);
    await ensureDir(dir, 0o700);
    await writeFile(join(dir, 'data'), '', { mode: 0o600 });
    // Written last: a session without info.json is unknown and reclaimed as stale.
    await writeFile(join(dir, 'info.json'), JSON.stringify({ name, startedAt: new Date().toISOString() } satisfies UploadInfo), { mode: 0o600 });
    return { id, name, offset: 0 };
  }

  /** The session `id` of repository `name`, or BLOB_UPLOAD_UNKNOWN. */
  async get(name: string, id: string): Promise<UploadState> {
    const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
    if (!isUploadId(id)) throw unknown();
    const dir = join(this.dir, id);
    try {
      const info = JSON.parse(await readFile(join(dir, 'info.json'), 'utf8')) as UploadInfo;
      if (info.name !== name) throw unknown();
      const st = await stat(join(dir, 'data'));
      return { id, name, offset: st.size };
    } catch (e) {
      if (isNotExist(e) || e instanceof SyntaxError) throw unknown();
      throw e;
    }
  }

  /** Runs `fn` holding the session's lock, with its state read under the lock. */
  async locked<T>(name: string, id: string, fn: (s: UploadState) => Promise<T>): Promise<T> {
    let entry = this.locks.get(id);
    if (!entry) this.locks.set(id, (entry = { mutex: new Mutex(), users: 0 }));
    entry.users++;
    try {
      return await entry.mutex.run(async () => fn(await this.get(name, id)));
    } finally {
      if (--entry.users === 0) this.locks.delete(id);
    }
  }

  /**
   * Appends a chunk at the session's offset. With a `range`, its start must be the offset (else 416) and its
   * length the bytes received (else the chunk is dropped: SIZE_INVALID). Returns the new offset.
   */
  async append(s: UploadState, source: Readable, range?: ChunkRange): Promise<number> {
    if (range && range.start !== s.offset) {
      source.resume(); // drain the refused body so the connection can be reused
      throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk starts at ${range.start}, expected ${s.offset}`, { offset: s.offset }, 416);
    }
    const path = join(this.dir, s.id, 'data');
    let written = 0;
    let running = this.hashes.get(s.id);
    if (running?.at !== s.offset) running = s.offset === 0 ? { hash: sha256Stream('here'), at: 0 } : undefined;
    this.hashes.delete(s.id);
    try {
      const fh = await open(path, 'r+');
      // flushed as it comes, so that the blob's fsync when the upload is committed has only the tail left
      const flushing = syncAsWritten(fh);
      try {
        await pipeline(
          source,
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const c of chunks) {
              written += c.length;
              const full = running?.hash.update(c);
              if (full) await full;
              flushing.wrote(c.length);
              yield c;
            }
          },
          // A MiB may wait while a write is under way, so the socket's 64 KiB chunks go out together in one writev:
          // each write is a threadpool job, and on VMs the wake-up of a job costs tens of µs.
          fh.createWriteStream({ start: s.offset, highWaterMark: 1 << 20 }),
        );
      } finally {
        await flushing.settle();
      }
      if (range && written !== range.end - range.start + 1) {
        throw new RegistryError('SIZE_INVALID', `chunk ${range.start}-${range.end} announced ${range.end - range.start + 1} bytes, got ${written}`);
      }
      if (running) this.hashes.set(s.id, { hash: running.hash, at: s.offset + written });
      return s.offset + written;
    } catch (e) {
      // Back to the end of the last whole chunk: a retry of this chunk then starts where the client expects.
      await truncate(path, s.offset).catch(() => {});
      throw e;
    }
  }

  /**
   * Closes the session: the bytes go through the content store (verified against `digest`) and the session is
   * removed. A digest that does not match ends the session too (distribution does the same): the client must
   * start over, and no bytes of a refused upload linger.
   */
  async commit(s: UploadState, digest: Digest): Promise<BlobInfo> {
    try {
      // The session's file becomes the blob (verified, then renamed): no second copy of a pushed layer.
      const running = this.hashes.get(s.id);
      this.hashes.delete(s.id);
      const hashed = running?.at === s.offset ? (`sha256:${await running.hash.digest()}` as Digest) : undefined;
      const info = await this.content.adopt(join(this.dir, s.id, 'data'), { digest }, hashed);
      await this.remove(s.id);
      return info;
    } catch (e) {
      if (e instanceof FailedPrecondition) {
        await this.remove(s.id);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
      }
      throw e;
    }
  }

  async remove(id: string): Promise<void> {
    this.hashes.delete(id);
    if (!isUploadId(id)) return;
    await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** Removes sessions idle for longer than `maxIdleMs` (and directories that are not whole sessions). */
  async reclaim(maxIdleMs: number): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const id of await readdir(this.dir).catch(() => [])) {
      if (this.locks.has(id)) continue;
      const dir = join(this.dir, id);
      let idleSince = 0;
      try {
        await stat(join(dir, 'info.json'));
        idleSince = (await stat(join(dir, 'data'))).mtimeMs;
      } catch {
        // incomplete: created by a process that died between its first two writes
      }
      if (!isUploadId(id) || now - idleSince > maxIdleMs) {
        this.hashes.delete(id);
        await rm(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
