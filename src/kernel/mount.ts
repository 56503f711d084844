import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Internal } from '../errors/index.js';

const run = promisify(execFile);

/** A mount as a value (containerd's "lingua franca"): what to mount, how, and with which options. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/**
 * The one place that mounts and unmounts. Node has no mount(2), so this drives util-linux's `mount`/`umount`
 * (always present on Linux hosts); one process per container start or stop.
 */
export async function mount(m: Mount, target: string): Promise<void> {
  try {
    await run('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
  } catch (e) {
    throw new Internal(`mount ${m.type} on ${target} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`, { cause: e });
  }
}

/** Unmounts `target` if it is mounted (lazily, so a busy mount cannot wedge a removal). */
export async function unmount(target: string): Promise<void> {
  if (!(await isMounted(target))) return;
  try {
    await run('umount', ['-l', target]);
  } catch (e) {
    throw new Internal(`umount ${target} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`, { cause: e });
  }
}

export async function isMounted(target: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === target);
}

/** The overlay mount of `lower` (top first) under a writable `upper` with its `work` dir. */
export function overlayMount(lower: string[], upper: string, work: string): Mount {
  return { type: 'overlay', source: 'overlay', options: [`lowerdir=${lower.join(':')}`, `upperdir=${upper}`, `workdir=${work}`] };
}
