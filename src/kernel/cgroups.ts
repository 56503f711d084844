import { readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFound } from '../errors/index.js';

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

/** One per-device I/O counter: bytes or operations of one kind (`Read`, `Write`, … on v1; `read`, `write` on v2). */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** A cgroup's raw resource counters, in the kernel's units turned into bytes and nanoseconds. */
export interface CgroupCounters {
  cpu: {
    /** CPU time of all tasks, ns. */
    usageNs: number;
    /** The same per CPU, ns (v1 only: v2 has no per-CPU accounting). */
    perCpuNs?: number[];
    userNs: number;
    systemNs: number;
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  memory: {
    usage: number;
    /** High-water mark of `usage` (v1 only). */
    maxUsage?: number;
    /** Bytes; v1 reports "unlimited" as a huge number, v2's `max` is Infinity here. */
    limit: number;
    /** v1: times the limit was hit; v2: OOM events (`memory.events` oom). */
    failcnt: number;
    /** `memory.stat` as the kernel writes it (v1 `total_*` keys and v2 keys differ). */
    stats: Record<string, number>;
  };
  pids: { current: number; /** Absent when unlimited. */ limit?: number };
  io: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

/** Counters can be near 2^64, beyond a double's integers; JSON of anything ≥ 2^64 would not decode as Go's uint64. */
const maxCounter = 2 ** 63;

function counter(text: string | undefined): number {
  const n = Number(text?.trim() ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.min(n, maxCounter) : 0;
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat). */
function flatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out[key] = counter(value);
  }
  return out;
}

/** v1 blkio files: `major:minor Op value` lines; the closing `Total value` line (all devices) is left out. */
function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, op, value] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(device ?? '');
    if (m && op && value !== undefined) out.push({ major: Number(m[1]), minor: Number(m[2]), op, value: counter(value) });
  }
  return out;
}

/** v2 `io.stat`: `major:minor rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…` per device. */
function parseIoStatV2(text: string | undefined): CgroupCounters['io'] {
  const io: CgroupCounters['io'] = { serviceBytes: [], serviced: [] };
  for (const line of (text ?? '').split('\n')) {
    const [device, ...fields] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(fields.map((f) => f.split('=') as [string, string]));
    const entry = (op: string, value: string | undefined) => ({ major: Number(m[1]), minor: Number(m[2]), op, value: counter(value) });
    io.serviceBytes.push(entry('read', kv['rbytes']), entry('write', kv['wbytes']));
    io.serviced.push(entry('read', kv['rios']), entry('write', kv['wios']));
  }
  return io;
}

/** `max` (no limit) or a number. */
function limitOf(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t === undefined || t === '' || t === 'max' ? undefined : counter(t);
}

/** USER_HZ: the unit of cpuacct.stat and /proc/stat (100 on every Linux architecture Berth runs on). */
const nsPerTick = 1e9 / 100;

function missing(cgroupsPath: string): NotFound {
  return new NotFound(`cgroup ${cgroupsPath} not found`);
}

async function countersV1(cgroupsPath: string, root: string): Promise<CgroupCounters> {
  // Hybrid and v1 hosts: one hierarchy per controller (cpu and cpuacct may be one mount with both names linked).
  const at = (controller: string, file: string) => readText(join(root, controller, cgroupsPath, file));
  const [usage, perCpu, cpuacctStat, cpuStat, memUsage, memMax, memLimit, memFailcnt, memStat, pidsCurrent, pidsMax, bytesRec, bytes, iosRec, ios] = await Promise.all([
    at('cpuacct', 'cpuacct.usage'),
    at('cpuacct', 'cpuacct.usage_percpu'),
    at('cpuacct', 'cpuacct.stat'),
    at('cpu', 'cpu.stat'),
    at('memory', 'memory.usage_in_bytes'),
    at('memory', 'memory.max_usage_in_bytes'),
    at('memory', 'memory.limit_in_bytes'),
    at('memory', 'memory.failcnt'),
    at('memory', 'memory.stat'),
    at('pids', 'pids.current'),
    at('pids', 'pids.max'),
    at('blkio', 'blkio.throttle.io_service_bytes_recursive'),
    at('blkio', 'blkio.throttle.io_service_bytes'),
    at('blkio', 'blkio.throttle.io_serviced_recursive'),
    at('blkio', 'blkio.throttle.io_serviced'),
  ]);
  if (usage === undefined) throw missing(cgroupsPath);
  const ticks = flatKeyed(cpuacctStat);
  const throttling = flatKeyed(cpuStat);
  const pidsLimit = limitOf(pidsMax);
  return {
    cpu: {
      usageNs: counter(usage),
      ...(perCpu !== undefined && { perCpuNs: perCpu.trim().split(/\s+/).filter(Boolean).map(counter) }),
      userNs: (ticks['user'] ?? 0) * nsPerTick,
      systemNs: (ticks['system'] ?? 0) * nsPerTick,
      periods: throttling['nr_periods'] ?? 0,
      throttledPeriods: throttling['nr_throttled'] ?? 0,
      throttledNs: throttling['throttled_time'] ?? 0,
    },
    memory: {
      usage: counter(memUsage),
      maxUsage: counter(memMax),
      limit: limitOf(memLimit) ?? Infinity,
      failcnt: counter(memFailcnt),
      stats: flatKeyed(memStat),
    },
    pids: { current: counter(pidsCurrent), ...(pidsLimit !== undefined && { limit: pidsLimit }) },
    // Recent kernels account I/O of v1 cgroups in the recursive files; older ones only have the flat ones.
    io: { serviceBytes: parseBlkioV1(bytesRec ?? bytes), serviced: parseBlkioV1(iosRec ?? ios) },
  };
}

async function countersV2(cgroupsPath: string, root: string): Promise<CgroupCounters> {
  const at = (file: string) => readText(join(root, cgroupsPath, file));
  const [cpuStat, memCurrent, memMax, memEvents, memStat, pidsCurrent, pidsMax, ioStat] = await Promise.all([
    at('cpu.stat'),
    at('memory.current'),
    at('memory.max'),
    at('memory.events'),
    at('memory.stat'),
    at('pids.current'),
    at('pids.max'),
    at('io.stat'),
  ]);
  if (cpuStat === undefined) throw missing(cgroupsPath);
  const cpu = flatKeyed(cpuStat);
  const pidsLimit = limitOf(pidsMax);
  return {
    cpu: {
      usageNs: (cpu['usage_usec'] ?? 0) * 1000,
      userNs: (cpu['user_usec'] ?? 0) * 1000,
      systemNs: (cpu['system_usec'] ?? 0) * 1000,
      periods: cpu['nr_periods'] ?? 0,
      throttledPeriods: cpu['nr_throttled'] ?? 0,
      throttledNs: (cpu['throttled_usec'] ?? 0) * 1000,
    },
    memory: {
      usage: counter(memCurrent),
      limit: limitOf(memMax) ?? Infinity,
      failcnt: flatKeyed(memEvents)['oom'] ?? 0,
      stats: flatKeyed(memStat),
    },
    pids: { current: counter(pidsCurrent), ...(pidsLimit !== undefined && { limit: pidsLimit }) },
    io: parseIoStatV2(ioStat),
  };
}

/**
 * The resource counters of a container's cgroup (`cgroupsPath` as given to the runtime) on a v1/hybrid or a
 * unified (v2) hierarchy mounted at `root`. Throws NotFound when the cgroup is gone (the container has exited);
 * a controller that is not there reads as zeros.
 */
export async function cgroupCounters(cgroupsPath: string, version: '1' | '2', root = '/sys/fs/cgroup'): Promise<CgroupCounters> {
  return version === '2' ? countersV2(cgroupsPath, root) : countersV1(cgroupsPath, root);
}

/**
 * The host's CPU time since boot in ns (user+nice+system+idle+iowait+irq+softirq of /proc/stat's `cpu` line, what
 * dockerd reports as `system_cpu_usage`) and the number of online CPUs (its `cpuN` lines).
 */
export async function hostCpuTime(procStat = '/proc/stat'): Promise<{ totalNs: number; onlineCpus: number }> {
  const text = await readFile(procStat, 'utf8');
  let totalNs = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const [name, ...fields] = line.trim().split(/\s+/);
    if (name === 'cpu') totalNs = fields.slice(0, 7).reduce((sum, f) => sum + counter(f), 0) * nsPerTick;
    else if (name && /^cpu\d+$/.test(name)) onlineCpus++;
  }
  return { totalNs, onlineCpus };
}

/** Whether process `pid` is in the cgroup `cgroupsPath` (guards a signal against a reused pid). */
export async function pidInCgroup(pid: number, cgroupsPath: string): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  return text.split('\n').some((l) => l.endsWith(`:${cgroupsPath}`));
}

/**
 * Removes the cgroup `path` (relative to the hierarchy's root) from every hierarchy that has it and no children
 * in it; one still in use stays (the kernel refuses with EBUSY). For the cgroup parent a stopping berthd made.
 */
export async function removeEmptyCgroup(path: string, root = '/sys/fs/cgroup'): Promise<void> {
  const roots = [root, ...(await readdir(root).catch(() => [] as string[])).map((c) => join(root, c))];
  await Promise.all(roots.map((r) => rmdir(join(r, path)).catch(() => {})));
}
