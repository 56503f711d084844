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

/**
 * Whether the kernel's OOM killer has killed a process of this cgroup (v1 `memory.oom_control`, v2
 * `memory.events`): how a container's exit is known to be an out-of-memory kill. Read before the runtime
 * deletes the cgroup.
 */
export async function oomKilled(cgroupsPath: string, version: '1' | '2'): Promise<boolean> {
  const file = version === '2' ? join('/sys/fs/cgroup', cgroupsPath, 'memory.events') : join('/sys/fs/cgroup/memory', cgroupsPath, 'memory.oom_control');
  const text = await readFile(file, 'utf8').catch(() => '');
  return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0) > 0;
}
