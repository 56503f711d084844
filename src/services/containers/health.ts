// Health checks, as dockerd runs them (moby daemon/health.go): while a container with a healthcheck runs (and is
// not paused), its test runs as an exec session every interval (every start interval while it is still starting);
// exit 0 is healthy, anything else a failure, `retries` failures in a row unhealthy, and failures within the
// start period do not count. The last five results are kept, each with up to 4 KiB of output.
import type { EngineEvent, EventBus } from '../system/events.js';
import type { ExecService } from './exec.js';
import type { ContainerService } from './index.js';
import type { ContainerRecord } from './record.js';
import type { Logger } from '../../util/logger.js';
import { supervise } from '../../util/supervise.js';
import { InvalidArgument } from '../../errors/index.js';
import { formatGoDuration } from '../../util/duration.js';
import { nowNano } from '../../util/timestamp.js';

/** Config.Healthcheck (durations in nanoseconds; 0 means the default). */
export interface Healthcheck {
  /** `["CMD", args…]`, `["CMD-SHELL", command]`, `["NONE"]`, or empty to inherit the image's. */
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** State.Health. */
export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthResult[];
}

const second = 1e9;
const defaults = { Interval: 30 * second, Timeout: 30 * second, StartPeriod: 0, StartInterval: 5 * second, Retries: 3 };
const maxOutput = 4096;
const maxLog = 5;

/** The command a healthcheck runs, or undefined when it runs none (no test, `NONE`, an unknown type). */
export function probeCommand(h: Healthcheck | undefined): string[] | undefined {
  const [kind, ...rest] = h?.Test ?? [];
  if (kind === 'CMD' && rest.length) return rest;
  if (kind === 'CMD-SHELL' && rest.length) return ['/bin/sh', '-c', ...rest];
  return undefined;
}

/** dockerd's checks of a create request's healthcheck (durations of at least 1 ms, no negative retries). */
export function validateHealthcheck(h: Healthcheck | null | undefined): void {
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h?.[key] ?? 0;
    if (v !== 0 && v < 1e6) throw new InvalidArgument(`${key} in Healthcheck cannot be less than 1ms`);
  }
  if ((h?.Retries ?? 0) < 0) throw new InvalidArgument('Retries in Healthcheck cannot be negative');
}

/** dockerd's merge of a container's healthcheck with its image's: what the container leaves unset, the image gives. */
export function mergeHealthcheck(own: Healthcheck | null | undefined, image: Healthcheck | null | undefined): Healthcheck | undefined {
  if (!image) return own ?? undefined;
  if (!own) return image;
  return {
    ...own,
    Test: own.Test?.length ? own.Test : image.Test ?? null,
    Interval: own.Interval || image.Interval || 0,
    Timeout: own.Timeout || image.Timeout || 0,
    StartPeriod: own.StartPeriod || image.StartPeriod || 0,
    StartInterval: own.StartInterval || image.StartInterval || 0,
    Retries: own.Retries || image.Retries || 0,
  };
}

/** `ps`'s status suffix and filter value: `health: starting`, `healthy`, `unhealthy`. */
export function healthLabel(h: Health): string {
  return h.Status === 'starting' ? 'health: starting' : h.Status;
}

/** Runs the probes of every running container that has a healthcheck; follows starts, pauses and exits. */
export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly containers: ContainerService,
    private readonly execs: ExecService,
    events: EventBus,
    private readonly log: Logger,
  ) {
    this.unsubscribe = events.subscribe({ type: ['container'] }, (e) => this.onEvent(e));
  }

  /** At daemon start: the running containers re-adopted from before. */
  resume(): void {
    for (const c of this.containers.list(false)) if (c.state.status === 'running') this.schedule(c.id);
  }

  close(): void {
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private onEvent(e: EngineEvent): void {
    const id = e.Actor.ID;
    if (e.Action === 'start' || e.Action === 'unpause') this.schedule(id);
    else if (e.Action === 'die' || e.Action === 'pause' || e.Action === 'destroy') this.cancel(id);
  }

  private cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private schedule(id: string): void {
    this.cancel(id);
    const c = this.containers.record(id);
    const h = c?.config.Healthcheck;
    if (!c || !probeCommand(h)) return;
    const startPeriod = h?.StartPeriod || defaults.StartPeriod;
    const inStartPeriod = Date.now() - Date.parse(c.state.startedAt) < startPeriod / 1e6;
    const interval = inStartPeriod && c.state.health?.Status === 'starting' ? h?.StartInterval || defaults.StartInterval : h?.Interval || defaults.Interval;
    const timer = setTimeout(() => supervise(this.log, 'health check', () => this.runProbe(id), { container: id }), interval / 1e6);
    timer.unref();
    this.timers.set(id, timer);
  }

  private async runProbe(id: string): Promise<void> {
    const c = this.containers.record(id);
    if (!c || c.state.status !== 'running') return;
    const started = c.state.startedAt;
    const result = await this.probe(c).catch((e: Error) => ({ Start: nowNano(), End: nowNano(), ExitCode: -1, Output: e.message }));
    const now = this.containers.record(id);
    // Stopped, paused or restarted meanwhile: this result belongs to a run that is over.
    if (!now || now.state.status !== 'running' || now.state.startedAt !== started || !this.timers.has(id)) return;
    await this.containers.setHealth(id, next(now, result));
    this.schedule(id);
  }

  /** One run of the test as an exec session, as dockerd's cmdProbe: the container's user and working directory. */
  private async probe(c: ContainerRecord): Promise<HealthResult> {
    const h = c.config.Healthcheck;
    const cmd = probeCommand(h) ?? [];
    const Start = nowNano();
    const session = this.execs.create(c.id, { Cmd: cmd, AttachStdout: true, AttachStderr: true, User: c.config.User, WorkingDir: c.config.WorkingDir });
    const run = await this.execs.start(session.id, { detach: false });
    let output = Buffer.alloc(0);
    let truncated = false;
    run.attach?.onOutput((_stream, data) => {
      const room = maxOutput - output.length;
      if (data.length > room) truncated = true;
      if (room > 0) output = Buffer.concat([output, data.subarray(0, room)]);
    });
    const timeoutNs = h?.Timeout || defaults.Timeout;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.execs.kill(session.id);
    }, timeoutNs / 1e6);
    // The output is complete when conmon closes the attach socket, which may be just after the exit is reported.
    const drained = new Promise<void>((resolve) => (run.attach ? run.attach.onClose(resolve) : resolve()));
    try {
      const code = await run.exited;
      await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
      run.attach?.close();
      const text = output.toString('utf8') + (truncated ? '...' : '');
      if (timedOut) {
        const limit = formatGoDuration(timeoutNs);
        return { Start, End: nowNano(), ExitCode: -1, Output: text ? `Health check exceeded timeout (${limit}): ${text}` : `Health check exceeded timeout (${limit})` };
      }
      return { Start, End: nowNano(), ExitCode: code, Output: text };
    } finally {
      clearTimeout(timer);
      this.execs.forget(session.id);
    }
  }
}

/** The health after a probe's result (moby's handleProbeResult). */
function next(c: ContainerRecord, result: HealthResult): Health {
  const h = c.config.Healthcheck;
  const current = c.state.health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
  const health: Health = { ...current, Log: [...current.Log, result].slice(-maxLog) };
  if (result.ExitCode === 0) return { ...health, Status: 'healthy', FailingStreak: 0 };
  const startPeriodMs = (h?.StartPeriod || defaults.StartPeriod) / 1e6;
  const inStartPeriod = current.Status === 'starting' && Date.parse(result.Start) - Date.parse(c.state.startedAt) < startPeriodMs;
  if (inStartPeriod) return health;
  const streak = current.FailingStreak + 1;
  return { ...health, FailingStreak: streak, Status: streak >= (h?.Retries || defaults.Retries) ? 'unhealthy' : current.Status };
}
