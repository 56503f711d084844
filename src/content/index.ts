import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailedPrecondition, NotFound, isNotExist } from '../errors/index.js';
import { ensureDir, fsyncDir, fsyncFile, syncAsWritten } from '../kernel/fs.js';
import { type Digest, digestHex, isDigest } from '../oci/index.js';
import { failpoint } from '../util/failpoint.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface Expected {
  digest?: Digest;
  size?: number;
}

/**
 * A content-addressable blob store (containerd's content store contract).
 *
 * Lifecycle: bytes are written into `ingest/`, hashed while streaming, checked against the expected digest and
 * size, fsynced, then renamed into `blobs/sha256/<hex>` and the directory fsynced. A blob is invisible until
 * that rename ("committed"); a crash before it leaves only an ingest file, which `reclaimIngests` removes at
 * start-up. Committing bytes that are already stored is a no-op that returns the existing blob (callers load the
 * same base layer many times; deduplication is the point of the store). Deleting is the garbage collector's job.
 */
export interface ContentStore {
  info(digest: Digest): Promise<BlobInfo | undefined>;
  /** Streams bytes in; verifies `expected` if given. Throws FailedPrecondition on mismatch (nothing is kept). */
  ingest(source: Readable | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, expected?: Expected): Promise<BlobInfo>;
  put(data: string | Uint8Array, expected?: Expected): Promise<BlobInfo>;
  /**
   * Takes a complete file (on the store's filesystem) as a blob: read once to verify `expected` (unless `hashed`,
   * the digest its writer computed as it wrote every byte of it, is given), then synced and renamed into place
   * rather than copied. The file is gone afterwards, whatever the outcome.
   */
  adopt(file: string, expected: Expected & { digest: Digest }, hashed?: Digest): Promise<BlobInfo>;
  read(digest: Digest): Promise<Buffer>;
  open(digest: Digest): Readable;
  /** Path of a committed blob, for callers that hand it to a tool (e.g. a tar writer that needs a file). */
  path(digest: Digest): string;
  delete(digest: Digest): Promise<void>;
  list(): Promise<BlobInfo[]>;
  /** Removes ingests left by a crash. Call once at start-up, before anything writes. */
  reclaimIngests(): Promise<number>;
}

export async function openContentStore(root: string): Promise<ContentStore> {
  const blobsDir = join(root, 'blobs', 'sha256');
  const ingestDir = join(root, 'ingest');
  await ensureDir(blobsDir);
  await ensureDir(ingestDir);
  let seq = 0;

  const blobPath = (d: Digest) => {
    if (!isDigest(d)) throw new NotFound(`invalid digest ${String(d)}`);
    return join(blobsDir, digestHex(d));
  };

  async function info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(blobPath(digest));
      return { digest, size: st.size };
    } catch (e) {
      if (isNotExist(e)) return undefined;
      throw e;
    }
  }

  async function ingest(source: Readable | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, expected: Expected = {}): Promise<BlobInfo> {
    const tmp = join(ingestDir, `${process.pid}-${Date.now()}-${++seq}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      // Created before the pipeline runs: a stream that opens its file lazily could create it after a failed
      // ingest has already unlinked it, leaving a stray file behind.
      // A MiB may wait while a write is under way, so that chunks go out together in one writev (see `open` below).
      const fh = await open(tmp, 'wx', 0o600);
      const out = fh.createWriteStream({ highWaterMark: 1 << 20 });
      const flushing = syncAsWritten(fh);
      try {
        await pipeline(
          Readable.from(source as Iterable<Uint8Array>),
          async function* (chunks: AsyncIterable<Uint8Array>) {
            for await (const chunk of chunks) {
              hash.update(chunk);
              size += chunk.length;
              flushing.wrote(chunk.length);
              if (expected.size !== undefined && size > expected.size) {
                throw new FailedPrecondition(`size mismatch: more than the expected ${expected.size} bytes`);
              }
              yield chunk;
            }
          },
          out,
        );
      } finally {
        await flushing.settle(); // a datasync still under way: the file may be closed now
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (expected.digest && expected.digest !== digest) {
        throw new FailedPrecondition(`digest mismatch: expected ${expected.digest}, got ${digest}`);
      }
      if (expected.size !== undefined && expected.size !== size) {
        throw new FailedPrecondition(`size mismatch: expected ${expected.size} bytes, got ${size}`);
      }
      await failpoint('content.commit');
      if (await info(digest)) {
        await unlink(tmp);
        return { digest, size };
      }
      await fsyncFile(tmp);
      await rename(tmp, blobPath(digest));
      await fsyncDir(blobsDir);
      return { digest, size };
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  async function adopt(file: string, expected: Expected & { digest: Digest }, hashed?: Digest): Promise<BlobInfo> {
    try {
      let digest = hashed;
      let size = 0;
      if (digest) size = (await stat(file)).size;
      else {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        digest = `sha256:${hash.digest('hex')}`;
      }
      if (digest !== expected.digest) throw new FailedPrecondition(`digest mismatch: expected ${expected.digest}, got ${digest}`);
      if (expected.size !== undefined && expected.size !== size) throw new FailedPrecondition(`size mismatch: expected ${expected.size} bytes, got ${size}`);
      if (!(await info(digest))) {
        await fsyncFile(file);
        try {
          await rename(file, blobPath(digest));
        } catch (e) {
          // On another filesystem after all: copied in, as any ingest.
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          return await ingest(createReadStream(file, { highWaterMark: 1 << 20 }), expected);
        }
        await fsyncDir(blobsDir);
      }
      return { digest, size };
    } finally {
      await unlink(file).catch(() => {});
    }
  }

  return {
    info,
    ingest,
    adopt,
    put: (data, expected) => ingest([typeof data === 'string' ? Buffer.from(data) : data], expected),
    async read(digest) {
      try {
        return await readFile(blobPath(digest));
      } catch (e) {
        if (isNotExist(e)) throw new NotFound(`blob ${digest} not found`);
        throw e;
      }
    },
    // 1 MiB reads, not 64 KiB: each read is a threadpool job, and on VMs the wake-up of a job costs tens of µs.
    open: (digest) => createReadStream(blobPath(digest), { highWaterMark: 1 << 20 }),
    path: blobPath,
    async delete(digest) {
      await unlink(blobPath(digest)).catch((e) => {
        if (!isNotExist(e)) throw e;
      });
    },
    async list() {
      const out: BlobInfo[] = [];
      for (const name of await readdir(blobsDir)) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest)) continue;
        const st = await stat(join(blobsDir, name));
        out.push({ digest, size: st.size });
      }
      return out;
    },
    async reclaimIngests() {
      const names = await readdir(ingestDir);
      await Promise.all(names.map((n) => unlink(join(ingestDir, n)).catch(() => {})));
      return names.length;
    },
  };
}
