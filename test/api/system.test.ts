import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readAll } from '../../src/client/index.js';
import { type Daemon, startDaemon } from '../harness/daemon.js';

describe('system endpoints', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  it('_ping answers GET and HEAD with Docker headers', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await d.client.raw(method, '/_ping');
      const body = await readAll(res);
      assert.equal(res.statusCode, 200);
      assert.equal(body, method === 'GET' ? 'OK' : '');
      assert.equal(res.headers['api-version'], '1.45');
      assert.equal(res.headers['ostype'], 'linux');
      assert.match(String(res.headers['server']), /^Berth\//);
    }
  });

  it('accepts paths with and without a version prefix, and refuses versions out of range', async () => {
    const { request } = await import('node:http');
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: new URL(d.host).pathname, path }, async (res) => resolve({ status: res.statusCode ?? 0, body: await readAll(res) }));
        req.on('error', reject).end();
      });
    assert.equal((await get('/version')).status, 200);
    assert.equal((await get('/v1.24/version')).status, 200);
    const tooNew = await get('/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(JSON.parse(tooNew.body).message, /client version 1.99 is too new/);
    const tooOld = await get('/v1.12/version');
    assert.equal(tooOld.status, 400);
    const missing = await get('/v1.45/nothing-here');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { message: 'page not found' });
  });

  it('version and info describe the engine', async () => {
    const v = await d.client.json<Record<string, unknown>>('GET', '/version');
    assert.equal(v['ApiVersion'], '1.45');
    assert.equal(v['MinAPIVersion'], '1.24');
    const info = await d.client.json<Record<string, unknown>>('GET', '/info');
    assert.equal(info['Driver'], 'overlay2');
    assert.equal(info['DockerRootDir'], d.dataRoot);
    assert.ok(['1', '2'].includes(String(info['CgroupVersion'])));
    assert.equal(info['CgroupDriver'], 'cgroupfs');
    assert.ok('runc' in (info['Runtimes'] as object), 'runc is detected');
    assert.equal(typeof info['Images'], 'number');
  });

  it('the real docker CLI talks to berthd (version, info)', async () => {
    const v = await d.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), '1.45 linux');
    const i = await d.docker(['info', '--format', '{{.Driver}} {{.DockerRootDir}}']);
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout.trim(), `overlay2 ${d.dataRoot}`);
  });

  it('berth version and info print both sides', async () => {
    const v = await d.berth(['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Client:[\s\S]*Server: Berth[\s\S]*API version:\s+1.45 \(minimum version 1.24\)/);
    const i = await d.berth(['info']);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /Storage Driver: overlay2/);
  });

  it('a second daemon on the same data root is refused', async () => {
    const { run, dist } = await import('../harness/daemon.js');
    const r = await run(process.execPath, [dist('berthd'), '--data-root', d.dataRoot, '--exec-root', `${d.dir}/run2`, '-H', `unix://${d.dir}/other.sock`, '--config-file', `${d.dir}/daemon.json`], { timeoutMs: 20_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another berthd is using data root/);
  });

  it('the CLI says clearly when no daemon is running', async () => {
    const r = await d.berth(['images'], { env: { BERTH_HOST: `unix://${d.dir}/absent.sock` } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot connect to the Berth daemon at unix:\/\/.*absent\.sock\. Is the berth daemon running\?/);
  });

  it('events stream to subscribers with filters, and replay with since/until', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const res = await d.client.call('GET', '/events', { query: { filters: JSON.stringify({ type: ['image'], event: ['tag'] }) } });
    const got = new Promise<Record<string, unknown>>((resolve) => {
      void d.client.messages(res, (m) => resolve(m)).catch(() => {});
    });
    await new Promise((r) => setTimeout(r, 100));
    const t = await d.berth(['tag', 'busybox', 'events-test:1']);
    assert.equal(t.code, 0, t.stderr);
    const ev = await got;
    res.destroy();
    assert.equal(ev['Type'], 'image');
    assert.equal(ev['Action'], 'tag');
    assert.deepEqual((ev['Actor'] as { Attributes: unknown }).Attributes, { name: 'events-test:1' });
    const until = Math.ceil(Date.now() / 1000) + 1;
    const past = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'event=tag', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    assert.equal(past.code, 0, past.stderr);
    assert.match(past.stdout, /image tag events-test:1/);
  });
});
