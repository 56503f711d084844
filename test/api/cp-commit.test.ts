// `cp` (the archive API: HEAD/GET/PUT /containers/{id}/archive) and `commit`, with our CLI and the real docker CLI,
// on running and stopped containers; paths and archives that try to leave the container's root; committed images
// that carry the container's changes (deletions as whiteouts) on top of the parent's shared layers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';
import { tarOf } from '../harness/images.js';

type Cli = 'berth' | 'docker';
const clis: Cli[] = ['berth', 'docker'];

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

const exists = (p: string) => lstat(p).then(() => true, () => false);
/** Names in a tar, as `tar -t` lists them. */
const tarNames = async (file: string) => (await run('tar', ['-tf', file])).stdout.split('\n').filter(Boolean);

describe('cp and commit', () => {
  let d: Daemon;
  /** A directory on the host, outside every container, that escapes would reach. */
  let host: string;
  let marker: string;
  const cli = (which: Cli, args: string[], opts: { input?: Buffer | string } = {}) => (which === 'berth' ? d.berth(args, opts) : d.docker(args, opts));
  const exec = async (ctr: string, script: string) => {
    const r = await d.berth(['exec', ctr, 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const statOf = async (ctr: string, path: string): Promise<{ status: number; stat?: PathStat }> => {
    const res = await d.client.raw('HEAD', `/containers/${ctr}/archive?path=${encodeURIComponent(path)}`);
    res.resume();
    const header = res.headers['x-docker-container-path-stat'];
    return { status: res.statusCode ?? 0, ...(typeof header === 'string' && { stat: JSON.parse(Buffer.from(header, 'base64').toString()) as PathStat }) };
  };
  const put = async (ctr: string, path: string, tar: Buffer) => {
    const res = await d.client.raw('PUT', `/containers/${ctr}/archive?path=${encodeURIComponent(path)}`, { body: tar });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() };
  };

  before(async () => {
    d = await startDaemon();
    host = join(d.dir, 'host');
    marker = join(host, 'marker');
    await mkdir(host);
    await writeFile(marker, 'original');
    // A stopped container with a small tree, and a running one.
    const made = await d.berth([
      'run', '--name', 'stopped', 'busybox', 'sh', '-c',
      'mkdir -p /data/sub && echo hello > /data/file.txt && echo deep > /data/sub/deep.txt && ln -s /data /link && ln -s missing /dangling',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await d.berth(['run', '-d', '--name', 'running', 'busybox', 'sleep', '600'])).code, 0);
  });
  after(async () => {
    await d.destroy();
  });

  it('cp out: a file, a directory, its contents (dir/.), a symlink as is and followed (-L), a tar to stdout', async () => {
    for (const which of clis) {
      const out = join(d.dir, `out-${which}`);
      await mkdir(out);
      const cp = async (...args: string[]) => {
        const r = await cli(which, ['cp', ...args]);
        assert.equal(r.code, 0, `${which} cp ${args.join(' ')}: ${r.stderr}`);
        return r;
      };
      await cp('stopped:/data/file.txt', join(out, 'copy.txt'));
      assert.equal(await readFile(join(out, 'copy.txt'), 'utf8'), 'hello\n');
      await cp('stopped:/data', `${out}/`);
      assert.equal(await readFile(join(out, 'data', 'sub', 'deep.txt'), 'utf8'), 'deep\n');
      await cp('stopped:/data/.', join(out, 'contents'));
      assert.deepEqual((await readdir(join(out, 'contents'))).sort(), ['file.txt', 'sub']);
      await cp('stopped:/data', join(out, 'renamed'));
      assert.equal(await readFile(join(out, 'renamed', 'file.txt'), 'utf8'), 'hello\n');
      await cp('stopped:/link', join(out, 'link'));
      assert.equal(await readlink(join(out, 'link')), '/data');
      await cp('-L', 'stopped:/link', join(out, 'followed'));
      assert.equal(await readFile(join(out, 'followed', 'file.txt'), 'utf8'), 'hello\n');
      const tar = await cp('stopped:/data/sub', '-');
      await writeFile(join(out, 'sub.tar'), tar.stdout, 'latin1');
      assert.deepEqual(await tarNames(join(out, 'sub.tar')), ['sub/', 'sub/deep.txt']);
      assert.equal(tar.stderr, '', 'no summary line when stdout is not a terminal');
    }
  });

  it('cp in: a file (into a directory, to a new name), a directory (new name, into one), a tar from stdin', async () => {
    const src = join(d.dir, 'src');
    await mkdir(join(src, 'tree', 'inner'), { recursive: true });
    await writeFile(join(src, 'one.txt'), 'one\n');
    await writeFile(join(src, 'tree', 'a'), 'a\n');
    await writeFile(join(src, 'tree', 'inner', 'b'), 'b\n');
    for (const which of clis) {
      const dest = `/in-${which}`;
      await exec('running', `mkdir ${dest}`);
      const cp = async (...args: string[]) => {
        const r = await cli(which, ['cp', ...args]);
        assert.equal(r.code, 0, `${which} cp ${args.join(' ')}: ${r.stderr}`);
      };
      await cp(join(src, 'one.txt'), `running:${dest}/`);
      await cp(join(src, 'one.txt'), `running:${dest}/renamed.txt`);
      await cp(join(src, 'tree'), `running:${dest}`);
      await cp(join(src, 'tree'), `running:${dest}/newtree`);
      await cp(`${join(src, 'tree')}/.`, `running:${dest}/contents`);
      const fromStdin = await cli(which, ['cp', '-', `running:${dest}`], { input: await tarOf([{ name: 'piped/', type: 'directory' }, { name: 'piped/p.txt', content: 'piped\n' }]) });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      const listing = await exec('running', `cd ${dest} && find . | sort && cat one.txt renamed.txt tree/inner/b newtree/a contents/a piped/p.txt`);
      assert.equal(
        listing,
        ['.', './contents', './contents/a', './contents/inner', './contents/inner/b', './newtree', './newtree/a', './newtree/inner', './newtree/inner/b', './one.txt', './piped', './piped/p.txt', './renamed.txt', './tree', './tree/a', './tree/inner', './tree/inner/b', 'one', 'one', 'b', 'a', 'a', 'piped', ''].join('\n'),
      );
    }
    // Owners: the archive's by default; with -a, the container's user (looked up in its /etc/passwd).
    const owned = join(src, 'owned.txt');
    await writeFile(owned, 'owned\n');
    await chown(owned, 1234, 4321);
    assert.equal((await d.berth(['run', '-d', '--name', 'as-nobody', '-u', 'nobody', 'busybox', 'sleep', '600'])).code, 0);
    for (const which of clis) {
      assert.equal((await cli(which, ['cp', owned, `as-nobody:/tmp/plain-${which}`])).code, 0);
      assert.equal((await cli(which, ['cp', '-a', owned, `as-nobody:/tmp/archive-${which}`])).code, 0);
      assert.equal(await exec('as-nobody', `stat -c %u:%g /tmp/plain-${which} /tmp/archive-${which}`), '1234:4321\n65534:65534\n');
    }
    // A stopped container is written too (its rootfs is mounted for the copy, and unmounted after).
    const r = await d.docker(['cp', join(src, 'one.txt'), 'stopped:/data/added.txt']);
    assert.equal(r.code, 0, r.stderr);
    const back = await d.berth(['cp', 'stopped:/data/added.txt', '-']);
    assert.match(back.stdout, /one\n/);
  });

  it('cp carries a file\'s capabilities (security.capability) both ways, as docker cp does (both CLIs)', async () => {
    // cap_net_raw, permitted and effective (VFS_CAP_REVISION_2).
    const capNetRaw = '0x0100000200200000000000000000000000000000';
    const capOf = async (path: string) => /^security\.capability=(\S+)$/m.exec((await run('getfattr', ['--absolute-names', '-e', 'hex', '-n', 'security.capability', path])).stdout)?.[1];
    const mergedOf = async (ctr: string) => (JSON.parse((await d.docker(['inspect', ctr])).stdout) as Array<{ GraphDriver: { Data: { MergedDir: string } } }>)[0]!.GraphDriver.Data.MergedDir;
    await exec('running', 'cp /bin/busybox /tmp/pinger && mkdir -p /tmp/into');
    const inside = join(await mergedOf('running'), 'tmp', 'pinger');
    assert.equal((await run('setfattr', ['-n', 'security.capability', '-v', capNetRaw, inside])).code, 0);
    for (const which of ['docker', 'berth'] as const) {
      const out = join(d.dir, `caps-${which}`);
      await mkdir(out);
      const r = await cli(which, ['cp', 'running:/tmp/pinger', `${out}/`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await capOf(join(out, 'pinger')), capNetRaw, `${which} cp out`);
      const back = await cli(which, ['cp', join(out, 'pinger'), `running:/tmp/into/${which}`]);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(await capOf(join(await mergedOf('running'), 'tmp', 'into', which)), capNetRaw, `${which} cp in`);
    }
  });

  it('stat: the path stat header as docker reports it; a missing path is 404 and exit code 1', async () => {
    const dir = await statOf('stopped', '/data');
    assert.equal(dir.status, 200);
    assert.equal(dir.stat?.name, 'data');
    assert.equal(dir.stat?.mode, 2 ** 31 + 0o755, 'Go os.ModeDir | 0755');
    assert.match(dir.stat?.mtime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const link = await statOf('stopped', '/link');
    assert.deepEqual([link.stat?.mode, link.stat?.linkTarget], [2 ** 27 + 0o777, '/data']);
    assert.equal((await statOf('stopped', '/data/.')).stat?.name, '.');
    assert.equal((await statOf('stopped', '/link/')).stat?.mode, 2 ** 31 + 0o755, 'a trailing slash follows the symlink');
    assert.equal((await statOf('stopped', '/dangling')).stat?.linkTarget, '/missing');
    assert.equal((await statOf('stopped', '/nope')).status, 404);
    const missing = await d.client.raw('GET', '/containers/stopped/archive?path=/nope');
    let body = '';
    for await (const c of missing) body += (c as Buffer).toString();
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(JSON.parse(body), { message: 'Could not find the file /nope in container stopped' });
    for (const which of clis) {
      const r = await cli(which, ['cp', 'stopped:/nope', d.dir]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), 'Error response from daemon: Could not find the file /nope in container stopped');
    }
    const notDir = await put('stopped', '/data/file.txt', await tarOf([{ name: 'x', content: 'x' }]));
    assert.deepEqual([notDir.status, JSON.parse(notDir.body).message], [400, 'extraction point is not a directory']);
    assert.equal((await put('stopped', '/nope', await tarOf([{ name: 'x', content: 'x' }]))).status, 404);
    const noSuch = await d.docker(['cp', 'no-such-container:/etc/hostname', d.dir]);
    assert.equal(noSuch.code, 1);
    assert.match(noSuch.stderr, /No such container: no-such-container/);
  });

  it('path escapes: malicious tars and symlinks in the container never reach the host', async () => {
    const unique = `berth-escape-${randomBytes(4).toString('hex')}`;
    // The container gets symlinks pointing "out", and its own directory at the host's path of `host`.
    await exec('running', `ln -s / /escape && ln -s ../../../../.. /up && ln -s ${host} /out && mkdir -p ${host} && echo container > ${host}/marker`);
    const attacks: Array<[string, Buffer]> = [
      ['/tmp', await tarOf([{ name: `../../../../../../..${marker}`, content: 'pwned' }])],
      ['/tmp', await tarOf([{ name: `/${unique}`, content: 'pwned' }])],
      ['/tmp', await tarOf([{ name: marker, content: 'pwned' }])],
      ['/tmp', await tarOf([{ name: 'lnk', type: 'symlink', linkname: host }, { name: 'lnk/marker', content: 'pwned' }])],
      ['/tmp', await tarOf([{ name: 'rel', type: 'symlink', linkname: '../../../../../../../..' }, { name: `rel${host}/marker`, content: 'pwned' }])],
      ['/tmp', await tarOf([{ name: 'hard', type: 'link', linkname: `../../../../..${marker}` }])],
      ['/escape', await tarOf([{ name: `${host.slice(1)}/marker`, content: 'pwned' }])],
      ['/up', await tarOf([{ name: unique, content: 'pwned' }])],
      ['/out', await tarOf([{ name: 'marker', content: 'pwned' }])],
      ['/up/../../..', await tarOf([{ name: unique, content: 'pwned' }])],
    ];
    for (const [path, tar] of attacks) {
      const r = await put('running', path, tar);
      assert.ok(r.status === 200 || r.status === 400, `${path}: ${r.status} ${r.body}`);
    }
    for (const which of clis) {
      assert.equal((await cli(which, ['cp', marker, 'running:/out/'])).code, 0);
      assert.equal((await cli(which, ['cp', marker, 'running:/escape/'])).code, 0);
      assert.equal((await cli(which, ['cp', marker, `running:/up${host}/marker`])).code, 0);
    }
    assert.equal(await readFile(marker, 'utf8'), 'original', 'the host file is untouched');
    assert.deepEqual(await readdir(host), ['marker'], 'nothing new on the host');
    assert.equal(await exists(`/${unique}`), false);
    assert.equal(await exists(join(d.dir, unique)), false);
    // What the writes reached instead: the container's own files.
    assert.equal(await exec('running', `cat ${host}/marker /${unique}`), 'originalpwned');
    // Reads resolve inside the container too.
    for (const which of clis) {
      const r = await cli(which, ['cp', 'running:/out/marker', '-']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /original/, 'the container copy (overwritten by the cp above), not the host file');
      const passwd = await cli(which, ['cp', 'running:/up/etc/passwd', '-']);
      assert.equal(passwd.stdout.includes(await exec('running', 'cat /etc/passwd')), true);
    }
    // The container has its own directory at the host path of this test's directory: that is what is listed.
    const view = await d.docker(['cp', `running:/up${d.dir}`, '-']);
    await writeFile(join(d.dir, 'view.tar'), view.stdout, 'latin1');
    const base = d.dir.split('/').at(-1) as string;
    assert.deepEqual(await tarNames(join(d.dir, 'view.tar')), [`${base}/`, `${base}/host/`, `${base}/host/marker`]);
  });

  it('a running container swapping a directory for a symlink to the host while we copy cannot redirect us there', async () => {
    const target = join(d.dir, 'race-target');
    await mkdir(target);
    await writeFile(join(target, 'secret'), 'host-secret');
    const swap = `mkdir -p /race/d && echo inside > /race/d/secret; while true; do mv /race/d /race/d.real; ln -s ${target} /race/d; rm /race/d; mv /race/d.real /race/d; done`;
    assert.equal((await d.berth(['run', '-d', '--name', 'racer', 'busybox', 'sh', '-c', swap])).code, 0);
    const tar = await tarOf([{ name: 'dropped', content: 'pwned' }]);
    let written = 0;
    for (let i = 0; i < 100; i++) if ((await put('racer', '/race/d', tar)).status === 200) written++;
    for (let i = 0; i < 30; i++) {
      // A read may fail when the directory goes away under it; it must never return the host's file.
      let body = '';
      try {
        const res = await d.client.raw('GET', '/containers/racer/archive?path=/race/d/');
        for await (const c of res) body += (c as Buffer).toString('latin1');
      } catch {
        // cut short
      }
      assert.equal(body.includes('host-secret'), false, 'a host file was read');
    }
    assert.ok(written > 0, 'some copies landed (in the container)');
    assert.deepEqual(await readdir(target), ['secret'], 'nothing was written on the host');
    assert.equal((await d.berth(['rm', '-f', 'racer'])).code, 0);
  });

  it('commit: the new image has the changes, deletions as whiteouts, opaque directories, and shares the parent layers', async () => {
    const made = await d.berth([
      'run', '--name', 'changer', 'busybox', 'sh', '-c',
      'echo committed > /new.txt && rm /bin/ls && rm -rf /usr && mkdir /usr && echo only > /usr/fresh',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const committed = await d.berth(['commit', 'changer', 'berth-test/changed:1']);
    assert.equal(committed.code, 0, committed.stderr);
    assert.match(committed.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const seen = await d.docker(['run', '--rm', '--pull', 'never', 'berth-test/changed:1', 'sh', '-c', 'cat /new.txt; ls /usr; test -e /bin/ls || echo no-ls']);
    assert.equal(seen.code, 0, seen.stderr);
    assert.equal(seen.stdout, 'committed\nfresh\nno-ls\n');
    const layers = async (image: string) => JSON.parse((await d.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', image])).stdout) as string[];
    const parent = await layers('busybox');
    const child = await layers('berth-test/changed:1');
    assert.equal(child.length, parent.length + 1);
    assert.deepEqual(child.slice(0, parent.length), parent);
    const inspect = JSON.parse((await d.docker(['image', 'inspect', 'berth-test/changed:1'])).stdout)[0];
    const busybox = JSON.parse((await d.docker(['image', 'inspect', 'busybox'])).stdout)[0];
    assert.equal(inspect.Parent, busybox.Id);
    assert.equal(inspect.Id, committed.stdout.trim());
    // The layer as saved: OCI whiteouts, not overlay's character devices.
    const saved = join(d.dir, 'changed.tar');
    assert.equal((await d.docker(['save', '-o', saved, 'berth-test/changed:1'])).code, 0);
    const unpacked = join(d.dir, 'changed');
    await mkdir(unpacked);
    await run('tar', ['-xf', saved, '-C', unpacked]);
    const manifest = JSON.parse(await readFile(join(unpacked, 'manifest.json'), 'utf8'))[0] as { Layers: string[] };
    const top = await tarNames(join(unpacked, manifest.Layers.at(-1) as string));
    assert.ok(top.includes('bin/.wh.ls'), top.join(' '));
    assert.ok(top.includes('usr/.wh..wh..opq'), top.join(' '));
    // The init layer's mountpoints and the /etc files dockerd bind-mounts are not part of the image.
    assert.deepEqual(top.filter((n) => /dockerenv|etc\/(hosts|hostname|resolv)/.test(n)), []);
    assert.ok(top.includes('new.txt'));
  });

  it('commit: --change, author and message, docker commit output, a running container paused and resumed, no empty layer', async () => {
    await exec('running', 'echo live > /live.txt');
    const r = await d.docker(['commit', '-a', 'Ann <ann@example.com>', '-m', 'a message', '-c', 'CMD ["echo","hi"]', '-c', 'ENV FOO=bar', '-c', 'EXPOSE 8080', '-c', 'LABEL team=blue', '-c', 'WORKDIR /srv', 'running', 'berth-test/changed:2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const state = await d.docker(['inspect', '--format', '{{.State.Status}}', 'running']);
    assert.equal(state.stdout.trim(), 'running', 'unpaused after the commit');
    const until = String(Math.floor(Date.now() / 1000) + 1); // the events of this very second included
    const events = await d.docker(['events', '--since', '60s', '--until', until, '--filter', 'container=running', '--format', '{{.Action}}']);
    const actions = events.stdout.split('\n');
    const paused = actions.lastIndexOf('pause');
    assert.ok(paused >= 0 && actions.indexOf('unpause', paused) > paused && actions.indexOf('commit', paused) > paused, events.stdout);
    const hi = await d.docker(['run', '--rm', '--pull', 'never', 'berth-test/changed:2']);
    assert.equal(hi.stdout, 'hi\n');
    const fmt = '{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .Config.ExposedPorts}}|{{json .Config.Labels}}|{{.Config.WorkingDir}}|{{.Author}}|{{.Comment}}';
    const [cmd, env, ports, labels, workdir, author, comment] = (await d.docker(['image', 'inspect', '--format', fmt, 'berth-test/changed:2'])).stdout.trim().split('|');
    assert.equal(cmd, '["echo","hi"]');
    assert.ok((JSON.parse(env ?? '[]') as string[]).includes('FOO=bar'));
    assert.equal(ports, '{"8080/tcp":{}}');
    assert.equal(labels, '{"team":"blue"}');
    assert.deepEqual([workdir, author, comment], ['/srv', 'Ann <ann@example.com>', 'a message']);
    const live = await d.berth(['run', '--rm', 'berth-test/changed:2', 'cat', '/live.txt']);
    assert.equal(live.stdout, 'live\n');

    // ENTRYPOINT without CMD drops the old Cmd, as in a Dockerfile; --pause=false commits without pausing.
    const ep = await d.berth(['commit', '--pause=false', '-c', 'ENTRYPOINT ["echo","from-entrypoint"]', 'running', 'berth-test/entry']);
    assert.equal(ep.code, 0, ep.stderr);
    assert.equal((await d.docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}', 'berth-test/entry'])).stdout.trim(), '["echo","from-entrypoint"] null');
    assert.equal((await d.berth(['run', '--rm', 'berth-test/entry'])).stdout, 'from-entrypoint\n');

    // A container that changed nothing adds no layer (Docker's empty layer), only a history entry.
    assert.equal((await d.berth(['create', '--name', 'untouched', 'busybox', 'true'])).code, 0);
    const same = await d.berth(['commit', 'untouched', 'berth-test/same']);
    assert.equal(same.code, 0, same.stderr);
    const layersOf = async (image: string) => (await d.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', image])).stdout;
    assert.equal(await layersOf('berth-test/same'), await layersOf('busybox'));

    const bad = await d.docker(['commit', 'no-such-container']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /No such container: no-such-container/);
    const badChange = await d.berth(['commit', '-c', 'RUN true', 'untouched']);
    assert.equal(badChange.code, 1);
    assert.match(badChange.stderr, /RUN is not a valid change command/);
  });

  it('nothing is left mounted for stopped containers after cp and commit', async () => {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(d.dir));
    const ids = (await d.docker(['ps', '-q'])).stdout.trim().split('\n');
    const running = (JSON.parse((await d.docker(['inspect', ...ids])).stdout) as Array<{ GraphDriver: { Data: { MergedDir: string } } }>).map((c) => c.GraphDriver.Data.MergedDir);
    assert.deepEqual(mounts.map((l) => l.split(' ')[4]).sort(), running.sort(), 'only the running containers');
  });
});
