// The builder through the real docker CLI's classic builder (docker 28 uses it on berthd's `Builder-Version: 1`):
// every instruction, the cache (hits, a touch that changes nothing, a content change invalidating from that step
// on, --no-cache, --cache-from), multi-stage builds and --target, .dockerignore, ONBUILD, heredocs, ADD's archive
// extraction and URLs, build args and labels, and the error cases, each leaving no container, mount or image.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { containerDirs, type Daemon, leftovers, run, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';
import { tarOf } from '../harness/images.js';

const readdirOrEmpty = (dir: string) => readdir(dir).catch(() => [] as string[]);
const text = async (r: AsyncIterable<unknown>) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
};

describe('build', () => {
  let d: Daemon;
  let work: string;
  let web: Server;
  let webPort = 0;
  let changing = 'first version\n';
  const docker = async (args: string[], input?: string | Buffer) => {
    const r = await d.docker(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  /** A context directory with these files (the Dockerfile among them). */
  const context = async (name: string, files: Record<string, string | Buffer>) => {
    const dir = join(work, name);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    return dir;
  };
  const build = (args: string[], input?: string | Buffer) => d.docker(['build', ...args], input === undefined ? {} : { input });
  const runOut = (image: string, cmd: string[]) => docker(['run', '--rm', '--pull', 'never', '--network', 'none', image, ...cmd]);
  const config = async (image: string) => JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config}}', image]));
  /** No container of the builder is left, nor a mount or monitor. */
  const nothingLeft = async () => {
    assert.equal(await docker(['ps', '-aq']), '');
    assert.deepEqual(await containerDirs(d), []);
    await waitForNoLeftovers(d);
  };

  before(async () => {
    d = await startDaemon();
    work = await mkdtemp(join(tmpdir(), 'berth-build-'));
    web = createServer((req, res) => {
      if (req.url === '/missing') return void res.writeHead(404).end('no');
      if (req.url === '/changing') return void res.writeHead(200).end(changing);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`fetched ${req.url}\n`);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as { port: number }).port;
  });
  after(async () => {
    web.close();
    await d.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it('every instruction, through docker build: the config, the files and the history', async () => {
    const dir = await context('all', {
      Dockerfile: [
        '# syntax=docker/dockerfile:1',
        'ARG BASE=busybox',
        'FROM ${BASE} AS base',
        'MAINTAINER someone@example.com',
        'ARG GREETING=hello',
        'ENV APP_HOME=/app PATH=/app/bin:$PATH',
        'ENV LEGACY value with spaces',
        'LABEL org.example.name="all instructions" version=${GREETING}',
        'WORKDIR $APP_HOME',
        'COPY --chown=1000:1000 --chmod=0750 script.sh bin/',
        'COPY files/ data/',
        'ADD archive.tar /unpacked/',
        `ADD http://127.0.0.1:${webPort}/remote.txt /fetched/`,
        'RUN echo "$GREETING from $(pwd)" > greeting && \\',
        '    mkdir -p /var/empty-dir',
        'RUN ["/bin/sh", "-c", "echo exec-form > exec.txt"]',
        'SHELL ["/bin/sh", "-e", "-c"]',
        'RUN echo shell-changed > shell.txt',
        'EXPOSE 8080 53/udp',
        'VOLUME ["/data"]',
        'USER 1000:1000',
        'STOPSIGNAL SIGTERM',
        'HEALTHCHECK --interval=5s --timeout=2s --retries=2 CMD true',
        'ONBUILD RUN echo triggered > /tmp/onbuild',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cat greeting"]',
      ].join('\n'),
      'script.sh': '#!/bin/sh\necho script\n',
      'files/a.txt': 'A\n',
      'files/sub/b.txt': 'B\n',
    });
    // A tar ADD unpacks (made with the host's tar, so the builder reads a real archive).
    await mkdir(join(work, 'tarsrc'), { recursive: true });
    await writeFile(join(work, 'tarsrc', 'inside.txt'), 'from the archive\n');
    assert.equal((await run('tar', ['-C', join(work, 'tarsrc'), '-cf', join(dir, 'archive.tar'), 'inside.txt'])).code, 0);

    const r = await build(['-t', 'every:one', '-t', 'every:two', '--build-arg', 'GREETING=hi', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Step 1\/24 : ARG BASE=busybox\nStep 2\/24 : FROM \$\{BASE\} AS base\n/m);
    assert.match(r.stdout, / ---> Running in [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully built ([0-9a-f]{12})\nSuccessfully tagged every:one\nSuccessfully tagged every:two\n/);
    const c = await config('every:one');
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, '1000:1000');
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['cat greeting']);
    assert.deepEqual(c.Shell, ['/bin/sh', '-e', '-c']);
    assert.ok(c.Env.includes('APP_HOME=/app') && c.Env.includes('LEGACY=value with spaces'), c.Env.join(','));
    assert.ok(c.Env.some((e: string) => e.startsWith('PATH=/app/bin:/usr/local/sbin')), c.Env.join(','));
    assert.deepEqual(c.Labels, { 'org.example.name': 'all instructions', version: 'hi' });
    assert.deepEqual(c.ExposedPorts, { '53/udp': {}, '8080/tcp': {} });
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.equal(c.StopSignal, 'SIGTERM');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Timeout: 2e9, Retries: 2 });
    assert.deepEqual(c.OnBuild, ['RUN echo triggered > /tmp/onbuild']);
    assert.equal(JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Author}}', 'every:one'])), 'someone@example.com');

    assert.equal(await runOut('every:one', []), 'hi from /app');
    // As root: ADD gives a download mode 0600, and the image's USER is 1000.
    const listing = await docker(['run', '--rm', '--pull', 'never', '--network', 'none', '--user', '0', 'every:one', ...[
      'stat -c "%n %u:%g %a" bin/script.sh; cat data/a.txt data/sub/b.txt exec.txt shell.txt /unpacked/inside.txt /fetched/remote.txt; test -d /var/empty-dir && echo dir',
    ]]);
    assert.equal(listing, 'bin/script.sh 1000:1000 750\nA\nB\nexec-form\nshell-changed\nfrom the archive\nfetched /remote.txt\ndir');

    // history: one row per instruction after FROM, newest first, with classic's created_by lines (in the SHELL
    // of the moment, as classic writes them).
    const history = (await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'every:one'])).split('\n');
    assert.match(history[0] ?? '', /^\/bin\/sh -e -c #\(nop\)  CMD \["cat greeting"\]\|0B$/);
    assert.ok(history.some((h) => /^\|1 GREETING=hi \/bin\/sh -c echo "\$GREETING from \$\(pwd\)" > greeting/.test(h)), history.join('\n'));
    // Classic's own spelling, without a space after --chown's value.
    assert.ok(history.some((h) => /^\/bin\/sh -c #\(nop\) COPY --chown=1000:1000file:[0-9a-f]{64} in bin\/ \|22B$/.test(h)), history.join('\n'));
    assert.ok(history.some((h) => /^\/bin\/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in data\/ \|4B$/.test(h)), history.join('\n'));

    // Built layers keep a tar-split beside their files, not their tars; save makes each tar again, byte for byte.
    const diffIds = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'every:one'])) as string[];
    const blobs = await readdir(join(d.dataRoot, 'content', 'blobs', 'sha256'));
    assert.deepEqual(diffIds.slice(1).filter((id) => blobs.includes(id.slice(7))), [], 'no built layer is kept as a tar');
    const saved = join(work, 'every.tar');
    await docker(['save', '-o', saved, 'every:one']);
    const unpacked = join(work, 'every-saved');
    await mkdir(unpacked);
    assert.equal((await run('tar', ['-xf', saved, '-C', unpacked])).code, 0);
    for (const id of diffIds) assert.equal(`sha256:${createHash('sha256').update(await readFile(join(unpacked, 'blobs', 'sha256', id.slice(7)))).digest('hex')}`, id);
    await nothingLeft();
  });

  it('the cache: a rebuild reuses every step; a touch changes nothing; a changed file rebuilds from its COPY on; --no-cache', async () => {
    const dir = await context('cache', {
      Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY input.txt /input.txt\nRUN cat /input.txt > /copy\nCMD ["cat", "/copy"]\n',
      'input.txt': 'first\n',
    });
    const first = await build(['-t', 'cached', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((first.stdout.match(/Using cache/g) ?? []).length, 0);
    const again = await build(['-t', 'cached', dir]);
    assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 4, again.stdout);
    assert.equal(again.stdout.match(/Successfully built (\w+)/)?.[1], first.stdout.match(/Successfully built (\w+)/)?.[1]);
    // Only content and metadata count, never times: a touch (or a fresh checkout) keeps the cache.
    await utimes(join(dir, 'input.txt'), new Date(), new Date(Date.now() + 60_000));
    assert.equal(((await build(['-t', 'cached', dir])).stdout.match(/Using cache/g) ?? []).length, 4);
    // A mode change is metadata: it invalidates the COPY.
    await chmod(join(dir, 'input.txt'), 0o600);
    assert.equal(((await build(['-t', 'cached', dir])).stdout.match(/Using cache/g) ?? []).length, 1);
    await writeFile(join(dir, 'input.txt'), 'second\n');
    const changed = await build(['-t', 'cached', dir]);
    // FROM is no step of the cache: RUN echo one is the one reused; the COPY and all after it run.
    assert.equal((changed.stdout.match(/Using cache/g) ?? []).length, 1, changed.stdout);
    assert.match(changed.stdout, /Step 2\/5 : RUN echo one > \/one\n ---> Using cache\n/);
    assert.match(changed.stdout, /Step 4\/5 : RUN cat \/input.txt > \/copy\n ---> Running in /);
    assert.equal(await runOut('cached', []), 'second');
    const none = await build(['--no-cache', '-t', 'cached', dir]);
    assert.equal((none.stdout.match(/Using cache/g) ?? []).length, 0);
    // ADD of a URL is cached by what it downloads, as in Docker: a changed remote file is a changed step.
    const remote = await context('cache-url', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${webPort}/changing /c\n` });
    assert.equal((await build(['-t', 'cached-url', remote])).code, 0);
    assert.match((await build(['-t', 'cached-url', remote])).stdout, /Using cache/);
    changing = 'second version\n';
    assert.doesNotMatch((await build(['-t', 'cached-url', remote])).stdout, /Using cache/);
    assert.equal(await runOut('cached-url', ['cat', '/c']), 'second version');
    await docker(['rmi', 'cached-url']);
    // --cache-from: only the steps of that image (and its parents) are reused.
    const other = await build(['--cache-from', 'busybox', '-t', 'cached2', dir]);
    assert.equal((other.stdout.match(/Using cache/g) ?? []).length, 0, other.stdout);
    const from = await build(['--cache-from', 'cached', '-t', 'cached2', dir]);
    assert.equal((from.stdout.match(/Using cache/g) ?? []).length, 4, from.stdout);
    // The build cache is counted by system df and removed by builder prune.
    const df = await d.client.json<{ BuildCache: unknown[] }>('GET', '/system/df');
    assert.ok(df.BuildCache.length > 0);
    await docker(['rmi', 'cached', 'cached2']);
    const pruned = await docker(['builder', 'prune', '-f', '-a']);
    assert.match(pruned, /Total reclaimed space:/);
    assert.equal(((await build(['-t', 'cached', dir])).stdout.match(/Using cache/g) ?? []).length, 0);
    await docker(['rmi', 'cached']);
    await nothingLeft();
  });

  it('multi-stage: --target builds only what the target needs; COPY --from a stage by name, by index, and an image', async () => {
    const dir = await context('stages', {
      Dockerfile: [
        'FROM busybox AS compile',
        'RUN echo compiled > /artifact',
        'FROM busybox AS broken',
        'RUN exit 3',
        'FROM busybox AS final',
        'COPY --from=compile /artifact /from-name',
        'COPY --from=0 /artifact /from-index',
        'COPY --from=busybox /bin/busybox /from-image',
        'CMD ["cat", "/from-name", "/from-index"]',
        'FROM final AS extra',
        'RUN echo extra > /extra',
      ].join('\n'),
    });
    const r = await build(['--target', 'final', '-t', 'staged', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /exit 3|extra/, 'stages the target does not need are not built');
    assert.equal(await runOut('staged', []), 'compiled\ncompiled');
    assert.equal(await runOut('staged', ['sh', '-c', 'test -x /from-image && echo ok']), 'ok');
    const whole = await build(['-t', 'staged-extra', dir]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(await runOut('staged-extra', ['cat', '/extra']), 'extra');
    const missing = await build(['--target', 'nope', dir]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /target stage "?nope"? could not be found|failed to reach build target nope/);
    await docker(['rmi', 'staged', 'staged-extra']);
    await nothingLeft();
  });

  it('.dockerignore with ! exceptions and **; -f outside the context; contexts and Dockerfiles on stdin', async () => {
    const dir = await context('ignore', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n',
      '.dockerignore': 'secret*\n**/*.log\n!keep.log\nnested/deep/\n',
      'secret.txt': 'no',
      'a.log': 'no',
      'keep.log': 'yes',
      'nested/x.log': 'no',
      'nested/deep/y': 'no',
      'nested/ok.txt': 'yes',
    });
    const r = await build(['-t', 'ignored', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runOut('ignored', ['sh', '-c', 'cd /ctx && find . -type f | sort']), './.dockerignore\n./Dockerfile\n./keep.log\n./nested/ok.txt');
    // -f from outside the context.
    const outside = join(work, 'Dockerfile.outside');
    await writeFile(outside, 'FROM busybox\nCOPY keep.log /k\n');
    assert.equal((await build(['-f', outside, '-t', 'outside', dir])).code, 0);
    assert.equal(await runOut('outside', ['cat', '/k']), 'yes');
    // A Dockerfile on stdin (no context), and a context tar on stdin.
    assert.equal((await build(['-t', 'stdin-df', '-'], 'FROM busybox\nRUN echo from-stdin > /s\n')).code, 0);
    assert.equal(await runOut('stdin-df', ['cat', '/s']), 'from-stdin');
    const tar = await run('tar', ['-C', dir, '-cf', '-', 'Dockerfile', 'keep.log', '.dockerignore']);
    const fromTar = await d.docker(['build', '-t', 'stdin-tar', '-'], { input: Buffer.from(tar.stdout, 'binary') });
    assert.equal(fromTar.code, 0, fromTar.stderr);
    await docker(['rmi', 'ignored', 'outside', 'stdin-df', 'stdin-tar']);
    await nothingLeft();
  });

  it('ONBUILD triggers run in the child build; heredocs in RUN and COPY; --label and -q and --iidfile', async () => {
    const base = await context('onbuild-base', { Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /onbuild\n' });
    assert.equal((await build(['-t', 'with-trigger', base])).code, 0);
    const child = await context('onbuild-child', {
      Dockerfile: [
        'FROM with-trigger',
        'RUN <<EOF',
        'echo line one > /heredoc',
        'echo line two >> /heredoc',
        'EOF',
        'ENV WHO=world',
        'COPY <<EOT /etc/greeting',
        'hello $WHO',
        'EOT',
      ].join('\n'),
    });
    const iid = join(work, 'iid');
    const r = await build(['-q', '--iidfile', iid, '--label', 'built.by=test', '-t', 'triggered', child]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    // With -q the docker CLI writes what the quiet stream said, newline included.
    assert.equal((await readFile(iid, 'utf8')).trim(), r.stdout.trim());
    assert.equal(await runOut('triggered', ['cat', '/onbuild', '/heredoc', '/etc/greeting']), 'triggered\nline one\nline two\nhello world');
    assert.equal((await config('triggered')).Labels['built.by'], 'test');
    assert.ok(!(await config('triggered')).OnBuild?.length, 'triggers are not inherited');
    await docker(['rmi', 'triggered', 'with-trigger']);
    await nothingLeft();
  });

  it('RUN options: --network, -m and --cpuset-cpus reach the step containers; --rm=false keeps them; unused build args are said', async () => {
    const dir = await context('run-options', {
      Dockerfile: [
        'FROM busybox',
        'ARG USED',
        'RUN ls /sys/class/net | sort | tr "\\n" " " > /net',
        'RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | head -1 > /mem',
        'RUN cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null | head -1 > /cpus',
        'RUN --network=none ls /sys/class/net | sort | tr "\\n" " " > /net-flag',
      ].join('\n'),
    });
    const r = await build(['--network', 'none', '-m', '64m', '--cpuset-cpus', '0', '--build-arg', 'USED=1', '--build-arg', 'UNUSED=2', '-t', 'run-options', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/);
    assert.equal(await runOut('run-options', ['cat', '/net', '/net-flag', '/mem', '/cpus']), 'lo lo 67108864\n0');
    // With the default network the step has the bridge's interface too.
    const bridged = await build(['--no-cache', '-t', 'run-bridged', await context('run-bridged', { Dockerfile: 'FROM busybox\nRUN ls /sys/class/net | sort | tr "\\n" " " > /net\n' })]);
    assert.equal(bridged.code, 0, bridged.stderr);
    assert.equal(await runOut('run-bridged', ['cat', '/net']), 'eth0 lo');
    const kept = await build(['--rm=false', '--no-cache', await context('run-kept', { Dockerfile: 'FROM busybox\nRUN true\n' })]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.doesNotMatch(kept.stdout, /Removing intermediate container/);
    const left = (await docker(['ps', '-aq'])).split('\n').filter(Boolean);
    assert.equal(left.length, 1, 'the step container is kept');
    await docker(['rm', ...left]);
    await docker(['rmi', 'run-options', 'run-bridged']);
    await nothingLeft();
  });

  it('a client gone mid-build, and berthd killed mid-build: the step container, its mounts and scratch files all go', async () => {
    const dir = await context('interrupted', { Dockerfile: "FROM busybox\nCOPY Dockerfile /\nRUN echo run''ning; sleep 60\n" });
    const startBuild = () => {
      const child = spawn('docker', ['build', '--no-cache', dir], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') } });
      const started = new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (/^running$/m.test(out)) resolve(); // the RUN's output, not its Step line
        });
        child.once('exit', () => reject(new Error(`build ended early: ${out}`)));
      });
      return { child, started };
    };
    const scratch = () => readdirOrEmpty(join(d.dataRoot, 'builder'));
    // The client goes away: berthd kills the RUN and removes what the build made.
    const first = startBuild();
    await first.started;
    first.child.kill('SIGKILL');
    for (let i = 0; i < 100 && ((await docker(['ps', '-aq'])) !== '' || (await scratch()).length); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await docker(['ps', '-aq']), '');
    assert.deepEqual(await scratch(), []);
    // berthd dies: at its next start, the step container, its mounts and the scratch directory are gone.
    const second = startBuild();
    await second.started;
    await d.kill9();
    second.child.kill('SIGKILL');
    await d.start();
    assert.equal(await docker(['ps', '-aq']), '');
    assert.deepEqual(await scratch(), []);
    assert.deepEqual((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(join(d.dataRoot, 'builder'))), []);
    assert.deepEqual(await leftovers(d), []);
    await nothingLeft();
  });

  it('system df counts the build cache; history marks empty layers', async () => {
    const dir = await context('df', { Dockerfile: 'FROM busybox\nRUN echo cached > /f\nENV A=1\n' });
    assert.equal((await build(['-t', 'df-image', dir])).code, 0);
    const df = await docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    assert.match(df, /^Build Cache [1-9]\d*$/m);
    const rows = JSON.parse(`[${(await docker(['history', '--format', '{{json .}}', 'df-image'])).split('\n').join(',')}]`) as Array<{ CreatedBy: string; Size: string }>;
    assert.match(rows[0]?.CreatedBy ?? '', /ENV A=1/);
    assert.equal(rows[0]?.Size, '0B');
    assert.match(rows[1]?.CreatedBy ?? '', /echo cached/);
    assert.notEqual(rows[1]?.Size, '0B');
    await docker(['rmi', 'df-image']);
    await nothingLeft();
  });

  it('berth build sends a directory only what changed since its last build, and builds what a whole context builds', async () => {
    const dir = await context('synced', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort > /list && cat a.txt hard.txt > /content\n',
      'a.txt': 'alpha\n',
      'sub/b.txt': 'beta\n',
      'big.bin': Buffer.alloc(1 << 20, 7),
      'gone.txt': 'removed later\n',
      '.dockerignore': 'ignored.*\n',
      'ignored.txt': 'never sent\n',
    });
    await symlink('a.txt', join(dir, 'link'));
    await link(join(dir, 'a.txt'), join(dir, 'hard.txt'));
    const berthBuild = async (tag: string) => {
      const r = await d.berth(['build', '-t', tag, dir]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      return { out: r.stdout, sent: r.stdout.match(/Sending build context to Docker daemon +(\S+)/)?.[1] ?? '', cached: (r.stdout.match(/Using cache/g) ?? []).length };
    };
    const first = await berthBuild('synced');
    assert.match(first.sent, /^1\.\d+MB$/, 'the first build sends everything');
    const again = await berthBuild('synced');
    assert.equal(again.sent, '1.024kB', 'a rebuild of an unchanged directory sends no file: an empty tar');
    assert.equal(again.cached, 2);
    // Same size, mtime set back: the ctime still tells. Removed, added, a directory become a file.
    const before = await stat(join(dir, 'a.txt'));
    await writeFile(join(dir, 'a.txt'), 'ALPHA\n');
    await utimes(join(dir, 'a.txt'), before.atime, before.mtime);
    await rm(join(dir, 'gone.txt'));
    await writeFile(join(dir, 'new.txt'), 'new\n');
    await rm(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub'), 'a file now\n');
    const changed = await berthBuild('synced');
    assert.match(changed.sent, /^\d+(\.\d+)?kB$/, `only the changes go, not big.bin: ${changed.sent}`);
    assert.equal(changed.cached, 0, changed.out);
    assert.equal(await runOut('synced', ['cat', '/content']), 'ALPHA\nALPHA');
    const listing = '. ./.dockerignore ./Dockerfile ./a.txt ./big.bin ./hard.txt ./link ./new.txt ./sub';
    assert.equal((await runOut('synced', ['cat', '/list'])).split('\n').sort().join(' '), listing);
    // unchanged again: nothing sent, the Dockerfile and COPY's digest as the last build worked them out
    const still = await berthBuild('synced');
    assert.equal(still.sent, '1.024kB');
    assert.equal(still.cached, 2, still.out);
    // a changed Dockerfile is read again
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort > /list && cat a.txt hard.txt > /content\nLABEL changed=1\n');
    assert.match((await berthBuild('synced')).out, /Step 4\/4 : LABEL changed=1\n/);
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort > /list && cat a.txt hard.txt > /content\n');
    // The docker CLI sends the whole directory: its COPY has the same content digest, so the cache serves it.
    const whole = await build(['-t', 'synced-whole', dir]);
    assert.equal((whole.stdout.match(/Using cache/g) ?? []).length, 2, whole.stdout);
    // Two builds of one directory at once: the second gets a copy of its own, and both see the context.
    await writeFile(join(dir, 'new.txt'), 'newer\n');
    const both = await Promise.all([berthBuild('synced-a'), berthBuild('synced-b')]);
    assert.ok(both.some((b) => /^1\.\d+MB$/.test(b.sent)) && both.some((b) => /^\d+(\.\d+)?kB$/.test(b.sent)), both.map((b) => b.sent).join(' '));
    // the kept copy brought up to date and the fresh one hold the same files: names, modes, sizes, times, contents
    const files = (tag: string) => runOut(tag, ['sh', '-c', 'cd /ctx && find . -mindepth 1 | sort | while read f; do stat -c "%n %f %s %Y" "$f"; done; md5sum a.txt new.txt big.bin']);
    assert.equal(await files('synced-a'), await files('synced-b'));
    // system df counts the kept copy (one: the concurrent build's own copy went with it), as BuildKit's local source
    const kept = async () => (await d.client.json<{ BuildCache: Array<{ Type: string; Size: number; UsageCount: number; InUse: boolean }> }>('GET', '/system/df')).BuildCache.filter((c) => c.Type === 'source.local');
    const copies = await kept();
    assert.equal(copies.length, 1, JSON.stringify(copies));
    assert.ok(copies[0]!.Size > 1 << 20 && copies[0]!.UsageCount >= 5 && !copies[0]!.InUse, JSON.stringify(copies));
    await docker(['system', 'df']);
    // builder prune -a takes the kept copies too; the next build sends everything again.
    await docker(['rmi', 'synced', 'synced-whole', 'synced-a', 'synced-b']);
    assert.match(await docker(['builder', 'prune', '-a', '-f']), /context:/);
    assert.deepEqual(await kept(), []);
    assert.deepEqual(await readdirOrEmpty(join(d.dataRoot, 'builder', 'contexts')), []);
    assert.match((await berthBuild('synced')).sent, /^1\.\d+MB$/);
    await docker(['rmi', 'synced']);

    // Bad input: 400s in Docker's shape, and nothing half-made kept.
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) => d.client.raw('POST', path, { body, headers });
    for (const body of [{}, { Key: '', Entries: [] }, { Key: 'k', Entries: [['../x', 'f1']] }, { Key: 'k', Entries: [['a', 1]] }, { Key: 'k', Entries: 'no' }]) {
      const r = await post('/berth/build/context', body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.ok((JSON.parse(await text(r)) as { message: string }).message);
    }
    const unknown = await post('/build', Buffer.alloc(1024), { 'X-Berth-Context': 'nope', 'Content-Type': 'application/x-tar' });
    assert.equal(unknown.statusCode, 400);
    assert.match(await text(unknown), /unknown or expired build context session/);
    // A session whose tar lacks a file it was asked for fails, and its copy is dropped.
    const plan = await d.client.json<{ ID: string; Need: string[] }>('POST', '/berth/build/context', { body: { Key: 'test:lacking', Entries: [['Dockerfile', 'f1'], ['x.txt', 'f2']] } });
    assert.deepEqual(plan.Need, ['Dockerfile', 'x.txt']);
    const tar = await tarOf([{ name: 'Dockerfile', content: 'FROM busybox\nCOPY x.txt /\n' }]);
    const lacking = await post('/build', tar, { 'X-Berth-Context': plan.ID, 'Content-Type': 'application/x-tar' });
    // the Dockerfile came, so the build began: the stream ends with the error (before the COPY ran)
    assert.equal(lacking.statusCode, 200);
    const messages = (await text(lacking)).trim().split('\n').map((l) => JSON.parse(l) as { stream?: string; error?: string });
    assert.match(messages.at(-1)?.error ?? '', /lacks "x\.txt"/);
    assert.ok(!messages.some((m) => m.stream?.startsWith(' ---> ') && messages.indexOf(m) > messages.findIndex((x) => x.stream?.startsWith('Step 2/2'))), 'the COPY never ran');
    const lackingCopy = createHash('sha256').update('test:lacking').digest('hex').slice(0, 16);
    assert.deepEqual((await readdirOrEmpty(join(d.dataRoot, 'builder', 'contexts'))).filter((n) => n.startsWith(lackingCopy)), []);
    await nothingLeft();
  });

  it('the steps before the first COPY run while the context is still arriving', async () => {
    const entry = (name: string, body: string) => tarOf([{ name, content: body }]).then((t) => t.subarray(0, 512 + Math.ceil(body.length / 512) * 512));
    const body = new PassThrough();
    body.write(await entry('Dockerfile', 'FROM busybox\nRUN echo early-step\nCOPY late.txt /\n'));
    const res = await d.client.raw('POST', '/build', { query: { t: 'arriving', networkmode: 'none' }, body, headers: { 'Content-Type': 'application/x-tar' } });
    assert.equal(res.statusCode, 200);
    const rest = Buffer.concat([await entry('late.txt', 'arrived late\n'), Buffer.alloc(1024)]);
    // a daemon that waited for the whole context would never run the RUN: the rest goes anyway after a while
    const gaveUp = setTimeout(() => body.end(rest), 20_000);
    let out = '';
    let early = false;
    for await (const chunk of res) {
      out += (chunk as Buffer).toString();
      if (!early && out.includes('early-step\\n')) {
        // the RUN has run, and late.txt has not been sent yet
        early = true;
        clearTimeout(gaveUp);
        body.end(rest);
      }
    }
    clearTimeout(gaveUp);
    assert.ok(early, `the RUN ran only once the whole context was in: ${out}`);
    assert.match(out, /Successfully tagged arriving:latest/);
    assert.equal(await runOut('arriving', ['cat', '/late.txt']), 'arrived late');
    await docker(['rmi', 'arriving']);
    await nothingLeft();
  });

  it('bad input: a clear error with the line, a non-zero exit, and nothing left behind', async () => {
    const images = async () => (await d.client.json<unknown[]>('GET', '/images/json?all=1')).length;
    const before = await images();
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['unknown', { Dockerfile: 'FROM busybox\nFOO bar\n' }, /unknown instruction: FOO/i],
      ['no-from', { Dockerfile: 'RUN true\n' }, /no build stage in current context|FROM/],
      ['missing-stage', { Dockerfile: 'FROM busybox\nCOPY --from=nowhere /x /y\n' }, /nowhere/],
      ['missing-file', { Dockerfile: 'FROM busybox\nCOPY nothere.txt /\n' }, /nothere\.txt/],
      ['outside', { Dockerfile: 'FROM busybox\nCOPY ../../etc/passwd /\n' }, /passwd|outside|forbidden|not found/],
      ['missing-url', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${webPort}/missing /x\n` }, /404/],
      // Not here, so pulled, from a registry on a loopback port nothing listens on.
      ['no-image', { Dockerfile: 'FROM 127.0.0.1:9/never-made-here\n' }, /127\.0\.0\.1:9.*(refused|ECONNREFUSED)/],
    ];
    for (const [name, files, message] of cases) {
      const r = await build([await context(`bad-${name}`, files)]);
      assert.notEqual(r.code, 0, name);
      assert.match(r.stderr + r.stdout, message, name);
    }
    const failing = await build([await context('bad-run', { Dockerfile: 'FROM busybox\nRUN echo about to fail; exit 7\n' })]);
    assert.equal(failing.code, 7, 'the docker CLI exits with the code errorDetail carries');
    assert.match(failing.stdout, /about to fail/);
    assert.match(failing.stderr, /The command '\/bin\/sh -c echo about to fail; exit 7' returned a non-zero code: 7/);
    assert.equal(await images(), before, 'no image left by a failed build');
    await nothingLeft();
  });
});
