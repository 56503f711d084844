// The runtime layer on the real kernel: an overlay rootfs over the bundled busybox image's layer, a bundle from
// buildSpec, conmon running runc, and the container's stdio, exit code, isolation and copy-on-write checked.
import assert from 'node:assert/strict';
import { readdir, readFile, mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openContentStore } from '../../src/content/index.js';
import { hostFacts, which } from '../../src/kernel/host.js';
import { mount, overlayMount, unmount } from '../../src/kernel/mount.js';
import { openLayerStore, type LayerStore } from '../../src/layers/index.js';
import { openImageMetadata } from '../../src/metadata/index.js';
import { CliRuntime, ConmonMonitor, buildSpec } from '../../src/runtime/index.js';
import { EventBus, ImageService, ensureBusyboxImage } from '../../src/services/index.js';
import { silentLogger } from '../../src/util/logger.js';

const cgroupParent = `berth-test-${process.pid}`;

describe('runtime: conmon + runc on an overlay rootfs', () => {
  let dir: string;
  let layers: LayerStore;
  let busyboxChain: string[];
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'runs as root');
    dir = await mkdtemp(join(tmpdir(), 'berth-runtime-'));
    const content = await openContentStore(join(dir, 'content'));
    layers = await openLayerStore(join(dir, 'overlay2'));
    const meta = await openImageMetadata(join(dir, 'metadata'));
    const images = new ImageService({ content, layers, meta, events: new EventBus(), log: silentLogger, containers: { usedBy: () => [], layerRoots: () => [] } });
    await mkdir(join(dir, 'tmp'));
    await ensureBusyboxImage(images, join(dir, 'tmp'));
    const top = images.resolve('busybox').chain.at(-1);
    assert.ok(top);
    busyboxChain = layers.chainDiffDirs(top);
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    for (const controller of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(join('/sys/fs/cgroup', controller, cgroupParent)).catch(() => {});
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `args` in a fresh container to completion; returns exit code, log and the container's dirs. */
  async function runContainer(id: string, args: string[]) {
    const runcPath = await which('runc');
    const conmonPath = await which('conmon');
    assert.ok(runcPath && conmonPath, 'runc and conmon are installed by scripts/setup.sh');
    const runtime = new CliRuntime('runc', runcPath, join(dir, 'runc'));
    const monitor = new ConmonMonitor(conmonPath);
    const c = join(dir, 'containers', id);
    const paths = { bundle: c, logPath: join(c, 'ctr.log'), exitDir: join(c, 'exits'), socketDir: join(c, 'sock') };
    for (const d of ['upper', 'work', 'rootfs', 'exits', 'sock']) await mkdir(join(c, d), { recursive: true });
    await mount(overlayMount(busyboxChain, join(c, 'upper'), join(c, 'work')), join(c, 'rootfs'));
    cleanups.push(() => unmount(join(c, 'rootfs')));
    const spec = buildSpec({
      rootfs: join(c, 'rootfs'),
      args,
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      uid: 0,
      gid: 0,
      hostname: id.slice(0, 12),
      cgroupsPath: `/${cgroupParent}/${id}`,
      cgroupns: (await hostFacts()).cgroupVersion === '2',
    });
    await writeFile(join(c, 'config.json'), JSON.stringify(spec));
    cleanups.push(async () => {
      await runtime.delete(id, true).catch(() => {});
      const conmonPid = Number(await readFile(join(c, 'conmon.pid'), 'utf8').catch(() => '0'));
      if (conmonPid) process.kill(conmonPid, 'SIGKILL');
    });
    const handle = await monitor.create(id, runtime, paths);
    assert.equal((await runtime.state(id)).status, 'created');
    await runtime.start(id);
    let code: number | undefined;
    for (let i = 0; i < 200 && code === undefined; i++) {
      code = await monitor.exitCode(id, paths.exitDir);
      if (code === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    await runtime.delete(id);
    await unmount(join(c, 'rootfs'));
    const log = await readFile(paths.logPath, 'utf8');
    return { code, log, upper: join(c, 'upper'), handle };
  }

  const lines = (log: string, stream: string) =>
    log
      .split('\n')
      .filter((l) => l.split(' ')[1] === stream)
      .map((l) => l.split(' ').slice(3).join(' '));

  it('runs a process, keeps stdout and stderr apart, and records its exit code', async () => {
    const r = await runContainer('c-exit', ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.deepEqual(lines(r.log, 'stdout'), ['hello']);
    assert.deepEqual(lines(r.log, 'stderr'), ['oops']);
  });

  it('isolates: PID 1, its own hostname, the host kernel, default capabilities only', async () => {
    const r = await runContainer('c-isolation', ['sh', '-c', 'echo pid=$$; hostname; uname -r; grep CapBnd /proc/self/status']);
    assert.equal(r.code, 0, r.log);
    const out = lines(r.log, 'stdout');
    assert.equal(out[0], 'pid=1');
    assert.equal(out[1], 'c-isolation');
    assert.equal(out[2], os.release());
    assert.equal(out[3], 'CapBnd:\t00000000a80425fb', "Docker's default capability set");
  });

  it('copy-on-write: writes land in the container upper dir, the image layer is unchanged', async () => {
    const r = await runContainer('c-cow', ['sh', '-c', 'echo changed > /etc/hostname && echo new > /created']);
    assert.equal(r.code, 0, r.log);
    assert.equal(await readFile(join(r.upper, 'etc/hostname'), 'utf8'), 'changed\n');
    assert.equal(await readFile(join(r.upper, 'created'), 'utf8'), 'new\n');
    const lowest = busyboxChain.at(-1) as string;
    assert.equal(await readFile(join(lowest, 'etc/hostname'), 'utf8'), 'busybox\n');
    await assert.rejects(stat(join(lowest, 'created')));
  });
});
