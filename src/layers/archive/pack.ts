import { constants } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import type { Header as Headers } from 'tar-stream';
import { header, major, minor, tarEnd, tarHeader, tarPadding } from '../../util/tar.js';
import { getXattr, paxOf, readXattrs } from '../../util/xattrs.js';
import type { TarSplitter } from './tarsplit.js';

export { header, major, minor };

export interface PackOptions {
  /** Turn overlayfs whiteouts (char 0/0, opaque xattr) into OCI `.wh.` entries: for a container's upper dir. */
  overlayWhiteouts?: boolean;
  /** Told each regular file's data, in tar order, so the tar can be made again from the directory (tarsplit.ts). */
  split?: TarSplitter;
}

/** File data is read this much at a time (fewer thread-pool jobs than 64 KiB; see util/send-file.ts). */
const readSize = 2 << 20;

/**
 * The tree under `dir` as an uncompressed tar, chunk by chunk: names sorted, parents first, directories ending in
 * `/`, numeric owners, modes, mtimes, symlinks, hard links (second and later names of an inode), device nodes and
 * xattrs as PAX `SCHILY.xattr.*`. The same tree always gives the same bytes.
 *
 * With `reuseBuffer`, file data comes in one buffer that is read into again when the next chunk is asked for: a
 * consumer that keeps a chunk past its turn must copy it. That is for a consumer that only hashes (a build step's
 * commit): on this VM a fresh buffer's pages are faulted in as a file is read into it, and for a 50 MB layer that
 * cost more than the reading and hashing together. Why not tar-stream's pack: it holds each body chunk until the
 * reader takes it, so the buffers cannot be reused (util/tar.ts makes the headers, as for the CLI's contexts).
 */
export async function* layerTar(dir: string, opts: PackOptions & { reuseBuffer?: boolean } = {}): AsyncGenerator<Buffer> {
  const inodes = new Map<string, string>();
  let shared: Buffer | undefined;

  /** `size` bytes of the file at `path` (its size when listed): a file that shrank since fails the tar. */
  async function* fileData(path: string, size: number): AsyncGenerator<Buffer> {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for (let pos = 0; pos < size; ) {
        const want = Math.min(readSize, size - pos);
        const buffer = opts.reuseBuffer ? (shared ??= Buffer.allocUnsafeSlow(readSize)) : Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buffer, 0, want, pos);
        if (bytesRead === 0) throw new Error(`${path} changed while it was archived: ${pos} bytes, not ${size}`);
        pos += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  async function* walk(abs: string): AsyncGenerator<Buffer> {
    for (const n of (await readdir(abs)).sort()) {
      const p = join(abs, n);
      const rel = relative(dir, p);
      const st = await lstat(p);
      const base = header(rel, st);
      if (opts.overlayWhiteouts && st.isCharacterDevice() && st.rdev === 0) {
        yield tarHeader({ ...base, name: join(relative(dir, abs), `.wh.${n}`), type: 'file', size: 0, mode: 0 });
        continue;
      }
      // overlayfs's own attributes describe the upper directory, not the files: only its opaque mark is kept.
      const opaque = opts.overlayWhiteouts && st.isDirectory() && (await getXattr(p, 'trusted.overlay.opaque'))?.toString() === 'y';
      const pax = paxOf(await readXattrs(p, (name) => !name.startsWith('trusted.overlay.')));
      const h: Headers = { ...base, ...(pax && { pax }) };
      if (st.isDirectory()) {
        yield tarHeader({ ...h, name: `${rel}/`, type: 'directory' });
        if (opaque) yield tarHeader({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', size: 0, mode: 0 });
        yield* walk(p);
      } else if (st.isSymbolicLink()) {
        yield tarHeader({ ...h, type: 'symlink', linkname: await readlink(p) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          yield tarHeader({ ...h, type: 'link', linkname: first, size: 0 });
          continue;
        }
        if (st.nlink > 1) inodes.set(key, rel);
        yield tarHeader({ ...h, type: 'file', size: st.size });
        if (st.size === 0) continue;
        opts.split?.nextPayload(rel, st.size);
        yield* fileData(p, st.size);
        const pad = tarPadding(st.size);
        if (pad.length) yield pad;
      } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
        const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
        yield tarHeader({ ...h, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
      }
      // sockets are not archived, as in Docker
    }
  }

  yield* walk(dir);
  yield tarEnd();
}

/** `layerTar` as a stream, every chunk its own buffer. */
export function packLayer(dir: string, opts: PackOptions = {}): Readable {
  return Readable.from(layerTar(dir, opts), { objectMode: false, highWaterMark: 1 << 20 });
}
