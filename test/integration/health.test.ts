// Health checks on real containers, set with the docker CLI and ours: probes run as exec sessions, the status
// follows dockerd's rules (retries, start period, timeout), ps shows and filters it, events announce changes, and
// a committed image carries the check to its containers unless --no-healthcheck.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../harness/daemon.js';

type Health = { Status: string; FailingStreak: number; Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }> };

describe('health checks', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  const health = async (name: string) => JSON.parse((await d.docker(['inspect', '--format', '{{json .State.Health}}', name])).stdout) as Health | null;
  /** Polls until the container's health is `status` (or fails after a few seconds). */
  const until = async (name: string, status: string): Promise<Health> => {
    let h: Health | null = null;
    for (let i = 0; i < 100; i++) {
      h = await health(name);
      if (h?.Status === status) return h;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${name} never became ${status}: ${JSON.stringify(h)}`);
  };

  it('starting, then healthy once the test passes; ps shows and filters it; events announce it', async () => {
    const since = Math.floor(Date.now() / 1000);
    const r = await d.docker(['run', '-d', '--name', 'warming', '--health-cmd', 'test -f /tmp/ready && echo ready', '--health-interval', '200ms', '--health-retries', '100', 'busybox', 'sh', '-c', 'sleep 1; touch /tmp/ready; sleep 60']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await health('warming'))?.Status, 'starting');
    assert.match((await d.docker(['ps', '--filter', 'name=warming', '--format', '{{.Status}}'])).stdout, /^Up .* \(health: starting\)$/m);
    const h = await until('warming', 'healthy');
    assert.equal(h.FailingStreak, 0);
    const last = h.Log.at(-1);
    assert.equal(last?.ExitCode, 0);
    assert.equal(last?.Output, 'ready\n');
    assert.ok(Date.parse(last?.End ?? '') >= Date.parse(last?.Start ?? ''));
    assert.match((await d.berth(['ps', '--filter', 'name=warming', '--format', '{{.Status}}'])).stdout, /^Up .* \(healthy\)$/m);
    assert.equal((await d.docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).stdout, 'warming\n');
    assert.equal((await d.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout, '');
    const events = await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=warming', '--format', '{{.Action}}']);
    assert.match(events.stdout, /^health_status: healthy$/m);
    // Probes are exec sessions, announced as dockerd announces them.
    assert.match(events.stdout, /^exec_create: \/bin\/sh -c test -f \/tmp\/ready && echo ready$/m);
    assert.equal((await d.docker(['rm', '-f', 'warming'])).code, 0);
  });

  it('unhealthy after `retries` failures in a row; the log keeps the last five; a probe past its timeout is killed', async () => {
    await d.berth(['run', '-d', '--name', 'failing', '--health-cmd', 'echo broken; exit 1', '--health-interval', '100ms', '--health-retries', '2', 'busybox', 'sleep', '60']);
    const h = await until('failing', 'unhealthy');
    assert.ok(h.FailingStreak >= 2);
    assert.deepEqual([...new Set(h.Log.map((e) => `${e.ExitCode} ${e.Output}`))], ['1 broken\n']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await health('failing'))?.Log.length, 5);

    await d.docker(['run', '-d', '--name', 'slow', '--health-cmd', 'echo started; sleep 30', '--health-timeout', '300ms', '--health-interval', '100ms', '--health-retries', '1', 'busybox', 'sleep', '60']);
    const slow = await until('slow', 'unhealthy');
    assert.equal(slow.Log[0]?.ExitCode, -1);
    assert.equal(slow.Log[0]?.Output, 'Health check exceeded timeout (300ms): started\n');
    // Probes past their timeout are killed: at most the one probe running now (the interval is 100 ms) is left.
    const probes = (await d.docker(['top', 'slow'])).stdout.split('\n').filter((l) => / sleep 30$/.test(l));
    assert.ok(probes.length <= 1, `killed probes left behind:\n${probes.join('\n')}`);
    assert.equal((await d.docker(['rm', '-f', 'failing', 'slow'])).code, 0);
  });

  it('probes go on for a running container after berthd is killed and restarted', async () => {
    await d.docker(['run', '-d', '--name', 'adopted', '--health-cmd', 'date +%s%N', '--health-interval', '100ms', 'busybox', 'sleep', '60']);
    await until('adopted', 'healthy');
    await d.kill9();
    await d.start();
    const restarted = Date.now();
    await new Promise((r) => setTimeout(r, 800));
    const h = await health('adopted');
    assert.equal(h?.Status, 'healthy');
    assert.ok(h?.Log.some((e) => Date.parse(e.Start) > restarted), 'a probe ran after the restart');
    assert.equal((await d.docker(['rm', '-f', 'adopted'])).code, 0);
  });

  it('failures within the start period do not count; an image carries its check; --no-healthcheck turns it off', async () => {
    await d.docker(['run', '-d', '--name', 'patient', '--health-cmd', 'exit 1', '--health-interval', '100ms', '--health-retries', '1', '--health-start-period', '60s', '--health-start-interval', '100ms', 'busybox', 'sleep', '60']);
    await new Promise((r) => setTimeout(r, 800));
    const h = await health('patient');
    assert.equal(h?.Status, 'starting');
    assert.equal(h?.FailingStreak, 0);
    assert.ok((h?.Log.length ?? 0) >= 2, 'the probes ran');

    assert.equal((await d.docker(['commit', 'patient', 'berth-test/checked:1'])).code, 0);
    const image = (await d.docker(['image', 'inspect', '--format', '{{json .Config.Healthcheck.Test}}', 'berth-test/checked:1'])).stdout.trim();
    assert.equal(image, '["CMD-SHELL","exit 1"]');
    await d.docker(['run', '-d', '--name', 'inherits', 'berth-test/checked:1', 'sleep', '60']);
    assert.equal((await health('inherits'))?.Status, 'starting');
    await d.docker(['run', '-d', '--name', 'unchecked', '--no-healthcheck', 'berth-test/checked:1', 'sleep', '60']);
    assert.equal(await health('unchecked'), null);
    assert.equal((await d.docker(['ps', '--filter', 'name=unchecked', '--format', '{{.Status}}'])).stdout.includes('health'), false);

    const bad = await d.docker(['run', '--rm', '--health-cmd', 'true', '--health-interval', '10us', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Interval in Healthcheck cannot be less than 1ms/);
    assert.equal((await d.docker(['rm', '-f', 'patient', 'inherits', 'unchecked'])).code, 0);
    assert.equal((await d.docker(['rmi', 'berth-test/checked:1'])).code, 0);
  });
});
