import { lstat, readdir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readXattrs, removeXattr } from '../util/xattrs.js';

/**
 * Makes an overlay upper directory (a container's or a build step's, no longer mounted) the content of a new
 * layer by moving it, instead of unpacking the tar just made from it: the upper directory is already in the
 * layers' own form (whiteouts as 0/0 devices, opaque directories marked). overlayfs's bookkeeping attributes on
 * copied-up directories (origin, impure) describe the old mount and are dropped; the opaque mark stays.
 * Returns the layer's size as applyLayer counts it (files and symlinks, hard links once).
 */
export async function adoptUpperDir(upper: string, diffDir: string): Promise<number> {
  await rmdir(diffDir);
  await rename(upper, diffDir);
  const seen = new Set<number>();
  const walk = async (dir: string): Promise<number> => {
    let size = 0;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        for (const name of (await readXattrs(path, (n) => n.startsWith('trusted.overlay.') && n !== 'trusted.overlay.opaque')).keys()) {
          await removeXattr(path, name);
        }
        size += await walk(path);
      } else if (e.isFile()) {
        const st = await lstat(path);
        if (st.nlink > 1 && seen.has(st.ino)) continue;
        seen.add(st.ino);
        size += st.size;
      } else if (e.isSymbolicLink()) {
        size += (await lstat(path)).size;
      }
    }
    return size;
  };
  return walk(diffDir);
}
