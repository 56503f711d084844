// `GET /containers/{id}/stats`: a container's resource usage in Docker's stats JSON, sampled from its cgroup.
import { zeroTime } from '../../util/timestamp.js';
import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgument, NotFound } from '../../errors/index.js';
import { type BlkioEntry, type CgroupCounters, cgroupCounters, hostCpuTime } from '../../kernel/cgroups.js';
import type { ContainerRecord, ContainerService } from './index.js';

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface MemoryStats {
  usage?: number;
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

type BlkioList = BlkioEntry[] | null;

export interface BlkioStats {
  io_service_bytes_recursive: BlkioList;
  io_serviced_recursive: BlkioList;
  io_queue_recursive: BlkioList;
  io_service_time_recursive: BlkioList;
  io_wait_time_recursive: BlkioList;
  io_merged_recursive: BlkioList;
  io_time_recursive: BlkioList;
  sectors_recursive: BlkioList;
}

/** The Engine API's ContainerStatsResponse, keys in dockerd's order; zero values left out where dockerd omits them. */
export interface StatsJSON {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  name: string;
  id: string;
}

export interface StatsOptions {
  /** A frame per second until the client goes or the container is removed; else one frame. */
  stream: boolean;
  /** With `stream: false`: answer at once, without the earlier read that lets a client compute CPU %. */
  oneShot: boolean;
  /** Ends a stream (the client disconnected). */
  signal?: AbortSignal;
}

/** What stats needs of the container service. */
export type StatsSource = Pick<ContainerService, 'resolve' | 'cgroupOf'>;

/** dockerd's collector samples every second. */
const streamIntervalMs = 1000;
/** Between the two reads of a non-streamed answer: long enough for a CPU % within a point or two. */
const primeIntervalMs = 500;

/**
 * The stats frames of a container: throws NotFound (no such container) or InvalidArgument (stream with one-shot)
 * at once, before a response is started. A container that is not running gets dockerd's zeroed frames.
 */
export function containerStats(containers: StatsSource, idOrName: string, o: StatsOptions): AsyncGenerator<StatsJSON> {
  const c = containers.resolve(idOrName);
  if (o.stream && o.oneShot) throw new InvalidArgument('cannot have stream=true and one-shot=true');
  return o.stream ? streamed(containers, c.id, o.signal) : single(containers, c, o.oneShot, o.signal);
}

/** What the next frame's `precpu_stats`/`preread` are: the frame before it (zeros for the first). */
interface Previous {
  read: string;
  cpu: CpuStats;
}

const nothingBefore = (): Previous => ({ read: zeroTime, cpu: zeroCpu() });

async function* single(containers: StatsSource, c: ContainerRecord, oneShot: boolean, signal?: AbortSignal): AsyncGenerator<StatsJSON> {
  let previous = nothingBefore();
  if (!oneShot) {
    const first = await measure(containers, c);
    if (first) previous = { read: first.read, cpu: cpuStats(first) };
    if (!(await pause(primeIntervalMs, signal))) return;
  }
  const now = await measure(containers, c);
  yield now ? frame(c, now, previous) : idle(c, previous);
}

async function* streamed(containers: StatsSource, id: string, signal?: AbortSignal): AsyncGenerator<StatsJSON> {
  let previous = nothingBefore();
  for (;;) {
    let c: ContainerRecord;
    try {
      c = containers.resolve(id);
    } catch (e) {
      if (e instanceof NotFound) return; // removed: dockerd ends the stream too
      throw e;
    }
    // A stopped container keeps getting (zeroed) frames, as from dockerd: it may be started again.
    const now = await measure(containers, c);
    const f = now ? frame(c, now, previous) : idle(c, previous);
    yield f;
    previous = { read: f.read, cpu: f.cpu_stats };
    if (!(await pause(streamIntervalMs, signal))) return;
  }
}

/** Waits, unless aborted first; false when aborted (the timer is cleared then). */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  return sleep(ms, undefined, signal ? { signal } : {}).then(
    () => true,
    () => false,
  );
}

interface Measured {
  read: string;
  version: '1' | '2';
  counters: CgroupCounters;
  host: { totalNs: number; onlineCpus: number };
}

/** One read of the container's cgroup and the host's CPU time; undefined when the container is not running. */
async function measure(containers: StatsSource, c: ContainerRecord): Promise<Measured | undefined> {
  if (c.state.status !== 'running' && c.state.status !== 'paused') return undefined;
  const { path, version } = containers.cgroupOf(c);
  try {
    const [counters, host] = await Promise.all([cgroupCounters(path, version), hostCpuTime()]);
    return { read: new Date().toISOString(), version, counters, host };
  } catch (e) {
    if (e instanceof NotFound) return undefined; // it exited between the check and the read
    throw e;
  }
}

function frame(c: ContainerRecord, m: Measured, previous: Previous): StatsJSON {
  const { pids, io } = m.counters;
  return {
    read: m.read,
    preread: previous.read,
    pids_stats: { ...(pids.current > 0 && { current: pids.current }), ...(pids.limit !== undefined && { limit: pids.limit }) },
    blkio_stats: blkioStats(io, m.version),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(m),
    precpu_stats: previous.cpu,
    memory_stats: memoryStats(m.counters.memory),
    name: `/${c.name}`,
    id: c.id,
  };
}

/** dockerd's frame for a container that is not running: name and ID, every counter zero or left out. */
function idle(c: ContainerRecord, previous: Previous): StatsJSON {
  return {
    read: zeroTime,
    preread: previous.read,
    pids_stats: {},
    blkio_stats: blkioLists(() => null),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    precpu_stats: previous.cpu,
    memory_stats: {},
    name: `/${c.name}`,
    id: c.id,
  };
}

function zeroCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

function cpuStats(m: Measured): CpuStats {
  const cpu = m.counters.cpu;
  return {
    cpu_usage: {
      total_usage: cpu.usageNs,
      ...(cpu.perCpuNs && cpu.perCpuNs.length > 0 && { percpu_usage: cpu.perCpuNs }),
      usage_in_kernelmode: cpu.systemNs,
      usage_in_usermode: cpu.userNs,
    },
    system_cpu_usage: m.host.totalNs,
    online_cpus: m.host.onlineCpus,
    throttling_data: { periods: cpu.periods, throttled_periods: cpu.throttledPeriods, throttled_time: cpu.throttledNs },
  };
}

/** Without a limit of its own a container's limit is the host's memory (the kernel reports a huge number). */
function memoryStats(mem: CgroupCounters['memory']): MemoryStats {
  return {
    ...(mem.usage > 0 && { usage: mem.usage }),
    ...(mem.maxUsage !== undefined && mem.maxUsage > 0 && { max_usage: mem.maxUsage }),
    stats: mem.stats,
    ...(mem.failcnt > 0 && { failcnt: mem.failcnt }),
    limit: Math.min(mem.limit, totalmem()),
  };
}

function blkioLists(list: (key: keyof BlkioStats) => BlkioList): BlkioStats {
  const keys: Array<keyof BlkioStats> = [
    'io_service_bytes_recursive',
    'io_serviced_recursive',
    'io_queue_recursive',
    'io_service_time_recursive',
    'io_wait_time_recursive',
    'io_merged_recursive',
    'io_time_recursive',
    'sectors_recursive',
  ];
  return Object.fromEntries(keys.map((k) => [k, list(k)])) as unknown as BlkioStats;
}

/**
 * v1: bytes and operations, the other (CFQ-only) lists empty; v2: bytes only and the rest null, as dockerd
 * reports them.
 */
function blkioStats(io: CgroupCounters['io'], version: '1' | '2'): BlkioStats {
  if (version === '2') return blkioLists((k) => (k === 'io_service_bytes_recursive' && io.serviceBytes.length ? io.serviceBytes : null));
  return blkioLists((k) => (k === 'io_service_bytes_recursive' ? io.serviceBytes : k === 'io_serviced_recursive' ? io.serviced : []));
}
