import { access, readFile, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Facts about the host that `info` and `version` report, read once. */
export interface HostFacts {
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  hostname: string;
  /** "1" on a v1 or hybrid hierarchy (controllers on v1), "2" on a unified one. */
  cgroupVersion: '1' | '2';
  /** Limits the cgroup controllers can enforce here (dockerd's sysinfo). */
  swapLimit: boolean;
  blkioWeight: boolean;
  memorySwappiness: boolean;
  cpuRealtime: boolean;
  blkioThrottle: boolean;
  /** Whether the kernel runs x32 binaries (CONFIG_X86_X32_ABI); undefined when its config cannot be read. */
  x32Abi?: boolean;
}

export async function hostFacts(): Promise<HostFacts> {
  const release = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const version = await cgroupVersion();
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?`, 'm').exec(release)?.[1] ?? '';
  return {
    kernelVersion: os.release(),
    operatingSystem: field('PRETTY_NAME') || 'Linux',
    osVersion: field('VERSION_ID'),
    architecture: os.machine(),
    ncpu: os.cpus().length,
    memTotal: os.totalmem(),
    hostname: os.hostname(),
    ...(await cgroupFeatures(version)),
    cgroupVersion: version,
    ...(await x32Abi()),
  };
}

/** From the kernel's build configuration: /proc/config.gz, else Debian's /boot/config-<release>. */
async function x32Abi(): Promise<{ x32Abi?: boolean }> {
  const config =
    (await readFile('/proc/config.gz').then((z) => gunzipSync(z).toString('latin1'), () => undefined)) ??
    (await readFile(`/boot/config-${os.release()}`, 'latin1').catch(() => undefined));
  if (config === undefined) return {};
  return { x32Abi: /^CONFIG_X86_X32_ABI=y$/m.test(config) };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/**
 * What the controllers enforce here, as dockerd's sysinfo: swap limits need swap accounting (v1 memsw files, v2
 * memory.swap.max), blkio weight needs BFQ or CFQ; swappiness and real-time CPU time exist on v1 only.
 */
type CgroupFeatures = Pick<HostFacts, 'swapLimit' | 'blkioWeight' | 'memorySwappiness' | 'cpuRealtime' | 'blkioThrottle'>;
async function cgroupFeatures(version: '1' | '2'): Promise<CgroupFeatures> {
  if (version === '1') {
    const v1 = (file: string) => exists(join('/sys/fs/cgroup', file.split('.')[0] ?? '', file));
    return {
      swapLimit: await v1('memory.memsw.limit_in_bytes'),
      blkioWeight: (await v1('blkio.weight')) || (await v1('blkio.bfq.weight')),
      memorySwappiness: await v1('memory.swappiness'),
      cpuRealtime: await v1('cpu.rt_runtime_us'),
      blkioThrottle: await v1('blkio.throttle.read_bps_device'),
    };
  }
  // The root of a v2 hierarchy has no interface files: look one level down, where the controllers apply.
  const child = (await readdir('/sys/fs/cgroup', { withFileTypes: true }).catch(() => [])).find((e) => e.isDirectory());
  const dir = child ? join('/sys/fs/cgroup', child.name) : '/sys/fs/cgroup';
  return {
    swapLimit: await exists(join(dir, 'memory.swap.max')),
    blkioWeight: (await exists(join(dir, 'io.weight'))) || (await exists(join(dir, 'io.bfq.weight'))),
    memorySwappiness: false,
    cpuRealtime: false,
    blkioThrottle: await exists(join(dir, 'io.max')),
  };
}

async function cgroupVersion(): Promise<'1' | '2'> {
  // On a unified hierarchy /sys/fs/cgroup itself is cgroup2 and has cgroup.controllers at its top.
  try {
    await stat('/sys/fs/cgroup/cgroup.controllers');
    return '2';
  } catch {
    return '1';
  }
}

/** Absolute path of an executable found on PATH, or undefined. */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
