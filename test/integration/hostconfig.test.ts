// HostConfig on the real kernel: cgroup limits (checked in the host's cgroup files), live update, OOM kills,
// capabilities, privileged mode, read-only rootfs, seccomp, no-new-privileges, ulimits, namespace modes, stop
// signals and timeouts, --init, restart policies and runtime selection — with our CLI and the docker CLI.
import assert from 'node:assert/strict';
import { readFile, readdir, readlink, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../harness/daemon.js';

type Inspect = {
  Id: string;
  State: { Status: string; ExitCode: number; OOMKilled: boolean; Restarting: boolean; StartedAt: string };
  RestartCount: number;
  HostConfig: Record<string, unknown>;
};

const v2 = await readFile('/sys/fs/cgroup/cgroup.controllers').then(() => true, () => false);

describe('host config', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  const inspect = async (name: string) => JSON.parse((await d.berth(['inspect', name])).stdout)[0] as Inspect;
  const ok = async (args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** A value from the container's cgroup as the host sees it. */
  const cgroup = async (id: string, v1: [string, string], v2file: string) => {
    const dir = await containerCgroupDir(d, id);
    return (await readFile(v2 ? join('/sys/fs/cgroup', dir, v2file) : join('/sys/fs/cgroup', v1[0], dir, v1[1]), 'utf8')).trim();
  };

  it('applies memory, CPU and pids limits to the cgroup, and update changes them live', async () => {
    const id = (await ok(['run', '-d', '--name', 'limited', '-m', '32m', '--memory-reservation', '16m', '--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '0', '--pids-limit', '20', 'busybox', 'sleep', '60'])).trim();
    assert.equal(await cgroup(id, ['memory', 'memory.limit_in_bytes'], 'memory.max'), String(32 * 1024 * 1024));
    assert.equal(await cgroup(id, ['cpu', 'cpu.cfs_quota_us'], 'cpu.max'), v2 ? '50000 100000' : '50000');
    assert.equal(await cgroup(id, ['pids', 'pids.max'], 'pids.max'), '20');
    assert.equal(await cgroup(id, ['cpuset', 'cpuset.cpus'], 'cpuset.cpus'), '0');
    if (!v2) assert.equal(await cgroup(id, ['cpu', 'cpu.shares'], 'cpu.weight'), '512');
    const hc = (await inspect('limited')).HostConfig;
    assert.equal(hc['Memory'], 32 * 1024 * 1024);
    assert.equal(hc['NanoCpus'], 0.5e9);

    const up = await d.docker(['update', '-m', '64m', '--memory-swap', '128m', '--cpus', '1', '--pids-limit', '30', 'limited']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.trim(), 'limited');
    assert.equal(await cgroup(id, ['memory', 'memory.limit_in_bytes'], 'memory.max'), String(64 * 1024 * 1024));
    assert.equal(await cgroup(id, ['cpu', 'cpu.cfs_quota_us'], 'cpu.max'), v2 ? '100000 100000' : '100000');
    assert.equal(await cgroup(id, ['pids', 'pids.max'], 'pids.max'), '30');
    assert.equal((await inspect('limited')).HostConfig['Memory'], 64 * 1024 * 1024);
    await ok(['rm', '-f', 'limited']);
  });

  it('rejects impossible limits with dockerd messages, and warns about what the kernel lacks', async () => {
    const tiny = await d.docker(['run', '--rm', '-m', '1m', 'busybox', 'true']);
    assert.equal(tiny.code, 125);
    assert.match(tiny.stderr, /Minimum memory limit allowed is 6MB/);
    const cpus = await d.berth(['run', '--rm', '--cpuset-cpus', '0-63', 'busybox', 'true']);
    assert.equal(cpus.code, 125);
    assert.match(cpus.stderr, /Requested CPUs are not available - requested 0-63/);
    const swap = await d.berth(['create', '-m', '64m', '--memory-swap', '32m', 'busybox']);
    assert.match(swap.stderr, /Minimum memoryswap limit should be larger than memory limit/);
    const res = await d.client.call('POST', '/containers/create', { body: { Image: 'busybox', HostConfig: { NanoCpus: 64e9 } } }).catch((e: Error) => e);
    assert.match(String(res), /Range of CPUs is from 0.01 to/);
    const hasBlkioWeight = v2 || (await readFile('/sys/fs/cgroup/blkio/blkio.weight').then(() => true, () => false)) || (await readFile('/sys/fs/cgroup/blkio/blkio.bfq.weight').then(() => true, () => false));
    const blkio = await d.berth(['run', '--rm', '--blkio-weight', '300', 'busybox', 'true']);
    assert.equal(blkio.code, 0, blkio.stderr);
    if (!hasBlkioWeight) assert.match(blkio.stderr, /WARNING: Your kernel does not support Block I\/O weight/);
  });

  it('an out-of-memory kill exits 137 and sets OOMKilled', async () => {
    // tail buffers /dev/zero looking for a newline that never comes, until the limit kills it.
    const r = await d.docker(['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'tail', '/dev/zero']);
    assert.equal(r.code, 137, r.stderr);
    const s = (await inspect('oom')).State;
    assert.equal(s.OOMKilled, true);
    assert.equal(s.ExitCode, 137);
    await ok(['rm', 'oom']);
  });

  it('capabilities: defaults, --cap-drop ALL, --cap-add, --privileged, and unknown names', async () => {
    const capEff = async (...flags: string[]) => {
      const out = await ok(['run', '--rm', ...flags, 'busybox', 'grep', 'CapEff', '/proc/self/status']);
      return BigInt(`0x${out.trim().split(/\s+/)[1]}`);
    };
    assert.equal(await capEff(), 0xa80425fbn, "Docker's default set");
    assert.equal(await capEff('--cap-drop', 'ALL'), 0n);
    assert.equal(await capEff('--cap-drop', 'ALL', '--cap-add', 'net_admin'), 1n << 12n);
    assert.equal((await capEff('--cap-add', 'SYS_ADMIN')) & (1n << 21n), 1n << 21n);
    const bounding = /^CapBnd:\s*(\S+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    assert.equal(await capEff('--privileged'), BigInt(`0x${bounding}`), "all of the daemon's capabilities");
    const bad = await d.docker(['run', '--rm', '--cap-add', 'FOO', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid CapAdd: unknown capability: "CAP_FOO"/);
  });

  it('--privileged lifts masked paths and device rules; the default does not', async () => {
    const plain = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted']);
    assert.notEqual(plain.code, 0, `${plain.stdout} ${plain.stderr}`);
    const priv = await d.berth(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted; ls /dev | wc -l; wc -c < /proc/timer_list']);
    assert.equal(priv.code, 0, priv.stderr);
    const [mounted, devices, timerList] = priv.stdout.trim().split('\n');
    assert.equal(mounted, 'mounted');
    assert.ok(Number(devices) > 12, `privileged /dev has the host's devices (${devices})`);
    assert.ok(Number(timerList) > 0, '/proc/timer_list readable when privileged');
    const masked = await ok(['run', '--rm', 'busybox', 'sh', '-c', 'wc -c < /proc/timer_list']);
    assert.equal(masked.trim(), '0', '/proc/timer_list is masked by default');
    // systempaths=unconfined lifts the masks and read-only /proc paths only (the docker CLI sends empty lists).
    const probe = 'wc -c < /proc/timer_list; grep -c " /proc/sys ro," /proc/self/mountinfo; grep CapEff /proc/self/status';
    for (const cli of [d.berth, d.docker]) {
      const open = await cli(['run', '--rm', '--security-opt', 'systempaths=unconfined', 'busybox', 'sh', '-c', probe]);
      const [size, roSys, caps] = open.stdout.trim().split('\n');
      assert.ok(Number(size) > 0, `/proc/timer_list readable: ${open.stdout} ${open.stderr}`);
      assert.equal(roSys, '0', '/proc/sys is not read-only');
      assert.match(caps ?? '', /00000000a80425fb$/, 'capabilities stay the default ones');
    }
    const defaults = await ok(['run', '--rm', 'busybox', 'grep', '-c', ' /proc/sys ro,', '/proc/self/mountinfo']);
    assert.equal(defaults.trim(), '1', '/proc/sys is read-only by default');
  });

  it('--read-only, no-new-privileges, seccomp and ulimits', async () => {
    const ro = await d.berth(['run', '--rm', '--read-only', 'busybox', 'sh', '-c', 'touch /x; touch /dev/shm/ok && echo shm-ok']);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(ro.stdout, 'shm-ok\n');
    assert.match(await ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
    assert.match(await ok(['run', '--rm', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+2/, 'the default profile filters');
    assert.match(await ok(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+0/);
    assert.match(await ok(['run', '--rm', '--privileged', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+0/);
    // A profile of one's own (the CLI sends the file's content): mkdir refused with EPERM.
    const profile = join(d.dir, 'no-mkdir.json');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    for (const cli of [d.berth, d.docker]) {
      const blocked = await cli(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'mkdir', '/made']);
      assert.equal(blocked.code, 1);
      assert.match(blocked.stderr, /Operation not permitted/);
    }
    const bad = await d.docker(['run', '--rm', '--security-opt', 'bogus=1', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid --security-opt/);
    const lim = await ok(['run', '--rm', '--ulimit', 'nofile=512:1024', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']);
    assert.equal(lim, '512\n1024\n');
  });

  it('namespace modes: --pid, --ipc, --uts and --network host or none', async () => {
    const ns = async (...flags: string[]) => (await ok(['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'for n in pid ipc uts net; do readlink /proc/self/ns/$n; done'])).trim().split('\n');
    const host = await Promise.all(['pid', 'ipc', 'uts', 'net'].map((n) => readlink(`/proc/self/ns/${n}`)));
    const priv = await ns();
    for (let i = 0; i < 4; i++) assert.notEqual(priv[i], host[i], 'private by default');
    const shared = await ns('--pid', 'host', '--ipc', 'host', '--uts', 'host', '--network', 'host');
    assert.deepEqual(shared, host);
    assert.equal((await ok(['run', '--rm', '--uts', 'host', 'busybox', 'hostname'])).trim(), hostname());
    assert.equal((await ok(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'])).trim(), 'lo');
    const badNet = await d.berth(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
    assert.match(badNet.stderr, /network nosuchnet not found/);
    // Joining another container's namespaces.
    await ok(['run', '-d', '--name', 'nsowner', 'busybox', 'sleep', '60']);
    const owner = (await ok(['inspect', '--format', '{{.State.Pid}}', 'nsowner'])).trim();
    const joined = await ok(['run', '--rm', '--pid', 'container:nsowner', '--network', 'container:nsowner', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/net']);
    assert.deepEqual(joined.trim().split('\n'), [await readlink(`/proc/${owner}/ns/pid`), await readlink(`/proc/${owner}/ns/net`)]);
    await ok(['rm', '-f', 'nsowner']);
  });

  it('stop uses --stop-signal and --stop-timeout; --init runs docker-init as PID 1', async () => {
    await ok(['run', '-d', '--name', 'usr1', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 3" USR1; while :; do sleep 0.1; done']);
    await ok(['stop', 'usr1']);
    assert.equal((await inspect('usr1')).State.ExitCode, 3);
    assert.match(await ok(['logs', 'usr1']), /got-usr1/);
    await ok(['run', '-d', '--name', 'stubborn', '--stop-timeout', '1', 'busybox', 'sleep', '60']);
    const t0 = Date.now();
    await ok(['stop', 'stubborn']);
    assert.ok(Date.now() - t0 < 5000, 'killed after the 1 s stop timeout, not 10 s');
    assert.equal((await inspect('stubborn')).State.ExitCode, 137);
    const badSig = await d.berth(['kill', '-s', 'NOPE', 'stubborn']);
    assert.match(badSig.stderr, /Invalid signal: NOPE/);
    const init = await ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
    assert.match(init, /^\/sbin\/docker-init -- sh -c/);
    await ok(['rm', 'usr1', 'stubborn']);
  });

  it('--group-add, --sysctl, --oom-score-adj, --tmpfs and --cgroupns take effect in the process (both CLIs)', async () => {
    for (const cli of ['docker', 'berth'] as const) {
      const run = async (args: string[]) => {
        const r = await d[cli](['run', '--rm', ...args]);
        assert.equal(r.code, 0, `${cli} run ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      assert.equal(await run(['--group-add', '123', '--group-add', 'daemon', 'busybox', 'id']), 'uid=0(root) gid=0(root) groups=0(root),1(daemon),10(wheel),123\n');
      assert.equal(await run(['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=1000000', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmax']), '1\n1000000\n');
      assert.equal(await run(['--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj']), '500\n');
      // dockerd's tmpfs defaults (noexec, nosuid, nodev), which the user's options override.
      const mounts = await run(['--tmpfs', '/scratch:size=1m', '--tmpfs', '/fast:exec', 'busybox', 'grep', '-E', ' /(scratch|fast) ', '/proc/mounts']);
      assert.match(mounts, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k /m);
      assert.match(mounts, /^tmpfs \/fast tmpfs rw,nosuid,nodev,relatime /m);
      assert.match(await run(['--cgroupns', 'private', 'busybox', 'cat', '/proc/self/cgroup']), /^0::\/$/m);
    }
    // Exit codes as the docker CLI gives them against dockerd: 125, or 127 when the message says "no such file".
    const bad: Array<[string[], RegExp, number?]> = [
      [['--group-add', 'no-such-group'], /Unable to find group no-such-group/],
      [['--oom-score-adj', '1001'], /Invalid value 1001, range for oom score adj is \[-1000, 1000\]/],
      [['--tmpfs', 'relative'], /invalid mount path: 'relative' mount path must be absolute/],
      [['--tmpfs', '/x:bogus'], /invalid tmpfs option "bogus"/],
      [['--device', '/dev/no-such-device'], /error gathering device information while adding custom device "\/dev\/no-such-device": no such file or directory/, 127],
      [['--device-read-bps', '/dev/null:1mb'], /\/dev\/null is not a block device/],
    ];
    for (const [args, message, code = 125] of bad) {
      const r = await d.docker(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // The docker CLI checks this one itself; the API refuses it too.
    const mode = await d.berth(['run', '--rm', '--cgroupns', 'shared', 'busybox', 'true']);
    assert.equal(mode.code, 125);
    assert.match(mode.stderr, /invalid cgroup namespace mode: shared/);
  });

  it('--device, --device-cgroup-rule, --cgroup-parent and per-device limits reach the device cgroup and the kernel', async () => {
    const parent = `berth-test-parent-${process.pid}`;
    try {
      const id = (await ok(['run', '-d', '--name', 'devices', '--cgroup-parent', parent, '--device', '/dev/fuse:/dev/myfuse:r', '--device-cgroup-rule', 'c 42:* rm', '--memory-swappiness', '10', ...(v2 ? [] : ['--device-read-bps', `${await rootBlockDevice()}:1mb`]), 'busybox', 'sleep', '60'])).trim();
      assert.equal(await containerCgroupDir(d, id), `/${parent}/${id}`);
      // The device exists under its new name, and may be opened for reading but not for writing (the cgroup says so).
      const probe = await d.docker(['exec', 'devices', 'sh', '-c', 'ls -l /dev/myfuse; echo x > /dev/myfuse || echo no-write']);
      assert.match(probe.stdout, /^c\S+ +1 root +root +10, +229 .*\/dev\/myfuse$/m);
      assert.match(probe.stdout, /^no-write$/m);
      assert.match(probe.stderr, /Operation not permitted/);
      if (!v2) {
        assert.equal(await cgroup(id, ['memory', 'memory.swappiness'], ''), '10');
        assert.match(await cgroup(id, ['blkio', 'blkio.throttle.read_bps_device'], ''), / 1048576$/);
        const allowed = await cgroup(id, ['devices', 'devices.list'], '');
        assert.match(allowed, /^c 10:229 r$/m);
        assert.match(allowed, /^c 42:\* rm$/m);
      }
    } finally {
      await d.berth(['rm', '-f', 'devices']);
      for (const ctl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) await rmdir(join('/sys/fs/cgroup', ctl, parent)).catch(() => {});
    }
  });

  it('--add-host, --dns*, --mount type=tmpfs and --annotation take effect; bad mounts are refused', async () => {
    // The container's own address line comes last, after the --add-host lines, as in Docker.
    const hosts = await d.docker(['run', '--rm', '--add-host', 'db:10.1.2.3', '--add-host', 'v6=::1', '--dns', '9.9.9.9', '--dns-search', 'example.com', '--dns-option', 'ndots:2', 'busybox', 'sh', '-c', 'tail -3 /etc/hosts | head -2; cat /etc/resolv.conf']);
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.equal(hosts.stdout, '10.1.2.3\tdb\n::1\tv6\nsearch example.com\nnameserver 9.9.9.9\noptions ndots:2\n');
    const mounted = await d.berth(['run', '--rm', '--mount', 'type=tmpfs,target=/m,tmpfs-size=1m', 'busybox', 'grep', ' /m ', '/proc/mounts']);
    assert.equal(mounted.stdout, 'tmpfs /m tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k 0 0\n', mounted.stderr);
    const listed = (await ok(['create', '--network', 'none', '--mount', 'type=tmpfs,target=/m', 'busybox'])).trim();
    assert.equal((await d.docker(['inspect', '--format', '{{json .Mounts}}', listed])).stdout.trim(), '[{"Type":"tmpfs","Source":"","Destination":"/m","Mode":"","RW":true,"Propagation":""}]');
    assert.equal((await d.docker(['ps', '-a', '--filter', 'network=none', '--filter', `id=${listed}`, '--format', '{{.ID}}'])).stdout.trim(), listed.slice(0, 12));
    await ok(['rm', listed]);
    const id = (await ok(['create', '--annotation', 'org.example.team=blue', 'busybox', 'true'])).trim();
    await ok(['start', id]);
    const bundle = JSON.parse(await readFile(join(d.dir, 'run', 'containers', id, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    assert.deepEqual(bundle.annotations, { 'org.example.team': 'blue' });
    await ok(['rm', '-f', id]);

    const before = (await ok(['ps', '-aq'])).trim();
    const refused: Array<[string[], RegExp]> = [
      [['--storage-opt', 'size=1G'], /--storage-opt is supported only for overlay over xfs/],
      [['--volumes-from', 'no-such-container'], /No such container: no-such-container/],
      [['--mount', 'type=bind,src=/no/such/dir,dst=/x'], /bind source path does not exist: \/no\/such\/dir/],
      [['-v', 'two:/a', '-v', 'three:/a'], /Duplicate mount point: \/a/],
      [['--gpus', 'all'], /could not select device driver "" with capabilities: \[\[gpu\]\]/],
      [['--isolation', 'hyperv'], /invalid isolation \(hyperv\): linux only supports 'default'/],
    ];
    for (const [args, message] of refused) {
      const r = await d.docker(['run', '--rm', '--pull', 'never', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // What would write lines of its own into /etc/hosts or /etc/resolv.conf.
    for (const [args, message] of [
      [['--add-host', 'two names:10.0.0.1'], /bad format for add-host/],
      // The CLI refuses it as docker's does; the daemon's own check is the API test's.
      [['--dns-search', 'example.com\nnameserver 6.6.6.6'], /is not a valid domain/],
    ] as const) {
      const r = await d.berth(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.equal((await ok(['ps', '-aq'])).trim(), before, 'nothing was created');
    // An image's VOLUMEs become anonymous volumes, shown in inspect and taken away by rm -v.
    const base = (await ok(['create', 'busybox'])).trim();
    await ok(['commit', '--change', 'VOLUME /data', base, 'berth-test/with-volume:1']);
    const withVolume = await d.docker(['create', 'berth-test/with-volume:1']);
    assert.equal(withVolume.code, 0, withVolume.stderr);
    assert.equal((await d.docker(['inspect', '--format', '{{json .Config.Volumes}}', withVolume.stdout.trim()])).stdout.trim(), '{"/data":{}}');
    assert.match((await d.docker(['inspect', '--format', '{{range .Mounts}}{{.Type}} {{.Destination}}{{end}}', withVolume.stdout.trim()])).stdout, /^volume \/data$/m);
    await ok(['rm', '-v', base, withVolume.stdout.trim()]);
    await ok(['rmi', 'berth-test/with-volume:1']);
    // Without a network there is nothing to publish on: dockerd ignores the ports, and so does berthd.
    assert.equal((await d.docker(['run', '--rm', '--network', 'none', '-p', '8080:80', 'busybox', 'true'])).code, 0);
  });

  it('restart policies: on-failure:N, always until stopped, and restart', async () => {
    await ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3']);
    for (let i = 0; i < 100 && ((await inspect('flaky')).RestartCount < 2 || (await inspect('flaky')).State.Status !== 'exited'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const flaky = await inspect('flaky');
    assert.equal(flaky.RestartCount, 2);
    assert.equal(flaky.State.Status, 'exited');
    assert.equal(flaky.State.ExitCode, 3);
    assert.equal((await ok(['logs', 'flaky'])).split('\n').filter((l) => l === 'run').length, 3);

    await ok(['run', '-d', '--name', 'forever', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    for (let i = 0; i < 100 && (await inspect('forever')).RestartCount < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await inspect('forever')).RestartCount >= 2);
    await ok(['stop', 'forever']);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await inspect('forever')).State.Status, 'exited', 'a stopped container stays stopped');

    const conflict = await d.docker(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
    assert.equal(conflict.code, 125);

    await ok(['run', '-d', '--name', 'restartme', 'busybox', 'sleep', '60']);
    const before = (await inspect('restartme')).State.StartedAt;
    const r = await d.docker(['restart', '-t', '0', 'restartme']);
    assert.equal(r.code, 0, r.stderr);
    const after = (await inspect('restartme')).State;
    assert.equal(after.Status, 'running');
    assert.notEqual(after.StartedAt, before);
    await ok(['rm', '-f', 'flaky', 'forever', 'restartme']);
  });

  it('runtimes: info says which work here; --runtime picks one and rejects unknown names', async () => {
    const info = JSON.parse(await ok(['info', '--format', '{{json .}}'])) as { Runtimes: Record<string, { status?: Record<string, string> }>; DefaultRuntime: string };
    assert.equal(info.Runtimes[info.DefaultRuntime]?.status?.['usable'], 'true');
    assert.equal((await ok(['run', '--rm', '--runtime', 'runc', 'busybox', 'echo', 'hi'])).trim(), 'hi');
    const bad = await d.docker(['run', '--rm', '--runtime', 'nope', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /unknown or invalid runtime name: nope/);
  });
});

/** The container's cgroup path relative to a hierarchy root, from its init process. */
async function containerCgroupDir(d: Daemon, id: string): Promise<string> {
  const pid = (await d.berth(['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim();
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const line = v2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => /:memory:/.test(l));
  return line?.split(':').slice(2).join(':') ?? '';
}

/** The block device holding the root filesystem (for per-device limits). */
async function rootBlockDevice(): Promise<string> {
  const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === '/');
  const source = line?.split(' - ')[1]?.split(' ')[1] ?? '';
  return source.startsWith('/dev/') ? source : '/dev/vda';
}
