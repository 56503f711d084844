import { createReadStream } from 'node:fs';
import type { TarSplitter } from './tarsplit.js';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Header as Headers } from 'tar-stream';
import { header, major, minor } from '../../util/tar.js';
import { getXattr, paxOf, readXattrs } from '../../util/xattrs.js';

export { header, major, minor };

export interface PackOptions {
  /** Turn overlayfs whiteouts (char 0/0, opaque xattr) into OCI `.wh.` entries: for a container's upper dir. */
  overlayWhiteouts?: boolean;
  /** Told each regular file's data, in tar order, so the tar can be made again from the directory (tarsplit.ts). */
  split?: TarSplitter;
}

/**
 * Writes the tree under `dir` as an uncompressed tar: names sorted, parents first, directories ending in `/`,
 * numeric owners, modes, mtimes, symlinks, hard links (second and later names of an inode), device nodes and
 * xattrs as PAX `SCHILY.xattr.*`. The same tree always gives the same bytes.
 */
export function packLayer(dir: string, opts: PackOptions = {}): Readable {
  const out = tarPack();
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  (async () => {
    const inodes = new Map<string, string>();
    const add = (h: Headers, body?: Readable) =>
      body
        ? pipeline(body, out.entry(h) as unknown as NodeJS.WritableStream)
        : new Promise<void>((res, rej) => {
            const done = (e?: Error | null) => (e ? rej(e) : res());
            // A file entry without a buffer waits for its body: give empty files an empty one.
            if (h.type === 'file') out.entry(h, Buffer.alloc(0), done);
            else out.entry(h, done);
          });

    const walk = async (abs: string): Promise<void> => {
      const names = (await readdir(abs)).sort();
      for (const n of names) {
        const p = join(abs, n);
        const rel = relative(dir, p);
        const st = await lstat(p);
        const base = header(rel, st);
        if (opts.overlayWhiteouts && st.isCharacterDevice() && st.rdev === 0) {
          await add({ ...base, name: join(relative(dir, abs), `.wh.${n}`), type: 'file', size: 0, mode: 0 });
          continue;
        }
        // overlayfs's own attributes describe the upper directory, not the files: only its opaque mark is kept.
        const opaque = opts.overlayWhiteouts && st.isDirectory() && (await getXattr(p, 'trusted.overlay.opaque'))?.toString() === 'y';
        const pax = paxOf(await readXattrs(p, (name) => !name.startsWith('trusted.overlay.')));
        const h: Headers = { ...base, ...(pax && { pax }) };
        if (st.isDirectory()) {
          await add({ ...h, name: `${rel}/`, type: 'directory' });
          if (opaque) await add({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', size: 0, mode: 0 });
          await walk(p);
        } else if (st.isSymbolicLink()) {
          await add({ ...h, type: 'symlink', linkname: await readlink(p) });
        } else if (st.isFile()) {
          const key = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1 ? inodes.get(key) : undefined;
          if (first) {
            await add({ ...h, type: 'link', linkname: first, size: 0 });
          } else {
            if (st.nlink > 1) inodes.set(key, rel);
            if (st.size > 0) opts.split?.nextPayload(rel, st.size);
            await add({ ...h, type: 'file', size: st.size }, st.size > 0 ? createReadStream(p, { highWaterMark: 1 << 20 }) : undefined);
          }
        } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
          const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
          await add({ ...h, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
        }
        // sockets are not archived, as in Docker
      }
    };
    await walk(dir);
    out.finalize();
  })().catch((e: Error) => out.destroy(e));
  out.on('error', (e: Error) => pass.destroy(e));
  out.pipe(pass);
  return pass;
}
