// Containers through the API with both CLIs (first slice: non-interactive run, logs, ps, inspect, stop, kill,
// wait, rm), on the real kernel with conmon and runc, and what each leaves behind.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir, rm, stat, symlink } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { basename, join } from 'node:path';
import { type Daemon, run, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';

type Inspect = {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number };
  GraphDriver: { Data: Record<string, string> };
  LogPath: string;
};

describe('containers', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  it('run --rm prints the output and leaves nothing behind (berth and docker CLIs)', async () => {
    const ours = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, 'hello\n');
    const theirs = await d.docker(['run', '--rm', '--pull', 'never', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(theirs.stdout, 'out\n');
    assert.equal(theirs.stderr, 'err\n');
    assert.equal((await d.berth(['ps', '-aq'])).stdout, '');
    await waitForNoLeftovers(d);
  });

  it("the container's exit code is the CLI's; stdout and stderr stay apart in logs", async () => {
    const r = await d.docker(['run', '--pull', 'never', '--name', 'exits', 'busybox', 'sh', '-c', 'echo one; echo two >&2; exit 7']);
    assert.equal(r.code, 7);
    const ours = await d.berth(['run', '--name', 'exits2', 'busybox', 'sh', '-c', 'exit 3']);
    assert.equal(ours.code, 3);
    const logs = await d.docker(['logs', 'exits']);
    assert.equal(logs.stdout, 'one\n');
    assert.equal(logs.stderr, 'two\n');
    const i = await d.client.json<Inspect>('GET', '/containers/exits/json');
    assert.equal(i.State.Status, 'exited');
    assert.equal(i.State.ExitCode, 7);
    assert.equal(i.Name, '/exits');
    for (const k of ['UpperDir', 'WorkDir', 'MergedDir']) assert.ok((await stat(i.GraphDriver.Data[k] as string)).isDirectory());
    const ps = await d.docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^exits Exited \(7\) /m);
  });

  it('isolation: PID 1, own hostname, the host kernel, a private network namespace', async () => {
    const r = await d.berth(['run', '--rm', '-h', 'boxy', 'busybox', 'sh', '-c', 'echo $$; hostname; uname -r; ls /sys/class/net | tr "\\n" " "']);
    assert.equal(r.code, 0, r.stderr);
    const [pid, host, kernel, nets] = r.stdout.trim().split('\n');
    assert.equal(pid, '1');
    assert.equal(host, 'boxy');
    assert.equal(kernel, (await import('node:os')).release());
    assert.equal(nets?.trim(), 'eth0 lo', 'the default bridge endpoint and loopback, nothing of the host');
    for (const cli of [d.berth, d.docker]) {
      const named = await cli(['run', '--name', 'domained', '--domainname', 'example.org', 'busybox', 'cat', '/proc/sys/kernel/domainname']);
      assert.equal(named.stdout, 'example.org\n', named.stderr);
      assert.equal((await d.docker(['inspect', '-f', '{{.Config.Domainname}}', 'domained'])).stdout, 'example.org\n');
      assert.equal((await d.docker(['rm', 'domained'])).code, 0);
    }
  });

  it('-e, -w, -u and --entrypoint are applied', async () => {
    const r = await d.docker(['run', '--rm', '--pull', 'never', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', '--entrypoint', 'sh', 'busybox', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g)']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'bar /tmp 65534:65534\n');
  });

  it('what dockerd gives every process: env, groups, /etc files, /.dockerenv; and its create-time checks', async () => {
    // Through the API, as the docker CLI sends `-e NAME` for a NAME it does not have: a bare name unsets.
    const { Id } = await d.client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: 'busybox', Cmd: ['/usr/bin/env'], Env: ['PATH', 'A=1', 'UNSET_HERE'], Tty: true, Hostname: 'boxy' },
    });
    assert.deepEqual(JSON.parse((await d.docker(['inspect', '-f', '{{json .Config.Env}}', Id])).stdout), ['PATH', 'A=1', 'UNSET_HERE']);
    assert.equal((await d.docker(['start', Id])).code, 0);
    assert.equal((await d.docker(['wait', Id])).stdout.trim(), '0');
    const vars = (await d.docker(['logs', Id])).stdout.replace(/\r/g, '').trim().split('\n').sort();
    assert.deepEqual(vars.filter((v) => /^(A|HOSTNAME|TERM|PATH|UNSET_HERE)=/.test(v)), ['A=1', 'HOSTNAME=boxy', 'TERM=xterm']);
    assert.equal((await d.docker(['rm', Id])).code, 0);
    const created = (await d.docker(['create', '-e', 'A=1', 'busybox'])).stdout.trim();
    const configEnv = JSON.parse((await d.docker(['inspect', '-f', '{{json .Config.Env}}', created])).stdout);
    assert.deepEqual(configEnv, ['A=1', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], 'the user\'s variables first');
    assert.equal((await d.docker(['rm', created])).code, 0);

    const who = await d.docker(['run', '--rm', '-h', 'boxy', 'busybox', 'sh', '-c', 'id; grep Groups /proc/self/status; cat /etc/hostname; grep -c localhost /etc/hosts; grep -c nameserver /etc/resolv.conf; test -f /.dockerenv && echo dockerenv']);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, 'uid=0(root) gid=0(root) groups=0(root),10(wheel)\nGroups:\t0 10 \nboxy\n2\n1\ndockerenv\n');
    assert.equal((await d.docker(['run', '--rm', '-u', '1000', 'busybox', 'grep', 'Groups', '/proc/self/status'])).stdout, 'Groups:\t0 \n');

    assert.equal((await d.docker(['run', '--rm', '--entrypoint', '', 'busybox', 'echo', 'x'])).stdout, 'x\n');
    const relative = await d.docker(['create', '-w', 'relative', 'busybox']);
    assert.equal(relative.code, 1);
    assert.match(relative.stderr, /the working directory 'relative' is invalid, it needs to be an absolute path/);
    assert.match((await d.docker(['run', '--rm', '-u', '99999999999', 'busybox', 'true'])).stderr, /uids and gids must be in range 0-2147483647/);

    // A failed start is kept for inspect with the code a shell would give.
    assert.equal((await d.docker(['run', '--name', 'nocmd', 'busybox', 'nosuchcmd'])).code, 127);
    const failed = (await d.docker(['inspect', '-f', '{{.State.ExitCode}}|{{.State.Error}}', 'nocmd'])).stdout;
    assert.match(failed, /^127\|.*executable file not found/);
    assert.equal((await d.docker(['rm', 'nocmd'])).code, 0);
  });

  it('an image whose /etc is a symlink keeps it: the init layer then has no /etc of its own', async () => {
    const tree = join(d.dir, 'etc-link');
    await mkdir(join(tree, 'bin'), { recursive: true });
    await mkdir(join(tree, 'realetc'));
    await copyFile('/bin/busybox', join(tree, 'bin', 'busybox'));
    await symlink('busybox', join(tree, 'bin', 'sh'));
    await symlink('realetc', join(tree, 'etc'));
    const tar = join(d.dir, 'etc-link.tar');
    assert.equal((await run('tar', ['-cf', tar, '-C', tree, '.'])).code, 0);
    assert.equal((await d.docker(['import', tar, 'berth-test/etc-link:1'])).code, 0);
    const r = await d.docker(['run', '--rm', '-h', 'linked', 'berth-test/etc-link:1', '/bin/sh', '-c', '/bin/busybox readlink /etc; /bin/busybox cat /realetc/hostname']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'realetc\nlinked\n');
    assert.equal((await d.docker(['rmi', 'berth-test/etc-link:1'])).code, 0);
  });

  it('events as dockerd sends them: kill with its signal, die and stop; top, export and prune', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    await d.docker(['run', '-d', '--name', 'evented', 'busybox', 'sleep', '300']);
    assert.equal((await d.docker(['top', 'evented'])).code, 0);
    assert.equal((await d.docker(['stop', '-t', '1', 'evented'])).code, 0); // sleep as PID 1 ignores TERM: KILL follows
    assert.equal((await d.docker(['export', '-o', join(d.dir, 'evented.tar'), 'evented'])).code, 0);
    assert.equal((await d.docker(['container', 'prune', '-f', '--filter', 'label=none-has-it'])).code, 0);
    assert.equal((await d.docker(['rm', 'evented'])).code, 0);
    assert.equal((await d.docker(['run', '--rm', '--name', 'evented', 'busybox', 'true'])).code, 0);
    const until = (Date.now() / 1000 + 1).toFixed(3);
    const r = await d.docker(['events', '--since', since, '--until', until, '--filter', 'type=container', '--format', '{{.Action}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "reclaimed"}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim()), ['create', 'start', 'top', 'kill 15', 'kill 9', 'die', 'stop', 'export', 'prune 0', 'destroy', 'create', 'attach', 'start', 'die', 'destroy']);
  });

  it('signals by name or number, real-time ones included, reach the process', async () => {
    await d.docker(['run', '-d', '--name', 'trapper', 'busybox', 'sh', '-c', 'trap "echo got-rt; exit 3" 37; while true; do sleep 0.1; done']);
    assert.equal((await d.docker(['kill', '-s', 'RTMIN+3', 'trapper'])).code, 0);
    assert.equal((await d.docker(['wait', 'trapper'])).stdout.trim(), '3');
    assert.equal((await d.docker(['logs', 'trapper'])).stdout, 'got-rt\n');
    assert.equal((await d.docker(['rm', 'trapper'])).code, 0);
  });

  it('detached containers: ps, stop (TERM then KILL), kill, wait, rm -f', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '300'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await d.berth(['ps']);
    assert.match(ps.stdout, /sleeper/);
    assert.match(ps.stdout, /Up /);
    const inspect = await d.client.json<Inspect>('GET', `/containers/${id}/json`);
    assert.ok(inspect.State.Running && inspect.State.Pid > 0);
    const stop = await d.docker(['stop', '-t', '1', 'sleeper']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await d.client.json<Inspect>('GET', `/containers/${id}/json`)).State.ExitCode, 137, 'sleep ignores TERM as PID 1');
    await d.berth(['start', 'sleeper']);
    const waiter = d.berth(['wait', 'sleeper']);
    assert.equal((await d.docker(['kill', '-s', 'KILL', 'sleeper'])).code, 0);
    assert.equal((await waiter).stdout.trim(), '137');
    await d.berth(['start', 'sleeper']);
    const rm = await d.berth(['rm', 'sleeper']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /container is running: stop the container before removing or force remove/);
    assert.equal((await d.berth(['rm', '-f', 'sleeper'])).code, 0);
    assert.equal((await d.berth(['ps', '-aq', '--no-trunc'])).stdout.includes(id), false);
  });

  it('bad input: unknown image, name in use, missing command, image in use', async () => {
    const noImage = await d.docker(['run', '--pull', 'never', 'no-such-image']);
    assert.equal(noImage.code, 125);
    const ours = await d.berth(['run', 'no-such-image']);
    assert.equal(ours.code, 125);
    assert.match(ours.stderr, /Unable to find image 'no-such-image:latest' locally/);
    assert.equal((await d.berth(['create', '--name', 'taken', 'busybox'])).code, 0);
    const dup = await d.berth(['create', '--name', 'taken', 'busybox']);
    assert.equal(dup.code, 1, 'a failed create exits 1, as docker create does');
    assert.match(dup.stderr, /The container name "\/taken" is already in use/);
    const rmi = await d.berth(['rmi', 'busybox']);
    assert.equal(rmi.code, 1);
    assert.match(rmi.stderr, /conflict: unable to remove repository reference "busybox" \(must force\) - container [0-9a-f]{12} is using its referenced image/);
    const notFound = await d.docker(['run', '--rm', '--pull', 'never', 'busybox', 'no-such-command']);
    assert.equal(notFound.code, 127);
    assert.match(notFound.stderr, /executable file not found/);
    const oursNotFound = await d.berth(['run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(oursNotFound.code, 127);
    await d.berth(['rm', 'taken']);
    assert.equal((await d.berth(['ps', '-aq', '--filter', 'name=taken'])).stdout.includes('taken'), false);
  });

  it('a start that fails midway leaves no mount, cgroup, bundle or monitor behind', async () => {
    const id = (await d.berth(['create', '--name', 'broken', 'busybox', 'no-such-command'])).stdout.trim();
    const r = await d.docker(['start', 'broken']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /executable file not found/);
    assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(id), false, 'rootfs unmounted');
    const cgroups = (await readdir('/sys/fs/cgroup')).map((ctl) => join('/sys/fs/cgroup', ctl, `berth-test-${basename(d.dir)}`, id));
    for (const dir of cgroups) assert.equal(await stat(dir).then(() => true, () => false), false, `${dir} removed`);
    assert.equal(await stat(join(d.dir, 'run', 'containers', id)).then(() => true, () => false), false, 'bundle removed');
    await waitForNoLeftovers(d);
    assert.equal((await d.berth(['inspect', '--format', '{{.State.Status}}', 'broken'])).stdout.trim(), 'created');
    await d.berth(['rm', 'broken']);
  });

  it('restart policies still apply to exits that happen while berthd is down', async () => {
    await d.berth(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '600']);
    const pid = Number((await d.berth(['inspect', '--format', '{{.State.Pid}}', 'phoenix'])).stdout.trim());
    await d.kill9();
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await d.start();
    let state = { Status: '', Pid: 0, RestartCount: 0 };
    for (let i = 0; i < 100; i++) {
      const i2 = await d.client.json<{ State: { Status: string; Pid: number }; RestartCount: number }>('GET', '/containers/phoenix/json');
      state = { ...i2.State, RestartCount: i2.RestartCount };
      if (state.Status === 'running' && state.Pid !== pid) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(state.Status, 'running');
    assert.notEqual(state.Pid, pid);
    assert.equal(state.RestartCount, 1);
    await d.berth(['rm', '-f', 'phoenix']);
  });

  it('a container whose monitor died while berthd was down (a reboot, say) is marked exited (255) and freed', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '300'])).stdout.trim();
    const pid = (await d.client.json<Inspect>('GET', `/containers/${id}/json`)).State.Pid;
    const conmon = Number((await readFile(join(d.dir, 'run', 'containers', id, 'conmon.pid'), 'utf8')).trim());
    await d.kill9();
    // The monitor goes first, so no exit is recorded, as when the host went down.
    process.kill(conmon, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    await d.start();
    const i = await d.client.json<Inspect>('GET', `/containers/${id}/json`);
    assert.equal(i.State.Status, 'exited');
    assert.equal(i.State.ExitCode, 255);
    assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(`${id}/merged`), false, 'rootfs unmounted');
    assert.equal((await d.berth(['rm', 'orphan'])).code, 0);
  });

  it('a container whose monitor is killed while berthd runs is ended as exited (255), its process too', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'unwatched', 'busybox', 'sleep', '300'])).stdout.trim();
    const pid = (await d.client.json<Inspect>('GET', `/containers/${id}/json`)).State.Pid;
    const conmon = Number((await readFile(join(d.dir, 'run', 'containers', id, 'conmon.pid'), 'utf8')).trim());
    process.kill(conmon, 'SIGKILL');
    assert.equal((await d.docker(['wait', id])).stdout.trim(), '255');
    // Killed: gone, or a zombie until the host's init (its parent now) reaps it.
    const state = await readFile(`/proc/${pid}/status`, 'utf8').then((t) => /^State:\s+(\S)/m.exec(t)?.[1], () => 'gone');
    assert.ok(state === 'gone' || state === 'Z', `the container process is ${state}`);
    assert.equal((await d.berth(['rm', 'unwatched'])).code, 0);
  });

  it('what a crash left without a record (runtime state and process, rootfs mount, files) is swept at start-up', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'unrecorded', 'busybox', 'sleep', '300'])).stdout.trim();
    const pid = (await d.client.json<Inspect>('GET', `/containers/${id}/json`)).State.Pid;
    await d.kill9();
    // As if berthd had died between making the container's parts and writing its record.
    await rm(join(d.dir, 'root', 'metadata', 'containers', `${id}.json`));
    const exists = (p: string) => stat(p).then(() => true, () => false);
    assert.ok(await exists(join(d.dir, 'run', 'runtime', 'runc', id)), 'the runtime state is there before the restart');
    await d.start();
    const state = await readFile(`/proc/${pid}/status`, 'utf8').then((t) => /^State:\s+(\S)/m.exec(t)?.[1], () => 'gone');
    assert.ok(state === 'gone' || state === 'Z', `the container process is ${state}`);
    assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(id), false, 'rootfs unmounted');
    for (const dir of [join(d.dir, 'run', 'runtime', 'runc', id), join(d.dir, 'run', 'containers', id), join(d.dir, 'root', 'containers', id)]) {
      assert.equal(await exists(dir), false, `${dir} removed`);
    }
    assert.equal((await d.berth(['ps', '-aq', '--no-trunc'])).stdout.includes(id), false);
    await waitForNoLeftovers(d);
  });

  it('a container keeps running while berthd is killed, and its exit is recorded after restart', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'sleep 1; echo done; exit 4'])).stdout.trim();
    await d.kill9();
    await new Promise((r) => setTimeout(r, 1500));
    await d.start();
    const i = await d.client.json<Inspect>('GET', `/containers/${id}/json`);
    assert.equal(i.State.Status, 'exited');
    assert.equal(i.State.ExitCode, 4);
    assert.equal((await d.berth(['logs', 'survivor'])).stdout, 'done\n');
    await d.berth(['rm', 'survivor']);
  });

  it('ps filters, -n/-l, rename, pause/unpause and container prune', async () => {
    const earlier = (await d.berth(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
    if (earlier.length) await d.berth(['rm', '-f', ...earlier]);
    const a = (await d.berth(['run', '-d', '--name', 'pa', '-l', 'team=blue', 'busybox', 'sleep', '300'])).stdout.trim();
    assert.equal((await d.berth(['run', '--name', 'pb', 'busybox', 'sh', '-c', 'exit 2'])).code, 2);
    assert.equal((await d.berth(['create', '--name', 'pc', 'busybox'])).code, 0);
    const names = async (args: string[]) => (await d.docker(['ps', ...args, '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean);
    assert.deepEqual(await names([]), ['pa']);
    assert.deepEqual(await names(['-a', '--filter', 'status=exited']), ['pb']);
    assert.deepEqual(await names(['-a', '--filter', 'exited=2']), ['pb']);
    assert.deepEqual(await names(['--filter', 'label=team=blue']), ['pa']);
    assert.deepEqual(await names(['-a', '--filter', 'name=^p[bc]$']), ['pc', 'pb']);
    assert.deepEqual(await names(['-a', '--filter', 'since=pa']), ['pc', 'pb']);
    assert.deepEqual(await names(['-l']), ['pc']);
    assert.deepEqual(await names(['-n', '2']), ['pc', 'pb']);
    const bad = await d.docker(['ps', '--filter', 'status=sleepy']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'status=sleepy'/);

    assert.equal((await d.docker(['rename', 'pa', 'pa2'])).code, 0);
    assert.deepEqual(await names([]), ['pa2']);
    const taken = await d.berth(['rename', 'pa2', 'pb']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /is already in use/);

    assert.equal((await d.docker(['pause', 'pa2'])).code, 0);
    const paused = await d.client.json<{ State: { Status: string; Paused: boolean; Pid: number } }>('GET', `/containers/${a}/json`);
    assert.equal(paused.State.Status, 'paused');
    assert.ok(paused.State.Paused);
    const frozen = await readFile(`/proc/${paused.State.Pid}/status`, 'utf8');
    assert.match(frozen, /^State:\s+[SD]/m);
    assert.match((await d.docker(['ps', '--format', '{{.Status}}'])).stdout, /\(Paused\)/);
    assert.match((await d.docker(['pause', 'pa2'])).stderr, /is already paused/);
    assert.match((await d.docker(['start', 'pa2'])).stderr, /cannot start a paused container, try unpause instead/);
    assert.match((await d.docker(['rm', 'pa2'])).stderr, /cannot remove container "pa2": container is paused and must be unpaused first/);
    assert.equal((await d.berth(['unpause', 'pa2'])).code, 0);
    assert.equal((await d.client.json<{ State: { Status: string } }>('GET', `/containers/${a}/json`)).State.Status, 'running');
    assert.equal((await d.berth(['pause', 'pa2'])).code, 0);
    // As dockerd: a paused container can be stopped; it is thawed to receive its stop signal (then KILL).
    assert.equal((await d.docker(['stop', '-t', '1', 'pa2'])).code, 0);
    assert.equal((await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'pa2'])).stdout.trim(), 'exited 137');

    // dockerd's ps filter rules: only running containers unless -a/-n/status; names with or without their slash.
    assert.deepEqual(await names(['--filter', 'label=team=blue']), []);
    assert.deepEqual(await names(['-a', '--filter', 'name=/pa2']), ['pa2']);
    assert.deepEqual(await names(['-a', '--filter', 'name=[']), []);
    assert.match((await d.docker(['ps', '--filter', 'exited=abc'])).stderr, /invalid filter 'exited=abc'/);
    // The filters of what Berth has none of yet (volumes, published ports, swarm tasks) match nothing, or all.
    assert.deepEqual(await names(['-a', '--filter', 'name=pa2', '--filter', 'volume=data']), []);
    assert.deepEqual(await names(['-a', '--filter', 'name=pa2', '--filter', 'publish=80']), []);
    assert.deepEqual(await names(['-a', '--filter', 'name=pa2', '--filter', 'is-task=false']), ['pa2']);
    assert.match((await d.docker(['ps', '--filter', 'expose=80:80'])).stderr, /filter for 'expose' should not contain ':': 80:80/);
    assert.match((await d.docker(['rename', 'pb', 'pb'])).stderr, /Renaming a container with the same name as its current name/);

    // prune: label! keeps, unknown filters and bad times are refused before anything goes.
    assert.equal((await d.berth(['create', '--name', 'keep', '-l', 'keep=yes', 'busybox'])).code, 0);
    assert.match((await d.docker(['container', 'prune', '-f', '--filter', 'bogus=1'])).stderr, /invalid filter 'bogus'/);
    assert.match((await d.docker(['container', 'prune', '-f', '--filter', 'until=abc'])).stderr, /failed to parse value as time or duration/);
    assert.equal((await names(['-a'])).length, 4);
    const pruned = await d.docker(['container', 'prune', '-f', '--filter', 'label!=keep']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n[0-9a-f]{64}\n/);
    assert.deepEqual(await names(['-a']), ['keep']);
    assert.equal((await d.berth(['rm', 'keep'])).code, 0);
    assert.deepEqual(await names(['-a']), []);
  });

  it('top lists the container processes; diff shows what it changed', async () => {
    const id = (await d.berth(['run', '-d', '--name', 'busy', 'busybox', 'sh', '-c', 'echo x > /etc/motd-new; rm /etc/group; echo y >> /etc/passwd; exec sleep 300'])).stdout.trim();
    for (let i = 0; i < 50 && !(await d.berth(['top', 'busy'])).stdout.includes('sleep 300'); i++) await new Promise((r) => setTimeout(r, 50));
    const top = await d.docker(['top', 'busy']);
    assert.equal(top.code, 0, top.stderr);
    const [header, ...rows] = top.stdout.trim().split('\n');
    assert.match(header ?? '', /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    assert.equal(rows.length, 1);
    assert.match(rows[0] ?? '', /sleep 300$/);
    const diff = await d.docker(['diff', 'busy']);
    assert.equal(diff.code, 0, diff.stderr);
    // Only what the process changed: no mountpoint or /etc file the engine provides (dockerd's init layer).
    assert.deepEqual(diff.stdout.trim().split('\n').sort(), ['A /etc/motd-new', 'C /etc', 'C /etc/passwd', 'D /etc/group']);
    const custom = await d.docker(['top', 'busy', '-o', 'pid,%cpu,user:20', '--sort=-pid']);
    assert.equal(custom.code, 0, custom.stderr);
    assert.match(custom.stdout, /^PID\s+%CPU\s+USER\n\d+\s+[\d.]+\s+root\n$/);
    assert.equal((await d.docker(['stop', '-t', '0', 'busy'])).code, 0);
    const exported = join(d.dir, 'busy.tar');
    const ex = await d.docker(['export', '-o', exported, 'busy']);
    assert.equal(ex.code, 0, ex.stderr);
    const listing = (await run('tar', ['-tf', exported])).stdout.split('\n');
    for (const f of ['bin/busybox', 'etc/motd-new', 'etc/passwd']) assert.ok(listing.includes(f), f);
    assert.equal(listing.includes('etc/group'), false, 'deleted file is not exported');
    assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(`${id}/merged`), false, 'export mount released');
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    const notRunning = await d.berth(['top', 'exits']);
    assert.notEqual(notRunning.code, 0);
  });

  it('ps -s, inspect --size and system df count what containers wrote; inspect lists exec sessions', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'sized', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /f; sleep 60'])).code, 0);
    for (let i = 0; i < 50 && (await d.berth(['exec', 'sized', 'test', '-s', '/f'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    // Without the times ("Up 1 second"), which may tick between the two commands.
    const table = ['ps', '-s', '--filter', 'name=sized', '--format', 'table {{.ID}}\t{{.Image}}\t{{.Names}}\t{{.Size}}'];
    const ours = await d.berth(table);
    const theirs = await d.docker(table);
    assert.match(ours.stdout, /SIZE\n.*5kB \(virtual \d/);
    assert.equal(ours.stdout, theirs.stdout);
    const [rw, execs] = (await d.docker(['inspect', '-s', '--format', '{{.SizeRw}} {{len .ExecIDs}}', 'sized'])).stdout.trim().split(' ');
    assert.equal(rw, '5000');
    assert.ok(Number(execs) >= 1, 'the exec sessions above are listed');
    // system df counts containers and what they wrote: the paused one is active, an exited one reclaimable.
    assert.equal((await d.berth(['run', '--name', 'sized-done', 'busybox', 'sh', '-c', 'head -c 3000 /dev/zero > /g'])).code, 0);
    assert.equal((await d.docker(['pause', 'sized'])).code, 0);
    const df = await d.client.json<{ Containers: Array<{ Names: string[]; State: string; SizeRw: number }> }>('GET', '/system/df');
    const byName = new Map(df.Containers.map((c) => [c.Names[0], c]));
    assert.equal(byName.get('/sized')?.State, 'paused');
    assert.equal(byName.get('/sized')?.SizeRw, 5000);
    assert.equal(byName.get('/sized-done')?.SizeRw, 3000);
    const info = (await d.docker(['info', '--format', '{{.ContainersPaused}} {{.ContainersStopped}}'])).stdout.trim().split(' ').map(Number);
    assert.equal(info[0], 1);
    assert.ok((info[1] ?? 0) >= 1);
    const summary = ['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}'];
    const ourSummary = await d.berth(summary);
    assert.equal(ourSummary.stdout, (await d.docker(summary)).stdout);
    assert.match(ourSummary.stdout, new RegExp(`^Containers ${df.Containers.length} 1 8kB 3kB \\(37%\\)$`, 'm'));
    // The verbose tables, but for the columns with times in them.
    const untimed = (out: string) => out.replace(/ {2,}/g, '\t').split('\n').map((l) => l.split('\t').filter((f) => !/ago|Up |Exited|CREATED|STATUS/.test(f)).join('|'));
    const verbose = await d.berth(['system', 'df', '-v']);
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.deepEqual(untimed(verbose.stdout), untimed((await d.docker(['system', 'df', '-v'])).stdout));
    assert.match(verbose.stdout, /Containers space usage:\n\nCONTAINER ID .*\n(.*\n)*[0-9a-f]{12} +busybox +"sh -c 'head -c 5000…" +0 +5kB /);
    assert.equal((await d.docker(['unpause', 'sized'])).code, 0);
    assert.equal((await d.berth(['rm', '-f', 'sized', 'sized-done'])).code, 0);
  });

  it('nothing is left once every container is removed', async () => {
    const ids = (await d.berth(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
    if (ids.length) assert.equal((await d.berth(['rm', '-f', ...ids])).code, 0);
    await waitForNoLeftovers(d);
  });
});
