// Restart policies, as dockerd's restart manager: `always` and `unless-stopped` unless a user stopped the container,
// `on-failure[:N]` on a non-zero exit (at most N times). The delay starts at 100 ms and doubles per restart up to a
// minute; a run of 10 s or more resets it. A user's stop, kill or removal cancels a pending restart.
import type { Logger } from '../../util/logger.js';
import { supervise } from '../../util/supervise.js';
import type { ContainerRecord } from './record.js';

/** Whether the policy brings the container back after this exit. */
export function wantsRestart(c: ContainerRecord): boolean {
  const p = c.hostConfig.RestartPolicy;
  if (c.state.stoppedByUser) return false;
  if (p.Name === 'always' || p.Name === 'unless-stopped') return true;
  return p.Name === 'on-failure' && c.state.exitCode !== 0 && (p.MaximumRetryCount === 0 || (c.state.restartCount ?? 0) < p.MaximumRetryCount);
}

export class RestartManager {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();

  /** `restart` runs under the container's lock and must itself check the container still waits for it. */
  constructor(
    private readonly log: Logger,
    private readonly restart: (id: string) => Promise<void>,
  ) {}

  /** Schedules the next restart after a run of `ranMs`; returns the delay. */
  schedule(id: string, ranMs: number): number {
    if (ranMs >= 10_000) this.backoff.delete(id);
    const delay = Math.min(this.backoff.get(id) ?? 100, 60_000);
    this.backoff.set(id, delay * 2);
    this.cancel(id);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      supervise(this.log, 'restart', () => this.restart(id), { container: id });
    }, delay);
    this.timers.set(id, timer);
    return delay;
  }

  cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  /** The container is gone: nothing of it is kept. */
  forget(id: string): void {
    this.cancel(id);
    this.backoff.delete(id);
  }
}
