// Which OCI runtimes work on this host, and how fast: each runs a one-process container once at daemon start.
// A runtime may be installed and still fail here (Debian's crun 1.8.1 refuses the hybrid cgroup layout of
// these machines), so presence on PATH is not enough.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeAll } from '../kernel/fs.js';
import { buildSpec } from './spec.js';

const run = promisify(execFile);

export interface ProbeResult {
  name: string;
  path: string;
  ok: boolean;
  /** Wall time of `run` for a container that exits at once (the lower, the faster). */
  ms: number;
  error?: string;
}

/**
 * Runs `busybox true` with each runtime in a scratch bundle under `dir` (busybox copied from the host's
 * busybox-static), the container in a private cgroup under `cgroupParent`; removes everything after.
 */
export async function probeRuntimes(
  runtimes: Array<{ name: string; path: string }>,
  o: { dir: string; busybox: string; cgroupParent: string; cgroupVersion: '1' | '2' },
): Promise<ProbeResult[]> {
  const rootfs = join(o.dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile(o.busybox, join(rootfs, 'bin', 'busybox'));
  try {
    const results: ProbeResult[] = [];
    // One at a time: the timings compare runtimes, and must not compete with each other.
    for (const r of runtimes) results.push(await probeOne(r, rootfs, o));
    return results;
  } finally {
    await removeAll(o.dir);
  }
}

async function probeOne(r: { name: string; path: string }, rootfs: string, o: { dir: string; cgroupParent: string; cgroupVersion: '1' | '2' }): Promise<ProbeResult> {
  const id = `berth-probe-${r.name}-${process.pid}`;
  const bundle = join(o.dir, r.name);
  await mkdir(bundle, { recursive: true });
  const spec = buildSpec({
    rootfs,
    args: ['/bin/busybox', 'true'],
    env: [],
    cwd: '/',
    uid: 0,
    gid: 0,
    hostname: 'probe',
    cgroupsPath: `/${o.cgroupParent}/${id}`,
    cgroupns: o.cgroupVersion === '2',
    readonlyRootfs: true,
  });
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  const root = join(o.dir, `state-${r.name}`);
  const started = performance.now();
  try {
    await run(r.path, [`--root=${root}`, 'run', '--bundle', bundle, id], { timeout: 10_000 });
    return { ...r, ok: true, ms: performance.now() - started };
  } catch (e) {
    const stderr = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
    return { ...r, ok: false, ms: performance.now() - started, error: stderr.split('\n').at(-1) ?? stderr };
  } finally {
    await run(r.path, [`--root=${root}`, 'delete', '--force', id]).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}
