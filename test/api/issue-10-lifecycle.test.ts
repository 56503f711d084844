// issue-10: lifecycle races and dockerd's answers that real clients (a Docker client's own test suite, dockerode,
// testcontainers) depend on. Each test failed against berthd before the container service's redesign.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, readAll } from '../../src/client/index.js';
import { type Daemon, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';

type Inspect = { Id: string; Name: string; RestartCount: number; State: { Status: string; Running: boolean; ExitCode: number; FinishedAt: string; Restarting: boolean } };

describe('issue-10: lifecycle', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  const create = async (body: Record<string, unknown>, name?: string) =>
    (await d.client.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', ...body }, ...(name && { query: { name } }) })).Id;
  const inspect = (id: string) => d.client.json<Inspect>('GET', `/containers/${id}/json`);
  const status = async (id: string) => (await inspect(id)).State.Status;

  it('issue-10 crash 1: rm of a restarting container is a 409; a forced rm cancels the restart; berthd lives on', async () => {
    const id = await create({ Cmd: ['sleep', '1'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    await d.client.do('POST', `/containers/${id}/start`);
    await d.client.json('POST', `/containers/${id}/wait`);
    await assert.rejects(d.client.do('DELETE', `/containers/${id}`), (e: unknown) => e instanceof ApiError && e.status === 409 && /restarting: stop the container before removing or force remove/.test(e.message));
    await d.client.do('DELETE', `/containers/${id}`, { query: { force: 1 } });
    await assert.rejects(inspect(id), (e: unknown) => e instanceof ApiError && e.status === 404);
    // A pending restart would have fired by now (100 ms back-off) and written into the removed directory.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await d.client.raw('GET', '/_ping')).statusCode, 200);
    assert.doesNotMatch(d.logs(), /ENOENT|unhandled|uncaught/i);
    await waitForNoLeftovers(d);
  });

  it('a container waiting for its restart: restarting when its exit is told, listed as running, a stop ends it with a stop event', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'sleep 0.3; exit 1'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    const since = (Date.now() / 1000).toFixed(3);
    await d.client.do('POST', `/containers/${id}/start`);
    await d.client.json('POST', `/containers/${id}/wait`);
    // as dockerd: the policy has decided before the exit is told (Compose re-attaches on what it inspects then)
    assert.equal(await status(id), 'restarting');
    const listed = await d.client.json<Array<{ Id: string }>>('GET', '/containers/json');
    assert.ok(listed.some((c) => c.Id === id), 'docker ps lists a restarting container without -a');
    // stopped while it waits (its back-off doubles each time: catch it restarting)
    for (let i = 0; i < 50 && (await status(id)) !== 'restarting'; i++) await new Promise((r) => setTimeout(r, 20));
    await d.client.do('POST', `/containers/${id}/stop`, { query: { t: 1 } });
    assert.equal(await status(id), 'exited');
    const until = (Date.now() / 1000 + 1).toFixed(3);
    const events = (await readAll(await d.client.call('GET', '/events', { query: { since, until, filters: JSON.stringify({ container: [id] }) } })))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { Action: string }).Action);
    assert.equal(events.at(-1), 'stop', events.join(' '));
    const count = (await inspect(id)).RestartCount;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await inspect(id)).RestartCount, count, 'no restart after the stop');
    await d.client.do('DELETE', `/containers/${id}`);
  });

  it('issue-10 crash 1: a restarting container whose directory was lost does not crash berthd at start-up', async () => {
    const id = await create({ Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    await d.stop();
    // What the old crash loop came from: a record, waiting for its restart, left behind its removed files.
    const recordPath = join(d.dataRoot, 'metadata', 'containers', `${id}.json`);
    const rec = JSON.parse(await readFile(recordPath, 'utf8')) as { state: { status: string } };
    rec.state.status = 'restarting';
    await writeFile(recordPath, JSON.stringify(rec));
    await rm(join(d.dataRoot, 'containers', id), { recursive: true, force: true });
    await d.start();
    assert.equal(await status(id), 'dead');
    await new Promise((r) => setTimeout(r, 500)); // a restart would have been tried by now
    assert.equal((await d.client.raw('GET', '/_ping')).statusCode, 200);
    await assert.rejects(d.client.do('POST', `/containers/${id}/start`), (e: unknown) => e instanceof ApiError && e.status === 409);
    await d.client.do('DELETE', `/containers/${id}`);
    await waitForNoLeftovers(d);
  });

  it('kill with SIGKILL answers once the container is down (inspect right after: exited, 137)', async () => {
    for (let i = 0; i < 3; i++) {
      const id = await create({ Cmd: ['sleep', '60'] });
      await d.client.do('POST', `/containers/${id}/start`);
      await d.client.do('POST', `/containers/${id}/kill`);
      const s = (await inspect(id)).State;
      assert.equal(s.Running, false);
      assert.equal(s.Status, 'exited');
      assert.equal(s.ExitCode, 137);
      await d.client.do('DELETE', `/containers/${id}`);
    }
  });

  it("events carry the container's labels, so label filters match (dockerode, compose)", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await create({ Cmd: ['true'], Labels: { 'com.example.app': 'web' } });
    await d.client.do('POST', `/containers/${id}/start`);
    await d.client.json('POST', `/containers/${id}/wait`);
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'label=com.example.app=web', '--format', '{{.Action}} {{index .Actor.Attributes "com.example.app"}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['create web', 'start web', 'die web']);
    await d.client.do('DELETE', `/containers/${id}`);
  });

  it('a container that exited while berthd was down shows when it really exited', async () => {
    const id = await create({ Cmd: ['sleep', '0.3'] });
    await d.client.do('POST', `/containers/${id}/start`);
    await d.stop(); // SIGTERM: the container outlives berthd
    await new Promise((r) => setTimeout(r, 2000));
    const exitFile = join(d.dir, 'run', 'containers', id, 'exits', id);
    assert.equal((await readFile(exitFile, 'utf8')).trim(), '0', 'conmon recorded the exit while berthd was down');
    await d.start();
    const s = (await inspect(id)).State;
    assert.equal(s.Status, 'exited');
    const ago = Date.now() - Date.parse(s.FinishedAt);
    assert.ok(ago > 1500, `FinishedAt is the real exit, ${ago} ms ago, not the moment berthd noticed`);
    await d.client.do('DELETE', `/containers/${id}`);
  });

  it('commit?pause=1 of a container whose process has just died commits it (no 409, no runc pause failure)', async () => {
    for (let i = 0; i < 5; i++) {
      const id = await create({ Cmd: ['sleep', '60'] });
      await d.client.do('POST', `/containers/${id}/start`);
      const pid = (await d.client.json<{ State: { Pid: number } }>('GET', `/containers/${id}/json`)).State.Pid;
      process.kill(pid, 'SIGKILL'); // from outside: berthd learns of it only through its monitor
      const { Id } = await d.client.json<{ Id: string }>('POST', '/commit', { query: { container: id, pause: 1 } });
      assert.match(Id, /^sha256:[0-9a-f]{64}$/);
      await d.client.json('POST', `/containers/${id}/wait`);
      await d.client.do('DELETE', `/containers/${id}`);
      await d.client.do('DELETE', `/images/${Id}`);
    }
  });

  it("generated names look like dockerd's: adjective_surname", async () => {
    const ids = await Promise.all([1, 2, 3].map(() => create({ Cmd: ['true'] })));
    for (const id of ids) {
      assert.match((await inspect(id)).Name, /^\/[a-z]+_[a-z]+\d?$/);
      await d.client.do('DELETE', `/containers/${id}`);
    }
  });

  it('two concurrent creates with one name: one wins, the other is a 409', async () => {
    const results = await Promise.allSettled([1, 2, 3].map(() => create({ Cmd: ['true'] }, 'samename')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ApiError && r.reason.status === 409, String(r.reason));
    await d.client.do('DELETE', '/containers/samename');
  });

  it('concurrent start, stop, kill and rm of one container leave a consistent record and nothing behind', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await create({ Cmd: ['sleep', '30'], HostConfig: { RestartPolicy: { Name: round % 2 ? 'always' : 'on-failure' } } });
      await d.client.do('POST', `/containers/${id}/start`);
      const ops = [
        d.client.do('POST', `/containers/${id}/stop`, { query: { t: 0 } }),
        d.client.do('POST', `/containers/${id}/start`),
        d.client.do('POST', `/containers/${id}/kill`),
        d.client.do('POST', `/containers/${id}/restart`, { query: { t: 0 } }),
        d.client.do('DELETE', `/containers/${id}`, { query: { force: 1 } }),
      ];
      for (const r of await Promise.allSettled(ops)) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ApiError && [304, 404, 409].includes(r.reason.status), String(r.reason));
      }
      // Whatever won, the container can always be removed, and then nothing of it is left.
      await d.client.do('DELETE', `/containers/${id}`, { query: { force: 1 } }).catch((e: unknown) => assert.ok(e instanceof ApiError && e.status === 404, String(e)));
    }
    await waitForNoLeftovers(d);
    assert.equal((await d.client.raw('GET', '/_ping')).statusCode, 200);
  });

  it('a stop that comes while a restart is stopping the container wins: the restart does not start it again', async () => {
    // TERM ignored: the restart's stop takes its whole timeout, and the other stop arrives in the middle of it.
    const id = await create({ Cmd: ['sh', '-c', "trap '' TERM; while true; do sleep 0.1; done"] });
    await d.client.do('POST', `/containers/${id}/start`);
    const restarting = d.client.do('POST', `/containers/${id}/restart`, { query: { t: 2 } });
    await new Promise((r) => setTimeout(r, 500));
    await d.client.do('POST', `/containers/${id}/stop`, { query: { t: 2 } }).catch(() => {});
    await restarting;
    assert.equal(await status(id), 'exited');
    // A restart alone still starts it.
    await d.client.do('POST', `/containers/${id}/restart`, { query: { t: 0 } });
    assert.equal(await status(id), 'running');
    await d.client.do('DELETE', `/containers/${id}`, { query: { force: 1 } });
  });
});
