// Volumes and bind mounts on the real kernel, through the real docker CLI: named volumes shared between containers
// and kept across removal, a daemon restart and a kill -9; anonymous volumes (-v /path, image VOLUMEs) and their
// removal with rm -v and --rm; first-use copy-up and nocopy; binds (-v makes a missing host path, --mount refuses
// it); local driver options (tmpfs, bind device); --volumes-from; subpaths; prune; system df; leak checks.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../harness/daemon.js';

describe('volumes', () => {
  let d: Daemon;
  let host: string;
  const docker = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const runIn = (args: string[]) => docker(['run', '--rm', '--pull', 'never', ...args]);
  /** Mounts under the daemon's volumes directory (a volume's own mount, left mounted, would be one). */
  const volumeMounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(join(d.dataRoot, 'volumes')));

  before(async () => {
    d = await startDaemon();
    host = await mkdtemp(join(tmpdir(), 'berth-binds-'));
  });
  after(async () => {
    await d.destroy();
    await rm(host, { recursive: true, force: true });
  });

  it('a named volume: shared by two containers, kept after removal, a restart and a kill -9 of berthd', async () => {
    assert.equal(await docker(['volume', 'create', '--label', 'team=vol', 'bvol-data']), 'bvol-data');
    const inspect = JSON.parse(await docker(['volume', 'inspect', 'bvol-data']))[0];
    assert.equal(inspect.Driver, 'local');
    assert.equal(inspect.Mountpoint, join(d.dataRoot, 'volumes', 'bvol-data', '_data'));
    assert.deepEqual(inspect.Labels, { team: 'vol' });
    await docker(['run', '-d', '--pull', 'never', '--name', 'writer', '-v', 'bvol-data:/data', 'busybox', 'sleep', '300']);
    await docker(['run', '-d', '--pull', 'never', '--name', 'reader', '-v', 'bvol-data:/shared:ro', 'busybox', 'sleep', '300']);
    await docker(['exec', 'writer', 'sh', '-c', 'echo seen > /data/note']);
    assert.equal(await docker(['exec', 'reader', 'cat', '/shared/note']), 'seen');
    assert.notEqual((await d.docker(['exec', 'reader', 'sh', '-c', 'echo x > /shared/other'])).code, 0, 'read-only');
    const mounts = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', 'reader']));
    assert.deepEqual(mounts, [{ Type: 'volume', Name: 'bvol-data', Source: inspect.Mountpoint, Destination: '/shared', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' }]);
    // In use: refused with dockerd's message, also for a stopped container.
    const busy = await d.docker(['volume', 'rm', 'bvol-data']);
    assert.match(busy.stderr, /remove bvol-data: volume is in use - \[[0-9a-f]{64}, [0-9a-f]{64}\]/);
    await d.kill9();
    await d.start();
    assert.equal(await docker(['exec', 'reader', 'cat', '/shared/note']), 'seen');
    // docker cp into and out of a volume's path reaches the volume, for a running container too.
    await writeFile(join(host, 'copied'), 'by-cp\n');
    await docker(['cp', join(host, 'copied'), 'writer:/data/copied']);
    assert.equal(await readFile(join(inspect.Mountpoint, 'copied'), 'utf8'), 'by-cp\n');
    assert.equal(await docker(['exec', 'reader', 'cat', '/shared/copied']), 'by-cp');
    await docker(['cp', 'reader:/shared', join(host, 'out')]);
    assert.equal(await readFile(join(host, 'out', 'note'), 'utf8'), 'seen\n');
    await docker(['rm', '-f', '-v', 'writer', 'reader']);
    await d.stop();
    await d.start();
    assert.equal(await runIn(['-v', 'bvol-data:/data', 'busybox', 'cat', '/data/note']), 'seen', 'named volumes outlive rm -v and restarts');
    assert.equal(await docker(['volume', 'ls', '-f', 'label=team=vol', '--format', '{{.Name}}']), 'bvol-data');
    await docker(['volume', 'rm', 'bvol-data']);
    assert.match((await d.docker(['volume', 'inspect', 'bvol-data'])).stderr, /no such volume/);
    assert.deepEqual(await volumeMounts(), []);
  });

  it('anonymous volumes: -v /path and image VOLUMEs, removed by rm -v and --rm, kept otherwise; prune', async () => {
    const count = async () => (await docker(['volume', 'ls', '-q'])).split('\n').filter(Boolean).length;
    const before = await count();
    await runIn(['-v', '/scratch', 'busybox', 'sh', '-c', 'echo x > /scratch/f']);
    assert.equal(await count(), before, '--rm took the anonymous volume');
    const id = await docker(['create', '--pull', 'never', '-v', '/scratch', 'busybox']);
    const name = await docker(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', id]);
    assert.match(name, /^[0-9a-f]{64}$/);
    assert.equal(await docker(['volume', 'inspect', '-f', '{{json .Labels}}', name]), '{"com.docker.volume.anonymous":""}');
    await docker(['rm', id]);
    assert.equal(await count(), before + 1, 'rm without -v keeps it');
    assert.match(await docker(['volume', 'prune', '-f']), new RegExp(name));
    assert.equal(await count(), before);
    // prune -a takes unused named volumes too, never used ones.
    await docker(['volume', 'create', 'bvol-unused']);
    await docker(['volume', 'create', 'bvol-used']);
    const user = await docker(['create', '--pull', 'never', '-v', 'bvol-used:/u', 'busybox']);
    assert.doesNotMatch(await docker(['volume', 'prune', '-f']), /bvol-unused/);
    const all = await docker(['volume', 'prune', '-af']);
    assert.match(all, /bvol-unused/);
    assert.doesNotMatch(all, /bvol-used/);
    assert.equal(await docker(['volume', 'ls', '-q', '-f', 'dangling=false']), 'bvol-used');
    await docker(['rm', '-v', user]);
    await docker(['volume', 'rm', 'bvol-used']);
  });

  it("copy-up: a new volume gets the image's files at its path, unless nocopy; a used one is left alone", async () => {
    assert.match(await runIn(['-v', 'bvol-etc:/etc', 'busybox', 'cat', '/etc/passwd']), /^root:/m);
    assert.match(await readFile(join(d.dataRoot, 'volumes', 'bvol-etc', '_data', 'passwd'), 'utf8'), /^root:/m);
    await writeFile(join(d.dataRoot, 'volumes', 'bvol-etc', '_data', 'passwd'), 'mine\n');
    assert.equal(await runIn(['-v', 'bvol-etc:/etc', 'busybox', 'cat', '/etc/passwd']), 'mine', 'not copied again');
    assert.equal(await runIn(['-v', 'bvol-empty:/etc:nocopy', 'busybox', 'ls', '-A', '/etc']), '');
    // An image whose path is an absolute symlink: resolved inside the image (its /etc), never the host's.
    const base = await docker(['run', '-d', '--pull', 'never', 'busybox', 'ln', '-s', '/etc', '/linked']);
    await docker(['wait', base]);
    await docker(['commit', base, 'berth-test/linkvol:1']);
    await docker(['rm', base]);
    await runIn(['-v', 'bvol-link:/linked', 'berth-test/linkvol:1', 'true']);
    const copied = join(d.dataRoot, 'volumes', 'bvol-link', '_data');
    assert.match(await readFile(join(copied, 'passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    await assert.rejects(readFile(join(copied, 'os-release')), 'nothing of the host');
    await docker(['rmi', 'berth-test/linkvol:1']);
    await docker(['volume', 'rm', 'bvol-etc', 'bvol-empty', 'bvol-link']);
  });

  it('binds: -v makes a missing host path, :ro is read-only, --mount refuses a missing source; --read-only with a writable volume', async () => {
    const made = join(host, 'made', 'deep');
    await runIn(['-v', `${made}:/h`, 'busybox', 'sh', '-c', 'echo from-container > /h/out']);
    assert.equal(await readFile(join(made, 'out'), 'utf8'), 'from-container\n');
    await mkdir(join(host, 'ro'));
    await writeFile(join(host, 'ro', 'in'), 'from-host\n');
    assert.equal(await runIn(['-v', `${join(host, 'ro')}:/h:ro`, 'busybox', 'sh', '-c', 'cat /h/in; echo x > /h/new 2>/dev/null || echo refused']), 'from-host\nrefused');
    const before = await docker(['ps', '-aq']);
    const missing = await d.docker(['create', '--pull', 'never', '--mount', `type=bind,src=${join(host, 'absent')},dst=/x`, 'busybox']);
    assert.match(missing.stderr, /bind source path does not exist/);
    assert.equal(await docker(['ps', '-aq']), before, 'nothing was created');
    const bind = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', await docker(['create', '--pull', 'never', '--mount', `type=bind,src=${host},dst=/h,readonly`, 'busybox'])]));
    assert.deepEqual(bind, [{ Type: 'bind', Source: host, Destination: '/h', Mode: '', RW: false, Propagation: 'rprivate' }]);
    assert.equal(await runIn(['--read-only', '-v', 'bvol-rw:/w', 'busybox', 'sh', '-c', 'echo ok > /w/f && cat /w/f && (touch /nope 2>/dev/null || echo ro-root)']), 'ok\nro-root');
    await docker(['container', 'prune', '-f']);
    await docker(['volume', 'rm', 'bvol-rw']);
  });

  it('local driver options (tmpfs, a bind device), --volumes-from, subpaths, bad names, system df', async () => {
    await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'bvol-tmp']);
    assert.match(await runIn(['-v', 'bvol-tmp:/t', 'busybox', 'grep', ' /t ', '/proc/mounts']), /^tmpfs \/t tmpfs .*size=1024k/);
    assert.deepEqual(await volumeMounts(), [], "the volume's own mount went with its last user");
    await mkdir(join(host, 'device'));
    await writeFile(join(host, 'device', 'x'), 'through-device\n');
    await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${join(host, 'device')}`, 'bvol-dev']);
    assert.equal(await runIn(['-v', 'bvol-dev:/d', 'busybox', 'cat', '/d/x']), 'through-device');
    await docker(['run', '-d', '--pull', 'never', '--name', 'source', '-v', 'bvol-from:/from', 'busybox', 'sh', '-c', 'mkdir -p /from/sub && echo in-sub > /from/sub/f && sleep 300']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await runIn(['--volumes-from', 'source:ro', 'busybox', 'sh', '-c', 'cat /from/sub/f; touch /from/z 2>/dev/null || echo ro']), 'in-sub\nro');
    assert.equal(await runIn(['--mount', 'type=volume,src=bvol-from,dst=/s,volume-subpath=sub', 'busybox', 'cat', '/s/f']), 'in-sub');
    const df = await docker(['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}} {{.Links}}\n{{end}}']);
    assert.match(df, /^bvol-from 1$/m);
    // berth prints what docker prints, here and in the summary.
    assert.equal((await d.berth(['system', 'df', '-v'])).stdout.split('Local Volumes space usage:')[1]?.split('Build cache')[0], (await d.docker(['system', 'df', '-v'])).stdout.split('Local Volumes space usage:')[1]?.split('Build cache')[0]);
    assert.equal((await d.berth(['system', 'df'])).stdout, (await d.docker(['system', 'df'])).stdout);
    await docker(['rm', '-f', 'source']);
    for (const [args, message] of [
      [['volume', 'create', 'a/b'], /includes invalid characters for a local volume name/],
      [['volume', 'create', '-o', 'bogus=1', 'bvol-bad'], /invalid option key: "bogus"/],
      [['volume', 'create', '-d', 'nfs-plugin', 'bvol-bad'], /plugin "nfs-plugin" not found/],
      [['run', '--rm', '--pull', 'never', '-v', 'x:relative', 'busybox', 'true'], /mount path must be absolute/],
    ] as const) {
      const r = await d.docker([...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    }
    await docker(['volume', 'rm', 'bvol-tmp', 'bvol-dev', 'bvol-from']);
    assert.deepEqual(await volumeMounts(), []);
  });
});
