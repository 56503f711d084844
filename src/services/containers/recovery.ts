// Start-up: what berthd finds of its containers after a stop or a crash. Runs once every store is open.
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeAll } from '../../kernel/fs.js';
import { unmount } from '../../kernel/mount.js';
import type { ConmonMonitor, OciRuntime } from '../../runtime/index.js';
import type { Logger } from '../../util/logger.js';
import type { ExitNotice } from './exits.js';
import type { ContainerRecord } from './record.js';
import type { ContainerRootfs } from './rootfs.js';
import { isUp } from './state.js';
import type { ContainerStore } from './store.js';

/** What recovery needs of the container service. */
export interface RecoveryTarget {
  store: ContainerStore;
  runtimes: Map<string, OciRuntime>;
  monitor: ConmonMonitor;
  rootfs: ContainerRootfs;
  log: Logger;
  paths: { dataRoot: string; execRoot: string };
  /** Records an exit that happened while berthd was down (and applies the restart policy). */
  exited(c: ContainerRecord, exit: ExitNotice): Promise<void>;
  /** Follows a container that still runs (its exit, its output). */
  adopt(c: ContainerRecord): Promise<void>;
  start(id: string): Promise<void>;
  /** A pending restart, rescheduled. */
  resumeRestart(c: ContainerRecord): void;
  /** A container whose files are gone is kept as `dead` (for inspect and rm), never started. */
  markDead(c: ContainerRecord, why: string): Promise<void>;
}

/**
 * Containers whose monitor recorded an exit while berthd was down are marked exited (and restarted by their
 * policy); a pending restart is rescheduled; `always` containers come back up even if stopped by a user, as dockerd
 * does when it starts. Failures are per container: one broken container never stops the daemon from starting.
 */
export async function recover(t: RecoveryTarget): Promise<void> {
  await sweepOrphans(t);
  for (const c of t.store.list()) {
    try {
      if (!(await exists(join(t.paths.dataRoot, c.id)))) {
        if (c.state.status !== 'dead') await t.markDead(c, 'the container directory is missing');
        continue;
      }
      if (c.state.status === 'restarting') t.resumeRestart(c);
      else if (c.state.status === 'exited' && c.hostConfig.RestartPolicy.Name === 'always') await t.start(c.id);
      else if (isUp(c.state.status)) {
        const bundle = join(t.paths.execRoot, c.id);
        const exit = await t.monitor.exitStatus(c.id, join(bundle, 'exits'));
        if (exit) await t.exited(c, { code: exit.code, at: exit.at, monitorLost: false });
        // No exit recorded and no monitor: the host rebooted, or the monitor was killed. dockerd marks such a
        // container exited with 255.
        else if (!(await t.monitor.alive(c.id, bundle))) await t.exited(c, { code: 255, monitorLost: true });
        else await t.adopt(c);
      }
    } catch (error) {
      t.log.warn('container not recovered', { container: c.id, error });
    }
  }
}

/**
 * What a crash left behind. Without a record (a create or removal cut short): container directories and bundles
 * (a rootfs mount first) and runtime states (killing what they run); a container is its record, nothing else may
 * outlive it. With a record that is not up (a start cut short before it was recorded): the runtime state and the
 * rootfs mount, as dockerd kills a task whose container it does not know as running.
 */
async function sweepOrphans(t: RecoveryTarget): Promise<void> {
  const orphan = (id: string) => /^[0-9a-f]{64}$/.test(id) && !t.store.get(id);
  for (const runtime of t.runtimes.values()) {
    for (const id of await runtime.list().catch(() => [])) {
      const rec = t.store.get(id);
      if (rec ? isUp(rec.state.status) : !orphan(id)) continue;
      t.log.warn(rec ? 'removing the runtime state of a start cut short' : 'removing the runtime state of a container with no record', { container: id, runtime: runtime.name });
      await runtime.delete(id, true).catch((error: unknown) => t.log.warn('leftover runtime state not removed', { container: id, error }));
    }
  }
  const down = t.store.list().filter((c) => !isUp(c.state.status));
  await Promise.all(down.map((c) => t.rootfs.unmount(c.id).catch((error: unknown) => t.log.warn('leftover rootfs mount not removed', { container: c.id, error }))));
  for (const root of [t.paths.dataRoot, t.paths.execRoot]) {
    for (const id of (await readdir(root).catch(() => [] as string[])).filter(orphan)) {
      t.log.warn('removing the files of a container with no record', { container: id, dir: join(root, id) });
      await unmount(join(root, id, 'merged'))
        .then(() => removeAll(join(root, id)))
        .catch((error: unknown) => t.log.warn('orphan container files not removed', { container: id, error }));
    }
  }
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
