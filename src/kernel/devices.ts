import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A device node on the host, in the runtime spec's terms. */
export interface HostDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

// Not handed to a privileged container: it gets its own pts, shm, mqueue and console (as dockerd skips them).
const skipped = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/.lxc', '/dev/.udev']);

/** Every character and block device under /dev (what `--privileged` gives a container, like dockerd). */
export async function hostDevices(dir = '/dev'): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (skipped.has(path)) continue;
    if (e.isDirectory()) out.push(...(await hostDevices(path)));
    else if (e.isCharacterDevice() || e.isBlockDevice()) {
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st) continue;
      // Linux's encoding of dev_t (glibc gnu_dev_major/minor).
      const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
      out.push({ path, type: e.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) });
    }
  }
  return out;
}
