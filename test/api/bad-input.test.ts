import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/client/index.js';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';
import { imageConfig, saveTar, tarOf } from '../harness/images.js';
import { assertConsistent, snapshot } from '../harness/store.js';

describe('bad input is refused cleanly', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  async function loadFails(tar: Buffer, message: RegExp): Promise<void> {
    const before = await snapshot(d.dataRoot);
    await assert.rejects(
      d.client.json('POST', '/images/load', { body: tar, headers: { 'Content-Type': 'application/x-tar' } }),
      (e: unknown) => e instanceof ApiError && e.status === 400 && message.test(e.message),
    );
    const after = await assertConsistent(d.dataRoot);
    assert.deepEqual([...after.blobs].sort(), [...before.blobs].sort(), 'no blob added');
    assert.deepEqual([...after.layers].sort(), [...before.layers].sort(), 'no layer added');
  }

  it('a corrupt archive', async () => {
    await loadFails(randomBytes(4096), /invalid tar|archive/);
    const cli = await d.berth(['load'], { input: randomBytes(2048) });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^Error response from daemon: /);
  });

  it('a truncated archive', async () => {
    const good = await saveTar([{ tags: ['trunc:1'], layers: [await tarOf([{ name: 'f', content: Buffer.alloc(3000, 1) }])] }]);
    await loadFails(good.subarray(0, 2048), /invalid|unexpected end|missing/i);
  });

  it('a layer whose content does not match the config (digest mismatch)', async () => {
    const real = await tarOf([{ name: 'real', content: 'real' }]);
    const claimed = await tarOf([{ name: 'claimed', content: 'claimed' }]);
    const config = imageConfig({ tags: [], layers: [claimed] });
    await loadFails(await saveTar([{ tags: ['mismatch:1'], layers: [real] }], { configOverride: config }), /digest mismatch/);
  });

  for (const [what, files] of [
    ['a .. entry', [{ name: '../escaped-by-dotdot', content: 'x' }]],
    ['an entry through a symlink to /', [{ name: 'link', type: 'symlink', linkname: '/tmp' }, { name: 'link/escaped-by-symlink', content: 'x' }]],
    ['a hard link to a host file', [{ name: 'pw', type: 'link', linkname: '../../../../../../etc/passwd' }]],
  ] as const) {
    it(`a layer with ${what}`, async () => {
      const layer = await tarOf(files as never);
      await loadFails(await saveTar([{ tags: ['evil:1'], layers: [layer] }]), /escape|outside|symlink|link/i);
      await assert.rejects(access('/tmp/escaped-by-symlink'));
    });
  }

  it('invalid and unknown references', async () => {
    const bad = await d.berth(['tag', 'busybox', 'Not:Valid:Ref']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid reference format/);
    await assert.rejects(d.client.json('POST', '/images/busybox/tag', { query: { repo: 'UPPER' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    await assert.rejects(d.client.json('GET', '/images/does-not-exist/json'), (e: unknown) => e instanceof ApiError && e.status === 404 && /No such image: does-not-exist:latest/.test(e.message));
    const inspect = await d.docker(['image', 'inspect', 'does-not-exist']);
    assert.equal(inspect.code, 1);
    assert.match(inspect.stderr, /No such image: does-not-exist/);
  });

  it('bad filters and flags', async () => {
    await assert.rejects(d.client.json('GET', '/images/json', { query: { filters: '{"nonsense":["1"]}' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    await assert.rejects(d.client.json('GET', '/images/json', { query: { filters: 'not json' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    const flag = await d.berth(['images', '--no-such-flag']);
    assert.equal(flag.code, 125);
  });
});

// Request bodies are validated at the API edge (src/api/validate.ts): a wrong type is a 400 in the words of
// dockerd's JSON decoder (as dockerd 20.10 words it, which answers them with a 500), naming the field, and
// nothing is made.
describe('bad request bodies are a 400 naming the field', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  const badRequest = (message: string) => (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 400, e.message);
    assert.equal(e.message, message);
    return true;
  };
  const containerIds = async () => (await d.client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: '1' } })).map((c) => c.Id).sort();
  const containerDirs = async () => (await readdir(join(d.dataRoot, 'containers')).catch(() => [] as string[])).sort();

  const createCases: Array<[string, unknown, string]> = [
    ['Image of the wrong type', { Image: 7 }, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'],
    ['HostConfig.Ulimits not a list', { Image: 'busybox', HostConfig: { Ulimits: 5 } }, 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Ulimits of type []*units.Ulimit'],
    ['a ulimit not an object', { Image: 'busybox', HostConfig: { Ulimits: [5] } }, 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit'],
    ['a ulimit field of the wrong type', { Image: 'busybox', HostConfig: { Ulimits: [{ Name: 'nofile', Soft: '1', Hard: 2 }] } }, 'json: cannot unmarshal string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64'],
    ['an unknown restart policy', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"],
    ['an unknown mount type', { Image: 'busybox', HostConfig: { Mounts: [{ Type: 'bogus', Target: '/x' }] } }, 'invalid mount config for type "bogus": mount type unknown'],
    ['an unknown cgroup namespace mode', { Image: 'busybox', HostConfig: { CgroupnsMode: 'weird' } }, 'invalid cgroup namespace mode: weird'],
    ['NetworkMode not a string', { Image: 'busybox', HostConfig: { NetworkMode: 5 } }, 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.NetworkMode of type container.NetworkMode'],
    ['a fraction for an integer', { Image: 'busybox', HostConfig: { Memory: 1.5 } }, 'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['a string for an integer', { Image: 'busybox', HostConfig: { Memory: '1g' } }, 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['Env not a list', { Image: 'busybox', Env: 'A=1' }, 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string'],
    ['a label value not a string', { Image: 'busybox', Labels: { a: 1 } }, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string'],
    ['Cmd neither a string nor a list', { Image: 'busybox', Cmd: 5 }, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string'],
    ['a healthcheck interval as text', { Image: 'busybox', Healthcheck: { Interval: '1s' } }, 'json: cannot unmarshal string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration'],
    ['a port binding of the wrong type', { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 80 }] } } }, 'json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string'],
    ['network aliases not a list', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: 'a' } } } }, 'json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string'],
    ['a body that is not an object', ['busybox'], 'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper'],
    ['a search domain with a line break', { Image: 'busybox', HostConfig: { DnsSearch: ['example.com\nnameserver 6.6.6.6'] } }, 'invalid DNS search domain or option: "example.com\\nnameserver 6.6.6.6"'],
    ['a port that is not a number', { Image: 'busybox', HostConfig: { PortBindings: { 'http/tcp': [{ HostPort: '80' }] } } }, 'invalid port specification: "http/tcp"'],
    ['a host port out of range', { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } }, 'invalid port specification: "70000"'],
    ['a static address on the default bridge', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '10.1.2.3' } } } } }, 'user specified IP address is supported on user defined networks only'],
  ];
  for (const [what, body, message] of createCases) {
    it(`create: ${what}`, async () => {
      const [ids, dirs] = [await containerIds(), await containerDirs()];
      await assert.rejects(d.client.json('POST', '/containers/create', { body }), badRequest(message));
      assert.deepEqual(await containerIds(), ids, 'no container record');
      assert.deepEqual(await containerDirs(), dirs, 'no container directory');
    });
  }

  it('create: null is the same as absent, unknown fields are ignored, Cmd may be a string', async () => {
    const body = { Image: 'busybox', Cmd: 'true', Entrypoint: null, Env: null, NoSuchField: { x: 1 }, HostConfig: { Memory: null, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 }, Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }] } };
    const { Id } = await d.client.json<{ Id: string }>('POST', '/containers/create', { body });
    try {
      const c = await d.client.json<{ Config: { Cmd: string[] }; HostConfig: { RestartPolicy: { Name: string }; Ulimits: unknown[] } }>('GET', `/containers/${Id}/json`);
      assert.deepEqual(c.Config.Cmd, ['true']);
      assert.equal(c.HostConfig.RestartPolicy.Name, 'on-failure');
      assert.deepEqual(c.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
    } finally {
      await d.client.do('DELETE', `/containers/${Id}`, { query: { force: '1' } });
    }
  });

  it('update, exec create and exec start', async () => {
    const { Id } = await d.client.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '300'] } });
    try {
      const hostConfig = async () => (await d.client.json<{ HostConfig: Record<string, unknown> }>('GET', `/containers/${Id}/json`)).HostConfig;
      const before = await hostConfig();
      await assert.rejects(d.client.json('POST', `/containers/${Id}/update`, { body: { Memory: 'x' } }), badRequest('json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64'));
      await assert.rejects(d.client.json('POST', `/containers/${Id}/update`, { body: { Ulimits: 5 } }), badRequest('json: cannot unmarshal number into Go struct field UpdateConfig.Ulimits of type []*units.Ulimit'));
      await assert.rejects(d.client.json('POST', `/containers/${Id}/update`, { body: { RestartPolicy: { Name: 5 } } }), badRequest('json: cannot unmarshal number into Go struct field RestartPolicy.RestartPolicy.Name of type string'));
      await assert.rejects(d.client.json('POST', `/containers/${Id}/update`, { body: { Memory: 64 << 20, RestartPolicy: { Name: 'sometimes' } } }), badRequest("invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"));
      assert.deepEqual(await hostConfig(), before, 'nothing updated');

      await d.client.do('POST', `/containers/${Id}/start`);
      await assert.rejects(d.client.json('POST', `/containers/${Id}/exec`, { body: { Cmd: 'ls' } }), badRequest('json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string'));
      await assert.rejects(d.client.json('POST', `/containers/${Id}/exec`, { body: { Cmd: ['ls'], Tty: 'x' } }), badRequest('json: cannot unmarshal string into Go struct field ExecConfig.Tty of type bool'));
      const inspect = await d.client.json<{ ExecIDs: string[] | null }>('GET', `/containers/${Id}/json`);
      assert.equal(inspect.ExecIDs, null, 'no exec session made');

      const exec = await d.client.json<{ Id: string }>('POST', `/containers/${Id}/exec`, { body: { Cmd: ['true'] } });
      await assert.rejects(d.client.json('POST', `/exec/${exec.Id}/start`, { body: { Detach: 'x' } }), badRequest('json: cannot unmarshal string into Go struct field ExecStartCheck.Detach of type bool'));
      await assert.rejects(d.client.hijack('POST', `/exec/${exec.Id}/start`, { body: { Tty: 1 } }), badRequest('json: cannot unmarshal number into Go struct field ExecStartCheck.Tty of type bool'));
      await assert.rejects(d.client.json('POST', `/exec/${exec.Id}/start`, { body: { ConsoleSize: [24] } }), badRequest('json: cannot unmarshal array into Go struct field ExecStartCheck.ConsoleSize of type [2]uint'));
      const session = await d.client.json<{ Running: boolean; ExitCode: number | null; Pid: number }>('GET', `/exec/${exec.Id}/json`);
      assert.equal(session.Pid, 0, 'the session never started');
      // Still startable once asked properly.
      await d.client.do('POST', `/exec/${exec.Id}/start`, { body: { Detach: true } });
    } finally {
      await d.client.do('DELETE', `/containers/${Id}`, { query: { force: '1' } });
    }
  });

  it('through the Docker SDK for Python', async () => {
    const script = `
import sys, docker
c = docker.APIClient(base_url=sys.argv[1])
def refused(path, body):
    try:
        c._result(c._post_json(c._url(path), data=body), True)
    except docker.errors.APIError as e:
        print(e.response.status_code, e.explanation)
        return
    raise SystemExit('accepted: %r' % (body,))
refused('/containers/create', {'Image': 7})
refused('/containers/create', {'Image': 'busybox', 'HostConfig': {'Ulimits': 5}})
refused('/containers/create', {'Image': 'busybox', 'HostConfig': {'RestartPolicy': {'Name': 'sometimes'}}})
`;
    const before = await containerIds();
    const r = await run('python3', ['-c', script, d.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      '400 json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string',
      '400 json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Ulimits of type []*units.Ulimit',
      "400 invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    ]);
    assert.deepEqual(await containerIds(), before, 'no container record');
  });

  it('networks: bad create requests, unknown networks and containers, with dockerd statuses', async () => {
    const status = (code: number, message: RegExp) => (e: unknown) => e instanceof ApiError && e.status === code && message.test(e.message);
    const create = (body: unknown) => d.client.json('POST', '/networks/create', { body });
    await assert.rejects(create({ Name: 'n', IPAM: { Config: [{ Subnet: 'nonsense' }] } }), status(400, /invalid CIDR address: nonsense/));
    await assert.rejects(create({ Name: 'n', IPAM: { Config: [{ Subnet: '10.217.0.0/24', Gateway: '10.9.9.9' }] } }), status(400, /no matching subnet for gateway 10.9.9.9/));
    await assert.rejects(create({ Name: 'n', Driver: 'overlay9' }), status(404, /plugin "overlay9" not found/));
    await assert.rejects(create({ Name: 'n', Driver: 'host' }), status(403, /only one instance of "host" network is allowed/));
    await assert.rejects(create({ Name: 'bad/name' }), status(400, /invalid network name/));
    await assert.rejects(create({ Name: 7 }), status(400, /cannot unmarshal number/));
    await assert.rejects(d.client.json('GET', '/networks/no-such-net'), status(404, /network no-such-net not found/));
    await assert.rejects(d.client.json('DELETE', '/networks/host'), status(403, /host is a pre-defined network and cannot be removed/));
    await assert.rejects(d.client.json('POST', '/networks/bridge/connect', { body: { Container: 'no-such-container' } }), status(404, /No such container: no-such-container/));
    await assert.rejects(d.client.json('POST', '/networks/bridge/connect', { body: {} }), status(400, /container name or ID is required/));
    await assert.rejects(d.client.json('GET', '/networks', { query: { filters: '{"color":["red"]}' } }), status(400, /invalid filter 'color'/));
    const names = (await d.client.json<Array<{ Name: string }>>('GET', '/networks')).map((n) => n.Name).sort();
    assert.deepEqual(names, ['bridge', 'host', 'none'], 'nothing half-made');
  });

  it('images/create with a bad reference is a 400, before any pull', async () => {
    await assert.rejects(d.client.json('POST', '/images/create', { query: { fromImage: 'Bad:Ref:x' } }), badRequest('invalid reference format: repository name (library/Bad) must be lowercase'));
    await assert.rejects(d.client.json('POST', '/images/create', { query: { fromImage: 'bad:ref:x' } }), badRequest('invalid reference format'));
    await assert.rejects(d.client.json('POST', '/images/create', { query: { fromImage: 'busybox', tag: 'no/slash' } }), badRequest('invalid reference format'));
    const pull = await d.docker(['pull', 'Bad:Ref']);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, /invalid reference format/);
  });
});
