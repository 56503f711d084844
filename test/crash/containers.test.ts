// Crash safety of the container lifecycle: berthd SIGKILLed at the worst instant of a start and of a removal (the
// failpoints), then started again on the same roots. What the crash cut short must be finished or undone: no
// process, mount, runtime state or directory may outlive what the records say.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Daemon, leftovers, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';

/** Container directories under the data root and the exec root. */
async function containerDirs(d: Daemon): Promise<string[]> {
  const dirs: string[] = [];
  for (const root of [join(d.dataRoot, 'containers'), join(d.dir, 'run', 'containers')]) {
    dirs.push(...(await readdir(root).catch(() => [] as string[])).map((id) => join(root, id)));
  }
  return dirs;
}

/** Runs a request that makes berthd kill itself at a failpoint; resolves once berthd is gone. */
async function crashDuring(d: Daemon, args: string[]): Promise<void> {
  const r = await d.docker(args);
  assert.notEqual(r.code, 0, 'the daemon died before answering');
  await d.kill9(); // already dead: this reaps it
}

describe('crash safety of containers', () => {
  const daemons: Daemon[] = [];
  after(async () => {
    for (const d of daemons) await d.destroy();
  });

  it('killed in the middle of a start: the container is still "created", nothing of the cut start is left, and it starts again', async () => {
    const d = await startDaemon();
    daemons.push(d);
    const id = (await d.docker(['create', '--pull', 'never', '--network', 'none', 'busybox', 'sleep', '600'])).stdout.trim();
    await d.stop();
    await d.start({ BERTH_FAILPOINTS: 'container.start=exit' });
    // The monitor has created the container (its process waits to be started) when berthd dies.
    await crashDuring(d, ['start', id]);
    assert.ok((await leftovers(d)).length > 0, 'the cut start left a monitor, a mount and a runtime state');
    await d.start();
    await waitForNoLeftovers(d);
    const status = await d.docker(['inspect', '--format', '{{.State.Status}}', id]);
    assert.equal(status.stdout.trim(), 'created');
    const started = await d.docker(['start', id]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal((await d.docker(['inspect', '--format', '{{.State.Running}}', id])).stdout.trim(), 'true');
    assert.equal((await d.docker(['rm', '-f', id])).code, 0);
    await waitForNoLeftovers(d);
    assert.deepEqual(await containerDirs(d), []);
  });

  it('killed in the middle of a removal: the container is gone after the restart, and so is everything it had', async () => {
    const d = await startDaemon();
    daemons.push(d);
    const id = (await d.docker(['run', '-d', '--pull', 'never', '--network', 'none', 'busybox', 'sleep', '600'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await d.stop(); // the container keeps running under its monitor
    await d.start({ BERTH_FAILPOINTS: 'container.remove=exit' });
    // The record is deleted and the directories are not yet when berthd dies.
    await crashDuring(d, ['rm', '-f', id]);
    assert.equal((await containerDirs(d)).length, 2, 'the cut removal left the directories');
    await d.start();
    const inspect = await d.docker(['inspect', id]);
    assert.equal(inspect.code, 1);
    assert.match(inspect.stderr, /No such (container|object)/);
    assert.equal((await d.docker(['ps', '-aq'])).stdout.trim(), '');
    await waitForNoLeftovers(d);
    assert.deepEqual(await containerDirs(d), []);
  });
});
