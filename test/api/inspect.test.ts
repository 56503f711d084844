// Container inspect and list JSON against what dockerd (Engine API 1.45, moby's daemon/inspect.go and
// container/view.go) shows: times, Config, LogPath, HostConfig's defaults, the network mode's endpoint, ps's
// NETWORKS and COMMAND columns; through the API and through the real docker CLI.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../harness/daemon.js';
import { type ContainerInspect, type ContainerSummary, type EndpointSettings } from '../../src/services/containers/views.js';
import { rfc3339Nano } from '../../src/util/timestamp.js';

const imagePath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Go's time.RFC3339Nano in UTC: a fraction, if any, has no trailing zero. */
const rfc3339NanoRe = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/;
const maskedPaths = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/** An endpoint dockerd shows before networking connects it (moby's EndpointSettings, in its field order). */
const emptyEndpoint: EndpointSettings = JSON.parse(
  '{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"",' +
    '"IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DriverOpts":null,"DNSNames":null}',
);
/** moby's HostConfig keys in its JSON order, omitempty ones (Annotations, Runtime, Init, …) left out when empty. */
const hostConfigKeys = [
  'Binds', 'ContainerIDFile', 'LogConfig', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'VolumeDriver', 'VolumesFrom',
  'ConsoleSize', 'CapAdd', 'CapDrop', 'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup',
  'Links', 'OomScoreAdj', 'PidMode', 'Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'SecurityOpt', 'UTSMode', 'UsernsMode',
  'ShmSize', 'Runtime', 'Isolation', 'CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice',
  'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests',
  'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'Ulimits', 'CpuCount', 'CpuPercent',
  'IOMaximumIOps', 'IOMaximumBandwidth', 'MaskedPaths', 'ReadonlyPaths',
];

describe('container inspect and list views', () => {
  let d: Daemon;
  const inspect = (name: string) => d.client.json<ContainerInspect>('GET', `/containers/${name}/json`);
  const list = async () => d.client.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: true } });
  /** `docker inspect --format` through the real CLI. */
  const format = async (name: string, template: string) => {
    const r = await d.docker(['inspect', '--format', template, name]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const create = async (args: string[]) => {
    const r = await d.docker(['create', '--pull', 'never', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  it('rfc3339Nano prints stored times as Go does (no trailing zeros in the fraction)', () => {
    assert.equal(rfc3339Nano('2026-11-23T10:18:10.573Z'), '2026-11-23T10:18:10.573Z');
    assert.equal(rfc3339Nano('2026-11-23T10:18:10.570Z'), '2026-11-23T10:18:10.57Z');
    assert.equal(rfc3339Nano('2026-11-23T10:18:10.000Z'), '2026-11-23T10:18:10Z');
    assert.equal(rfc3339Nano('2026-11-23T10:18:10.573912340Z'), '2026-11-23T10:18:10.57391234Z');
    assert.equal(rfc3339Nano('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00Z');
  });

  it('Created, StartedAt and FinishedAt are RFC3339Nano', async () => {
    assert.equal((await d.docker(['run', '--pull', 'never', '--name', 'times', '--network', 'none', 'busybox', 'true'])).code, 0);
    const i = await inspect('times');
    for (const t of [i.Created, i.State.StartedAt, i.State.FinishedAt]) {
      assert.match(t, rfc3339NanoRe);
      assert.ok(Date.parse(t) > Date.parse('2020-01-01T00:00:00Z'), t);
    }
    assert.ok(Date.parse(i.Created) <= Date.parse(i.State.StartedAt) && Date.parse(i.State.StartedAt) <= Date.parse(i.State.FinishedAt));
    assert.equal(await format('times', '{{.Created}} {{.State.StartedAt}} {{.State.FinishedAt}}'), `${i.Created} ${i.State.StartedAt} ${i.State.FinishedAt}`);
    const created = await inspect(await create(['--network', 'none', 'busybox']));
    assert.equal(created.State.StartedAt, '0001-01-01T00:00:00Z');
    assert.equal(created.State.FinishedAt, '0001-01-01T00:00:00Z');
  });

  it('times have nanoseconds', async () => {
    // A time with nanoseconds has fewer than 4 fraction digits only when its last 6 digits are all zeros (1 in 10^6).
    const i = await inspect('times');
    for (const t of [i.Created, i.State.StartedAt, i.State.FinishedAt]) assert.match(t, /\.\d{4,9}Z$/);
  });

  it("Config.Env: the container's variables first, then those of the image it does not set", async () => {
    // Through the API: the docker CLI sends several -e in no fixed order.
    await d.client.json('POST', '/containers/create', { query: { name: 'env' }, body: { Image: 'busybox', Env: ['A=1', 'PATH=/x', 'Z=2'], HostConfig: { NetworkMode: 'none' } } });
    assert.deepEqual((await inspect('env')).Config['Env'], ['A=1', 'PATH=/x', 'Z=2']);
    await create(['--name', 'env2', '--network', 'none', '-e', 'A=1', 'busybox']);
    assert.equal(await format('env2', '{{json .Config.Env}}'), JSON.stringify(['A=1', imagePath]));
    await create(['--name', 'env3', '--network', 'none', 'busybox']);
    assert.deepEqual((await inspect('env3')).Config['Env'], [imagePath]);
  });

  it('Config.AttachStdin/AttachStdout/AttachStderr are as the client sent them', async () => {
    await create(['--name', 'att-it', '--network', 'none', '-it', 'busybox']);
    assert.equal(await format('att-it', '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}'), 'true true true');
    await create(['--name', 'att', '--network', 'none', 'busybox']);
    assert.equal(await format('att', '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}'), 'false true true');
  });

  it('Config.Attach* are false for a detached run', async () => {
    assert.equal((await d.docker(['run', '-d', '--pull', 'never', '--name', 'att-d', '--network', 'none', 'busybox', 'true'])).code, 0);
    assert.equal(await format('att-d', '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}'), 'false false false');
  });

  it('LogPath is empty until the first start, and kept after the exit', async () => {
    const id = await create(['--name', 'logpath', '--network', 'none', 'busybox', 'echo', 'hi']);
    assert.equal((await inspect('logpath')).LogPath, '');
    assert.equal(await format('logpath', '{{.LogPath}}'), '');
    assert.equal((await d.docker(['start', '-a', 'logpath'])).stdout, 'hi\n');
    const path = (await inspect('logpath')).LogPath;
    assert.ok(path.endsWith(`/${id}/${id}-json.log`), path);
    assert.ok(existsSync(path), path);
    assert.equal(await format('logpath', '{{.LogPath}}'), path);
    assert.equal((await d.docker(['run', '--pull', 'never', '--name', 'nolog', '--log-driver', 'none', '--network', 'none', 'busybox', 'true'])).code, 0);
    assert.equal((await inspect('nolog')).LogPath, '');
  });

  it("HostConfig: every key dockerd shows, with dockerd's values for what the client left out", async () => {
    const created = await d.client.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: 'minimal' },
      body: { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } },
    });
    const hc = (await inspect(created.Id)).HostConfig;
    assert.deepEqual(Object.keys(hc), hostConfigKeys);
    assert.equal(hc['Binds'], null);
    assert.equal(hc['Links'], null);
    assert.equal(hc['PortBindings'], null);
    assert.equal(hc['Ulimits'], null);
    assert.deepEqual(hc['ConsoleSize'], [0, 0]);
    assert.deepEqual(hc['RestartPolicy'], { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(hc['LogConfig'], { Type: 'json-file', Config: {} });
    assert.equal(hc['OomKillDisable'], false);
    assert.equal(hc['PidsLimit'], null);
    assert.equal(hc['MemorySwappiness'], null);
    assert.equal(hc['Runtime'], 'runc');
    assert.deepEqual(hc['MaskedPaths'], maskedPaths);
    assert.deepEqual(hc['ReadonlyPaths'], readonlyPaths);
  });

  it('HostConfig through the docker CLI: masked/read-only paths, unset limits as null, privileged', async () => {
    await create(['--name', 'hc', '--network', 'none', 'busybox']);
    assert.equal(await format('hc', '{{json .HostConfig.MaskedPaths}}'), JSON.stringify(maskedPaths));
    assert.equal(await format('hc', '{{json .HostConfig.ReadonlyPaths}}'), JSON.stringify(readonlyPaths));
    assert.equal(await format('hc', '{{json .HostConfig.PidsLimit}} {{json .HostConfig.MemorySwappiness}} {{json .HostConfig.OomKillDisable}}'), 'null null false');
    const hc = (await inspect('hc')).HostConfig;
    assert.equal('Init' in hc, false, 'Init is omitempty');
    assert.equal('KernelMemory' in hc, false, 'KernelMemory is omitempty');

    await create(['--name', 'limited', '--network', 'none', '--pids-limit', '100', '--init', 'busybox']);
    assert.equal(await format('limited', '{{json .HostConfig.PidsLimit}} {{json .HostConfig.Init}}'), '100 true');

    await create(['--name', 'priv', '--network', 'none', '--privileged', 'busybox']);
    assert.equal(await format('priv', '{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}'), 'null null');
    assert.deepEqual((await inspect('priv')).HostConfig['SecurityOpt'], ['label=disable']);
  });

  it('the /etc file paths once started (the shared ones for container: mode); Cmd null with an entrypoint alone', async () => {
    await create(['--name', 'etc-own', '--network', 'none', 'busybox', 'sleep', '30']);
    assert.equal((await inspect('etc-own')).HostsPath, '', 'not before the first start');
    assert.equal((await d.docker(['start', 'etc-own'])).code, 0);
    const own = await inspect('etc-own');
    for (const [key, name] of [['ResolvConfPath', 'resolv.conf'], ['HostnamePath', 'hostname'], ['HostsPath', 'hosts']] as const) {
      assert.ok(own[key].endsWith(`/${own.Id}/${name}`), own[key]);
      assert.ok(existsSync(own[key]), own[key]);
    }
    await create(['--name', 'etc-shared', '--network', 'container:etc-own', 'busybox', 'true']);
    assert.equal((await d.docker(['start', '-a', 'etc-shared'])).code, 0);
    assert.equal((await inspect('etc-shared')).HostsPath, own.HostsPath);
    assert.equal((await d.docker(['rm', '-f', 'etc-own', 'etc-shared'])).code, 0);
    await create(['--name', 'entry-only', '--network', 'none', '--entrypoint', 'sh', 'busybox']);
    assert.equal(await format('entry-only', '{{json .Config.Cmd}} {{json .Config.Entrypoint}}'), 'null ["sh"]');
  });

  it("HostConfig.CgroupnsMode is the host's default", async () => {
    const expected = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'private' : 'host';
    assert.equal((await inspect('hc')).HostConfig['CgroupnsMode'], expected);
    assert.equal(await format('hc', '{{.HostConfig.CgroupnsMode}}'), expected);
  });

  it("the list names the container's image while that name still means it, its ID after", async () => {
    assert.equal((await d.docker(['tag', 'busybox', 'berth-test/retag:1'])).code, 0);
    const id = await create(['--name', 'retagged', '--network', 'none', 'berth-test/retag:1', 'true']);
    const shown = async () => (await list()).find((c) => c.Id === id)?.Image;
    assert.equal(await shown(), 'berth-test/retag:1');
    assert.equal((await d.docker(['commit', 'retagged', 'berth-test/retag:1'])).code, 0);
    assert.equal(await shown(), (await inspect('retagged')).Image);
    assert.equal((await d.docker(['rm', 'retagged'])).code, 0);
    assert.equal((await d.docker(['rmi', 'berth-test/retag:1'])).code, 0);
  });

  it("NetworkSettings.Networks: the network mode's endpoint, in inspect, in the list and in ps's NETWORKS", async () => {
    await create(['--name', 'net-none', '--network', 'none', 'busybox']);
    await create(['--name', 'net-host', '--network', 'host', 'busybox']);
    await create(['--name', 'net-shared', '--network', 'container:net-host', 'busybox']);
    // The endpoint names its network from create on, as Docker 25+ does.
    const networkId = async (name: string) => (await d.docker(['network', 'inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const noneEndpoint = { ...emptyEndpoint, NetworkID: await networkId('none') };
    const hostEndpoint = { ...emptyEndpoint, NetworkID: await networkId('host') };
    const none = (await inspect('net-none')).NetworkSettings;
    assert.deepEqual(none.Networks, { none: noneEndpoint });
    assert.deepEqual(Object.keys(none), [
      'Bridge', 'SandboxID', 'SandboxKey', 'Ports', 'HairpinMode', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'SecondaryIPAddresses',
      'SecondaryIPv6Addresses', 'EndpointID', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway',
      'MacAddress', 'Networks',
    ]);
    assert.deepEqual(none.Ports, {});
    assert.deepEqual((await inspect('net-host')).NetworkSettings.Networks, { host: hostEndpoint });
    assert.deepEqual((await inspect('net-shared')).NetworkSettings.Networks, {});
    assert.equal(await format('net-none', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}'), 'none');

    const byName = new Map((await list()).map((c) => [c.Names[0], c]));
    assert.deepEqual(byName.get('/net-none')?.NetworkSettings, { Networks: { none: noneEndpoint } });
    assert.deepEqual(byName.get('/net-none')?.HostConfig, { NetworkMode: 'none' });
    assert.deepEqual(byName.get('/net-host')?.NetworkSettings, { Networks: { host: hostEndpoint } });
    assert.deepEqual(byName.get('/net-shared')?.NetworkSettings, { Networks: {} });
    // Kept by ID, as dockerd does.
    assert.deepEqual(byName.get('/net-shared')?.HostConfig, { NetworkMode: `container:${(await inspect('net-host')).Id}` });

    const ps = await d.docker(['ps', '-a', '--filter', 'name=^net-', '--format', '{{.Names}} {{.Networks}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.deepEqual(ps.stdout.split('\n').filter(Boolean).sort(), ['net-host host', 'net-none none', 'net-shared ']);
  });

  it("ps's COMMAND quotes the arguments that contain a space, as dockerd", async () => {
    await create(['--name', 'quoted', '--network', 'none', 'busybox', 'echo', 'a b', 'c\td']);
    const c = (await list()).find((x) => x.Names[0] === '/quoted');
    assert.equal(c?.Command, "echo 'a b' c\td");
    const ps = await d.docker(['ps', '-a', '--no-trunc', '--filter', 'name=^quoted$', '--format', '{{.Command}}']);
    assert.equal(ps.stdout.trim(), JSON.stringify("echo 'a b' c\td"));
  });
});
