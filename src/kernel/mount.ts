import { readFile } from 'node:fs/promises';
import { Internal } from '../errors/index.js';
import { runProgram } from './launcher.js';

/** A mount as a value (containerd's "lingua franca"): what to mount, how, and with which options. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/**
 * The one place that mounts and unmounts. Node has no mount(2), so this drives util-linux's `mount`/`umount`
 * (always present on Linux hosts).
 */
export async function mount(m: Mount, target: string): Promise<void> {
  try {
    await runProgram('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target]);
  } catch (e) {
    throw new Internal(`mount ${m.type} on ${target} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`, { cause: e });
  }
}

/**
 * Unmounts `target` if it is mounted (lazily, so a busy mount cannot wedge a removal). Requests that arrive while
 * an `umount` runs are coalesced into the next one (umount takes many targets), so removing many containers at
 * once costs a few processes rather than one each.
 */
export async function unmount(target: string): Promise<void> {
  // Not mounted (the usual case of a removal, after the exit released it): done, without waiting for the queue.
  if (!(await isMounted(target))) return;
  return new Promise((resolve, reject) => {
    const waiters = queued.get(target) ?? [];
    waiters.push({ resolve, reject });
    queued.set(target, waiters);
    if (!unmounting) {
      // drainUnmounts settles every waiter, also when it fails: the failure reaches them, not the process.
      drainUnmounts().catch((e: unknown) => {
        for (const ws of queued.values()) for (const w of ws) w.reject(e as Error);
        queued.clear();
      });
    }
  });
}

type Waiter = { resolve: () => void; reject: (e: Error) => void };
let queued = new Map<string, Waiter[]>();
let unmounting = false;

async function drainUnmounts(): Promise<void> {
  unmounting = true;
  try {
    while (queued.size) {
      const batch = queued;
      queued = new Map();
      try {
        const mounted = await mountPoints();
        const targets = [...batch.keys()].filter((t) => mounted.has(t));
        let failure = '';
        if (targets.length) await runProgram('umount', ['-l', ...targets]).catch((e: { stderr?: string; message: string }) => (failure = e.stderr?.trim() || e.message));
        const still = failure ? await mountPoints() : new Set<string>();
        for (const [target, waiters] of batch) {
          for (const w of waiters) {
            if (still.has(target)) w.reject(new Internal(`umount ${target} failed: ${failure}`));
            else w.resolve();
          }
        }
      } catch (e) {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(e as Error);
      }
    }
  } finally {
    unmounting = false;
  }
}

async function mountPoints(): Promise<Set<string>> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(mounts.split('\n').map((l) => l.split(' ')[4] ?? ''));
}

/** Mount points under `dir` (a crash's leftovers to unmount before the directory is removed), deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  return [...(await mountPoints())].filter((m) => m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

export async function isMounted(target: string): Promise<boolean> {
  return (await mountPoints()).has(target);
}

/** The overlay mount of `lower` (top first) under a writable `upper` with its `work` dir. */
export function overlayMount(lower: string[], upper: string, work: string): Mount {
  return { type: 'overlay', source: 'overlay', options: [`lowerdir=${lower.join(':')}`, `upperdir=${upper}`, `workdir=${work}`] };
}
