import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * PIDs in a container's cgroup (`cgroupsPath` as given to the runtime), read from the pids controller on
 * cgroup v1 hosts and from the unified hierarchy on v2.
 */
export async function cgroupPids(cgroupsPath: string, version: '1' | '2'): Promise<number[]> {
  const base = version === '2' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
  const text = await readFile(join(base, cgroupsPath, 'cgroup.procs'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number);
}
