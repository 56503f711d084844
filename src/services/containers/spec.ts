// From a container's record to its OCI runtime spec: user lookup in the image, capabilities, seccomp, devices,
// namespaces, limits and the init binary — the policy half of `buildSpec`.
import { InvalidArgument } from '../../errors/index.js';
import { hostDevices } from '../../kernel/devices.js';
import { ScopedRoot } from '../../kernel/scoped.js';
import {
  type LinuxResources,
  type NamespaceType,
  type RuntimeSpec,
  type SeccompProfile,
  buildSpec,
  containerCapabilities,
  parseSeccompProfile,
  seccompForContainer,
} from '../../runtime/index.js';
import type { ContainerRecord } from './index.js';
import { type Resources, securityOptions } from './hostconfig.js';

/** Where docker mounts its init (tini) in a container started with --init. */
const initDestination = '/sbin/docker-init';

export interface SpecContext {
  rootfs: string;
  cgroupsPath: string;
  cgroupVersion: '1' | '2';
  /** Daemon's default seccomp profile (Docker format), if the host has one. */
  defaultSeccomp: () => Promise<SeccompProfile | undefined>;
  /** A static init binary for --init (tini), if installed. */
  initPath?: string;
  /** `/proc/<pid>/ns/<type>` of another running container, for `container:<name>` modes. */
  namespaceOf: (container: string, type: NamespaceType) => string;
}

export async function containerSpec(c: ContainerRecord, x: SpecContext): Promise<RuntimeSpec> {
  const hc = c.hostConfig;
  const { uid, gid } = await resolveUser(x.rootfs, c.config.User);
  const capabilities = containerCapabilities({ add: hc.CapAdd, drop: hc.CapDrop, privileged: hc.Privileged });
  const security = securityOptions(hc);
  const seccompProfile = security.seccomp === 'unconfined' ? undefined : security.seccomp ? parseSeccompProfile(security.seccomp) : await x.defaultSeccomp();
  const joinNamespaces: Partial<Record<NamespaceType, string>> = {};
  const modes: Array<[NamespaceType, string]> = [['pid', hc.PidMode], ['ipc', hc.IpcMode], ['uts', hc.UTSMode], ['network', hc.NetworkMode]];
  for (const [type, mode] of modes) {
    if (mode === 'host') joinNamespaces[type] = 'host';
    else if (mode.startsWith('container:')) joinNamespaces[type] = x.namespaceOf(mode.slice('container:'.length), type);
  }
  let args = [c.path, ...c.args];
  const mounts = [];
  if (hc.Init) {
    if (!x.initPath) throw new InvalidArgument('--init: no init binary (tini) is installed on this host');
    mounts.push({ destination: initDestination, type: 'bind', source: x.initPath, options: ['bind', 'ro'] });
    args = [initDestination, '--', ...args];
  }
  return buildSpec({
    rootfs: x.rootfs,
    args,
    env: c.config.Env,
    cwd: c.config.WorkingDir || '/',
    uid,
    gid,
    ...(hc.UTSMode !== 'host' && { hostname: c.config.Hostname }),
    cgroupsPath: x.cgroupsPath,
    cgroupVersion: x.cgroupVersion,
    terminal: c.config.Tty,
    ...(hc.ConsoleSize && { consoleSize: hc.ConsoleSize }),
    readonlyRootfs: hc.ReadonlyRootfs,
    joinNamespaces,
    capabilities,
    privileged: hc.Privileged,
    ...(hc.Privileged && { devices: await hostDevices() }),
    noNewPrivileges: !!security.noNewPrivileges,
    ...(seccompProfile && { seccomp: seccompForContainer(seccompProfile, { capabilities }) }),
    rlimits: (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })),
    resources: ociResources(hc),
    shmSize: hc.ShmSize,
    mounts,
  });
}

/** Engine API resources in the runtime spec's terms (also the body of a live `runc update`). */
export function ociResources(r: Resources): Omit<LinuxResources, 'devices'> {
  const cpuPeriod = r.NanoCpus ? 100_000 : r.CpuPeriod;
  const cpuQuota = r.NanoCpus ? Math.round((r.NanoCpus * 100_000) / 1e9) : r.CpuQuota;
  const memory = {
    ...(r.Memory > 0 && { limit: r.Memory }),
    ...(r.MemoryReservation > 0 && { reservation: r.MemoryReservation }),
    ...(r.MemorySwap !== 0 && { swap: r.MemorySwap }),
    ...(r.OomKillDisable && { disableOOMKiller: true }),
  };
  const cpu = {
    ...(r.CpuShares > 0 && { shares: r.CpuShares }),
    ...(cpuPeriod > 0 && { period: cpuPeriod }),
    ...(cpuQuota !== 0 && { quota: cpuQuota }),
    ...(r.CpusetCpus && { cpus: r.CpusetCpus }),
    ...(r.CpusetMems && { mems: r.CpusetMems }),
  };
  return {
    ...(Object.keys(memory).length && { memory }),
    ...(Object.keys(cpu).length && { cpu }),
    ...(r.PidsLimit && { pids: { limit: r.PidsLimit } }),
    ...(r.BlkioWeight > 0 && { blockIO: { weight: r.BlkioWeight } }),
  };
}

/** `user[:group]` resolved in the container's rootfs (see lookupUser). */
export function resolveUser(rootfs: string, user: string): Promise<{ uid: number; gid: number }> {
  if (!user) return Promise.resolve({ uid: 0, gid: 0 });
  return ScopedRoot.with(rootfs, (r) => lookupUser(r, user));
}

/**
 * `user[:group]` as numeric IDs, by number or by name from the container's own /etc/passwd and /etc/group, read
 * inside its root (an image's /etc/passwd may be a symlink to anywhere). A UID without a passwd entry gets GID 0.
 */
export async function lookupUser(r: ScopedRoot, user: string): Promise<{ uid: number; gid: number }> {
  const [u = '', g] = user.split(':');
  const table = async (file: string) =>
    ((await r.readFile(`/etc/${file}`))?.toString('utf8') ?? '')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => f.length >= 3);
  let uid = 0;
  let gid = 0;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = Number((await table('passwd')).find((f) => Number(f[2]) === uid)?.[3] ?? 0);
  } else if (u) {
    const entry = (await table('passwd')).find((f) => f[0] === u);
    if (!entry) throw new InvalidArgument(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = (await table('group')).find((f) => f[0] === g);
      if (!entry) throw new InvalidArgument(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}

/** Image env first, then the container's, later keys replacing earlier ones in place. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const key = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === key);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}
