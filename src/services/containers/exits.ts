// Exits: noticing them (the monitor's exit file, by inotify with a slow poll behind it) and telling whoever waits
// for them (`wait`, log followers, attached clients, auto-removal).
import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import { NotFound } from '../../errors/index.js';
import type { ConmonMonitor } from '../../runtime/index.js';
import type { Logger } from '../../util/logger.js';
import { supervise } from '../../util/supervise.js';

/** How an exit was noticed: the code and time conmon recorded, or a monitor that died without recording one. */
export interface ExitNotice {
  code: number;
  /** When the container exited (the exit file's time, RFC 3339 with nanoseconds), if known. */
  at?: string;
  monitorLost: boolean;
}

/** How often a running container's monitor is checked on, behind inotify (a lost monitor is rare). */
const exitPollMs = 5000;

/** Moments in containers' lives that requests wait for, by container ID. */
export class Waiters {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly exitWaiters = new Map<string, Array<(code: number) => void>>();
  /** Containers whose last exit no `next-exit` waiter has seen yet (see ContainerService.wait). */
  private readonly unseenExits = new Set<string>();

  /** An exit was recorded: wakes `wait`ers and log followers. */
  exited(id: string, code: number): void {
    this.emitter.emit(`exit:${id}`);
    const waiters = this.exitWaiters.get(id) ?? [];
    this.exitWaiters.delete(id);
    if (waiters.length === 0) this.unseenExits.add(id);
    for (const w of waiters) w(code);
  }

  started(id: string): void {
    this.unseenExits.delete(id);
    this.emitter.emit(`start:${id}`);
  }

  /** The container is gone; `exitCode` is its last exit's, for those waiting on its removal. */
  removed(id: string, exitCode: number): void {
    this.unseenExits.delete(id);
    this.emitter.emit(`removed:${id}`, exitCode);
  }

  /** Resolves with the container's last exit code once it is removed. */
  removal(id: string): Promise<number> {
    return new Promise((resolve) => this.emitter.once(`removed:${id}`, (code: number) => resolve(code)));
  }

  /** An attached client stopped reading a container's output. */
  readDone(id: string): void {
    this.emitter.emit(`read:${id}`);
  }

  /** Resolves with the code of the container's next recorded exit. Registered at once, so an exit right after is not missed. */
  nextExit(id: string): Promise<number> {
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(id) ?? [];
      list.push(resolve);
      this.exitWaiters.set(id, list);
    });
  }

  /** Whether an exit happened that no `next-exit` waiter saw (and marks it seen). */
  takeUnseenExit(id: string): boolean {
    return this.unseenExits.delete(id);
  }

  /** Resolves at the container's next start; rejects if it is removed first (nothing waits for ever). */
  nextStart(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = () => {
        this.emitter.off(`removed:${id}`, removed);
        resolve();
      };
      const removed = () => {
        this.emitter.off(`start:${id}`, started);
        reject(new NotFound(`No such container: ${id}`));
      };
      this.emitter.once(`start:${id}`, started).once(`removed:${id}`, removed);
    });
  }

  /** Calls `fn` on each of these moments until the returned function is called. */
  subscribe(id: string, what: Array<'exit' | 'removed' | 'read'>, fn: () => void): () => void {
    for (const w of what) this.emitter.on(`${w}:${id}`, fn);
    return () => {
      for (const w of what) this.emitter.off(`${w}:${id}`, fn);
    };
  }
}

/**
 * Watches a running container's exit directory (inotify, with a slow poll as a safety net) and reports the exit
 * once. The poll also notices a monitor that died without recording an exit (killed, say).
 */
export function watchExit(monitor: ConmonMonitor, log: Logger, id: string, bundle: string, stillUp: () => boolean, onExit: (exit: ExitNotice) => Promise<void>): void {
  const exitDir = join(bundle, 'exits');
  let done = false;
  let watcher: FSWatcher | undefined;
  const check = async (poll: boolean) => {
    if (done) return;
    let exit = await monitor.exitStatus(id, exitDir);
    let monitorLost = false;
    if (!exit && poll && !(await monitor.alive(id, bundle))) {
      // Read again: the monitor may have recorded the exit just before it ended.
      exit = await monitor.exitStatus(id, exitDir);
      monitorLost = !exit;
    }
    if (done || (!exit && !monitorLost && stillUp())) return;
    done = true;
    watcher?.close();
    clearInterval(timer);
    if (exit || monitorLost) await onExit({ code: exit?.code ?? 255, ...(exit && { at: exit.at }), monitorLost });
  };
  const checkSupervised = (poll: boolean) => supervise(log, 'handling an exit', () => check(poll), { container: id });
  try {
    watcher = watch(exitDir, () => checkSupervised(false));
    watcher.on('error', (error) => log.debug('exit directory watch failed; the poll goes on', { container: id, error }));
  } catch {
    // no inotify: the poll below still notices the exit
  }
  // Every running container has a poll: a few seconds keeps an idle berthd idle.
  const timer = setInterval(() => checkSupervised(true), exitPollMs);
  timer.unref();
  checkSupervised(false);
}
