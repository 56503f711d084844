import { access, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import { delimiter, join } from 'node:path';

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
}

export async function hostFacts(): Promise<HostFacts> {
  const release = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?`, 'm').exec(release)?.[1] ?? '';
  return {
    kernelVersion: os.release(),
    operatingSystem: field('PRETTY_NAME') || 'Linux',
    osVersion: field('VERSION_ID'),
    architecture: os.machine(),
    ncpu: os.cpus().length,
    memTotal: os.totalmem(),
    hostname: os.hostname(),
    cgroupVersion: await cgroupVersion(),
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
