import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { pack as tarPack, type Header as Headers } from 'tar-stream';
import { header, major, minor } from '../../util/tar.js';

export { header, major, minor };

const run = promisify(execFile);

export interface PackOptions {
  /** Turn overlayfs whiteouts (char 0/0, opaque xattr) into OCI `.wh.` entries: for a container's upper dir. */
  overlayWhiteouts?: boolean;
}

/**
 * Writes the tree under `dir` as an uncompressed tar: names sorted, parents first, directories ending in `/`,
 * numeric owners, modes, mtimes, symlinks, hard links (second and later names of an inode), device nodes and
 * xattrs as PAX `SCHILY.xattr.*` (read with one `getfattr` over the tree, not one call per file). The same tree
 * always gives the same bytes.
 */
export function packLayer(dir: string, opts: PackOptions = {}): Readable {
  const out = tarPack();
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  (async () => {
    const xattrs = await readXattrs(dir);
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
        const x = xattrs.get(p) ?? {};
        const base = header(rel, st);
        if (opts.overlayWhiteouts && st.isCharacterDevice() && st.rdev === 0) {
          await add({ ...base, name: join(relative(dir, abs), `.wh.${n}`), type: 'file', size: 0, mode: 0 });
          continue;
        }
        const pax: Record<string, string> = {};
        let opaque = false;
        for (const [k, v] of Object.entries(x)) {
          if (k.startsWith('trusted.overlay.')) {
            if (k === 'trusted.overlay.opaque' && v.toString() === 'y') opaque = true;
            continue;
          }
          pax[`SCHILY.xattr.${k}`] = v.toString('latin1');
        }
        const h: Headers = { ...base, ...(Object.keys(pax).length && { pax }) };
        if (st.isDirectory()) {
          await add({ ...h, name: `${rel}/`, type: 'directory' });
          if (opts.overlayWhiteouts && opaque) await add({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', size: 0, mode: 0 });
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
            await add({ ...h, type: 'file', size: st.size }, st.size > 0 ? createReadStream(p) : undefined);
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


/** All xattrs under `dir`, by absolute path, from one `getfattr -R` (symlinks not followed). */
async function readXattrs(dir: string): Promise<Map<string, Record<string, Buffer>>> {
  const out = new Map<string, Record<string, Buffer>>();
  let text: string;
  try {
    ({ stdout: text } = await run('getfattr', ['-R', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '-h', dir], { maxBuffer: 256 << 20 }));
  } catch (e) {
    // getfattr exits 1 when some file has none it may read; its output is still complete.
    text = (e as { stdout?: string }).stdout ?? '';
  }
  let current: Record<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = {};
      out.set(unescapeName(line.slice(8)), current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1);
      current[line.slice(0, eq)] = value.startsWith('0x') ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value.replace(/^"|"$/g, ''));
    }
  }
  return out;
}

/** getfattr escapes unusual bytes in names as \ooo octal. */
function unescapeName(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
