import type { Command } from 'commander';
import type { IncomingMessage } from 'node:http';
import type { EngineClient } from '../../client/index.js';
import { type Cli, CliError, ExitCode, describeError } from '../context.js';
import { renderList } from '../format/formatter.js';
import { formatFloat } from '../format/gofmt.js';
import { bytesSize, humanSize } from '../format/units.js';

/** The parts of a stats frame (Engine API ContainerStatsResponse) the CLI reads. */
interface CpuFrame {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}
export interface StatsFrame {
  name?: string;
  id?: string;
  cpu_stats?: CpuFrame;
  precpu_stats?: CpuFrame;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
  pids_stats?: { current?: number };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

/** One container's usage as docker's CLI computes it from a frame (its StatsEntry). */
export interface Usage {
  name: string;
  id: string;
  cpuPercent: number;
  memory: number;
  memoryLimit: number;
  memoryPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

const noUsage: Usage = { name: '', id: '', cpuPercent: 0, memory: 0, memoryLimit: 0, memoryPercent: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 };

/** Share of the host's CPU time between the two reads of a frame, scaled to CPUs (200% = two CPUs busy). */
function cpuPercent(f: StatsFrame): number {
  const cpuDelta = (f.cpu_stats?.cpu_usage?.total_usage ?? 0) - (f.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (f.cpu_stats?.system_cpu_usage ?? 0) - (f.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = f.cpu_stats?.online_cpus || f.cpu_stats?.cpu_usage?.percpu_usage?.length || 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
}

/** Usage without the page cache that can be dropped: v1 `total_inactive_file`, v2 `inactive_file` (docker's rule). */
function memoryWithoutCache(mem: NonNullable<StatsFrame['memory_stats']>): number {
  const usage = mem.usage ?? 0;
  const v1 = mem.stats?.['total_inactive_file'];
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = mem.stats?.['inactive_file'] ?? 0;
  return v2 < usage ? usage - v2 : usage;
}

function blockIO(f: StatsFrame): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const e of f.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op[0]?.toLowerCase();
    if (op === 'r') read += e.value;
    else if (op === 'w') write += e.value;
  }
  return { read, write };
}

export function usageOf(f: StatsFrame): Usage {
  const memory = memoryWithoutCache(f.memory_stats ?? {});
  const memoryLimit = f.memory_stats?.limit ?? 0;
  const nets = Object.values(f.networks ?? {});
  const block = blockIO(f);
  return {
    name: f.name ?? '',
    id: f.id ?? '',
    cpuPercent: cpuPercent(f),
    memory,
    memoryLimit,
    memoryPercent: memoryLimit !== 0 ? (memory / memoryLimit) * 100 : 0,
    netRx: nets.reduce((sum, n) => sum + (n.rx_bytes ?? 0), 0),
    netTx: nets.reduce((sum, n) => sum + (n.tx_bytes ?? 0), 0),
    blockRead: block.read,
    blockWrite: block.write,
    pids: f.pids_stats?.current ?? 0,
  };
}

const noValue = '--';
const percent = (x: number) => `${formatFloat(x, 'f', 2)}%`;

/** A table row with docker's fields; `invalid` (no fresh data: error or timeout) shows dashes, as docker does. */
export function statsRow(container: string, u: Usage, invalid: boolean, trunc: boolean): Record<string, string> {
  return {
    Container: container,
    Name: u.name.length > 1 ? u.name.slice(1) : noValue,
    ID: trunc ? u.id.replace(/^[^:]*:/, '').slice(0, 12) : u.id,
    CPUPerc: invalid ? noValue : percent(u.cpuPercent),
    MemUsage: invalid ? '-- / --' : `${bytesSize(u.memory)} / ${bytesSize(u.memoryLimit)}`,
    MemPerc: invalid ? noValue : percent(u.memoryPercent),
    NetIO: invalid ? noValue : `${humanSize(u.netRx)} / ${humanSize(u.netTx)}`,
    BlockIO: invalid ? noValue : `${humanSize(u.blockRead)} / ${humanSize(u.blockWrite)}`,
    PIDs: invalid ? noValue : String(u.pids),
  };
}

const defaultTable = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const headers = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

/** docker marks a container's numbers stale after this long without a frame. */
const updateTimeoutMs = 2000;
/** docker redraws twice a second. */
const redrawMs = 500;

/**
 * Reads one container's stats response (one frame, or a frame per second) and keeps its latest usage, as the
 * docker CLI's per-container collector does.
 */
class Collector {
  usage: Usage = noUsage;
  invalid = false;
  error: unknown;
  /** Settles at the first frame, error or timeout: the table is first drawn when every collector got this far. */
  readonly firstSeen: Promise<void>;
  private seen!: () => void;
  private res: IncomingMessage | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(readonly container: string) {
    this.firstSeen = new Promise((resolve) => (this.seen = resolve));
  }

  async run(client: EngineClient, stream: boolean): Promise<void> {
    this.armTimeout(stream);
    try {
      this.res = await client.call('GET', `/containers/${encodeURIComponent(this.container)}/stats`, { query: { stream: stream ? '1' : '0' } });
      if (this.stopped) this.res.destroy();
      await client.messages(this.res, (m) => {
        this.usage = usageOf(m as StatsFrame);
        this.invalid = false;
        this.error = undefined;
        this.seen();
        this.armTimeout(stream);
      });
      if (stream && !this.stopped) this.fail(new Error('EOF')); // the container was removed
    } catch (e) {
      if (!this.stopped) this.fail(e);
    } finally {
      clearTimeout(this.timer);
      this.seen();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.res?.destroy();
  }

  fail(e: unknown): void {
    this.error = e;
    this.invalid = true;
    this.seen();
  }

  private armTimeout(stream: boolean): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.usage = { ...noUsage, name: this.usage.name, id: this.usage.id };
      this.fail(new Error('timeout waiting for stats'));
      if (stream) this.armTimeout(stream);
    }, updateTimeoutMs);
  }
}

interface StatsFlags {
  all?: boolean;
  stream: boolean;
  trunc: boolean;
  format?: string;
}

/** The containers being shown, in the order they were added; each name once. */
class Collectors {
  readonly list: Collector[] = [];
  constructor(
    private readonly client: EngineClient,
    private readonly stream: boolean,
  ) {}

  add(container: string): void {
    if (this.list.some((c) => c.container === container)) return;
    const c = new Collector(container);
    this.list.push(c);
    c.run(this.client, this.stream).catch((e: unknown) => c.fail(e)); // shown in the container's row
  }

  remove(container: string): void {
    const i = this.list.findIndex((c) => c.container === container);
    if (i >= 0) this.list.splice(i, 1)[0]?.stop();
  }

  firstSeen(): Promise<void> {
    return Promise.all(this.list.map((c) => c.firstSeen)).then(() => {});
  }

  stopAll(): void {
    for (const c of this.list) c.stop();
  }
}

/** The set of containers shown without names, kept current by the event stream while streaming. */
interface Watch {
  stop(): void;
  /** Settles when the event stream ends (the daemon went away); never while not streaming. */
  ended: Promise<void>;
}

/**
 * Without names: the running (or, with `-a`, all) containers, and when streaming, those that start (or are
 * created) later, dropped when they die (without `-a`) or are removed.
 */
async function watchContainers(cli: Cli, collectors: Collectors, o: StatsFlags): Promise<Watch> {
  const client = cli.client();
  let events: IncomingMessage | undefined;
  let ended = new Promise<void>(() => {});
  if (o.stream) {
    // Subscribed before listing, so that a container started in between is not missed.
    events = await client.call('GET', '/events', { query: { filters: JSON.stringify({ type: ['container'] }) } });
    const adds = o.all ? ['start', 'create'] : ['start'];
    const removes = o.all ? ['destroy'] : ['destroy', 'die'];
    ended = client.messages(events, (e) => {
      const id = String((e['Actor'] as { ID?: string } | undefined)?.ID ?? '').slice(0, 12);
      if (!id) return;
      if (adds.includes(String(e['Action']))) collectors.add(id);
      else if (removes.includes(String(e['Action']))) collectors.remove(id);
    });
  }
  const list = await client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: o.all } });
  for (const c of list) collectors.add(c.Id.slice(0, 12));
  return { stop: () => events?.destroy(), ended };
}

function render(collectors: Collectors, o: StatsFlags): string {
  const rows = collectors.list.map((c) => statsRow(c.container, c.usage, c.invalid, o.trunc));
  return renderList(rows, { format: o.format, defaultTable, headers, typeName: '*container.statsContext' });
}

/** A redraw: cursor home, each line followed by erase-to-end-of-line, then erase below (docker's sequence). */
function screen(text: string): string {
  return '\x1b[H' + text.split('\n').map((l) => `${l}\x1b[K\n`).join('') + '\x1b[J';
}

async function stats(cli: Cli, names: string[], o: StatsFlags): Promise<void> {
  const collectors = new Collectors(cli.client(), o.stream);
  const showAll = names.length === 0;
  let watch: Watch | undefined;
  if (showAll) watch = await watchContainers(cli, collectors, o);
  else for (const n of names) collectors.add(n);
  await collectors.firstSeen();
  if (!showAll) {
    const errors = collectors.list.filter((c) => c.error !== undefined).map((c) => describeError(c.error));
    if (errors.length) {
      collectors.stopAll();
      throw new CliError(errors.join('\n'), ExitCode.Failure);
    }
  }
  if (!o.stream) {
    process.stdout.write(render(collectors, o));
    return;
  }
  try {
    await redraw(collectors, o, showAll, watch?.ended);
  } finally {
    collectors.stopAll();
    watch?.stop();
  }
}

/**
 * Redraws twice a second until interrupted (Ctrl-C ends the process), until no named container is left, or
 * until the daemon goes away (the event stream ends: quietly, as docker does on EOF).
 */
function redraw(collectors: Collectors, o: StatsFlags, showAll: boolean, eventsEnded?: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (e?: unknown) => {
      clearInterval(tick);
      if (e === undefined) resolve();
      else reject(e);
    };
    const tick = setInterval(() => {
      try {
        if (collectors.list.length === 0 && !showAll) {
          process.stdout.write('\x1b[H\x1b[J');
          finish();
          return;
        }
        process.stdout.write(screen(render(collectors, o)));
      } catch (e) {
        finish(e);
      }
    }, redrawMs);
    eventsEnded?.then(() => finish(), () => finish());
  });
}

export function registerStatsCommands(program: Command, container: Command, cli: Cli): void {
  const cmd = (c: Command) =>
    c
      .argument('[CONTAINER...]')
      .option('-a, --all', 'Show all containers (default shows just running)')
      .option('--no-stream', 'Disable streaming stats and only pull the first result')
      .option('--no-trunc', 'Do not truncate output')
      .option('--format <string>', 'Format output using a custom template')
      .action((names: string[], o: StatsFlags) => stats(cli, names, o));
  cmd(program.command('stats').description('Display a live stream of container(s) resource usage statistics'));
  cmd(container.command('stats').description('Display a live stream of container(s) resource usage statistics'));
}
