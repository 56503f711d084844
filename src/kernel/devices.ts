import { readdir, realpath, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument } from '../errors/index.js';

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
      if (st) out.push(device(path, st));
    }
  }
  return out;
}

/**
 * `--device`, as moby's DevicesFromPath: the device node at `path` (a symlink resolved), or every device node under
 * it when it is a directory; none when it is neither.
 */
export async function devicesAt(path: string): Promise<HostDevice[]> {
  const resolved = await realpath(path);
  const st = await stat(resolved, { bigint: true });
  if (st.isCharacterDevice() || st.isBlockDevice()) return [device(resolved, st)];
  if (!st.isDirectory()) return [];
  const out: HostDevice[] = [];
  for (const e of await readdir(resolved, { withFileTypes: true })) {
    if (e.isDirectory() || e.isCharacterDevice() || e.isBlockDevice()) out.push(...(await devicesAt(join(resolved, e.name)).catch(() => [])));
  }
  return out;
}

function device(path: string, st: BigIntStats): HostDevice {
  // Linux's encoding of dev_t (glibc gnu_dev_major/minor).
  const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
  const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
  return { path, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/** The numbers of the block device at `path` (for per-device I/O limits); anything else is refused. */
export async function blockDevice(path: string): Promise<{ major: number; minor: number }> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  if (!st?.isBlockDevice()) throw new InvalidArgument(`${path} is not a block device`);
  const { major, minor } = device(path, st);
  return { major, minor };
}
