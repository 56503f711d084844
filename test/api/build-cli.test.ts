// `berth build` and `builder prune` against a real berthd, side by side with the docker 28 CLI's classic builder
// (DOCKER_BUILDKIT=0) on the same daemon: what each prints and its exit code. Needs berthd's POST /build.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { asDocker } from '../harness/compare.js';
import { type Daemon, type RunResult, run, startDaemon } from '../harness/daemon.js';
import { tarOf } from '../harness/images.js';

/**
 * Output both CLIs print alike once the IDs a build makes fresh (containers, and images with --no-cache) are blanked;
 * docker's notice that its legacy builder is deprecated goes (Berth's builder is not).
 */
function normal(s: string, o: { ids?: boolean } = {}): string {
  let out = s
    .replace(/^DEPRECATED: The legacy builder[\s\S]*?\n\n/m, '')
    .replace(/(Running in|Removing intermediate container) [0-9a-f]{12}/g, '$1 <container>');
  if (o.ids) out = out.replace(/( ---> |Successfully built )[0-9a-f]{12}$/gm, '$1<image>');
  // Sizes differ: berth sends a directory berthd has seen only what changed (the first test checks a whole one), and
  // docker's CLI sends a Dockerfile from outside the context in a tar it truncates (no padding, no end blocks).
  out = out.replace(/(Sending build context to Docker daemon) +\S+\r/g, '$1 <size>\r');
  return out;
}

describe('berth build matches the docker CLI', () => {
  let d: Daemon;
  let dir: string;
  let ctx: string;

  const docker = (args: string[], o: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) =>
    run('docker', args, { env: { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', ...o.env }, ...(o.input !== undefined && { input: o.input }) });
  /** Both CLIs, docker first; asserts they print the same and exit alike, and returns berth's result. */
  const same = async (args: string[], o: { input?: Buffer | string; env?: NodeJS.ProcessEnv; ids?: boolean } = {}): Promise<{ ours: RunResult; theirs: RunResult }> => {
    const theirs = await docker(args, o);
    const ours = await d.berth(args, { ...(o.input !== undefined && { input: o.input }), ...(o.env && { env: o.env }) });
    const what = `berth ${args.join(' ')}`;
    assert.equal(normal(asDocker(ours.stdout), o), normal(theirs.stdout, o), `${what}: stdout`);
    assert.equal(normal(asDocker(ours.stderr), o), normal(theirs.stderr, o), `${what}: stderr`);
    assert.equal(ours.code, theirs.code, `${what}: exit code`);
    return { ours, theirs };
  };
  const ok = async (args: string[], o: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> => {
    const r = await d.berth(args, o);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-build-cli-'));
    ctx = join(dir, 'ctx');
    await mkdir(join(ctx, 'logs'), { recursive: true });
    await writeFile(join(ctx, 'a.txt'), 'a\n');
    await writeFile(join(ctx, 'secret.key'), 'never sent\n');
    await writeFile(join(ctx, 'logs', 'drop.log'), 'x\n');
    await writeFile(join(ctx, 'logs', 'keep.log'), 'k\n');
    await symlink('a.txt', join(ctx, 'link'));
    // the Dockerfile excludes itself: docker sends it anyway, and so must berth
    await writeFile(join(ctx, '.dockerignore'), '# comment\nsecret*\nlogs\n!logs/keep.log\nDockerfile\n');
    await writeFile(
      join(ctx, 'Dockerfile'),
      [
        'FROM busybox AS base',
        'ARG GREETING=hello',
        'ENV WHO=world',
        'RUN echo "$GREETING $WHO" > /greeting',
        'FROM base AS final',
        'ARG FROMENV',
        'RUN echo "fromenv=$FROMENV" && cat /greeting',
        'LABEL stage=final',
        'FROM busybox AS other',
        'RUN exit 7',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'copy.Dockerfile'), 'FROM busybox\nCOPY . /c\nRUN find /c | sort\n');
    await writeFile(join(dir, 'fail.Dockerfile'), 'FROM busybox\nRUN echo before && exit 3\n');
    d = await startDaemon();
  });
  after(async () => {
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('-t several, --build-arg (a value, and one from the environment), --label, --target', async () => {
    const args = ['build', '--no-cache', '-t', 'bcli-a', '-t', 'bcli-b:v1', '--build-arg', 'GREETING=hi', '--build-arg', 'FROMENV', '--label', 'l=v', '--target', 'final', ctx];
    const { ours: r, theirs } = await same(args, { env: { FROMENV: 'yes' }, ids: true });
    // the first build of a directory sends all of it: the very tar docker's CLI sends
    const sent = (out: string) => /Sending build context to Docker daemon +\S+/.exec(out)?.[0];
    assert.equal(sent(r.stdout), sent(theirs.stdout));
    assert.match(r.stdout, /^fromenv=yes\nhi world\n/m);
    assert.doesNotMatch(r.stdout, /RUN exit 7/); // the stage after the target is not built
    assert.match(r.stdout, /Successfully tagged bcli-a:latest\nSuccessfully tagged bcli-b:v1\n$/);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}} {{.Config.Labels}}', 'bcli-a'])).stdout;
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}} {{.Config.Labels}}', 'bcli-b:v1'])).stdout, id);
    assert.match(id, /^sha256:[0-9a-f]{64} map\[l:v stage:final\]\n$/);
    // cached now: the whole output is the same, IDs included
    await same(args.filter((a) => a !== '--no-cache'), { env: { FROMENV: 'yes' } });
  });

  it('-f outside the context, .dockerignore honoured (exceptions, and the Dockerfile sent though excluded)', async () => {
    const { ours: r } = await same(['build', '--no-cache', '-f', join(dir, 'copy.Dockerfile'), ctx], { ids: true });
    // the context's own Dockerfile is excluded (it is not the one used); the .dockerignore docker's CLI sends lists
    // the Dockerfile it added, so that COPY . leaves that out too
    assert.match(r.stdout, /^\/c\n\/c\/\.dockerignore\n\/c\/a\.txt\n\/c\/link\n\/c\/logs\n\/c\/logs\/keep\.log\nRemoving/m);
    // --compress: the context goes gzipped (the daemon takes either), to the same result
    const { ours: z } = await same(['build', '--compress', '--no-cache', '-f', join(dir, 'copy.Dockerfile'), ctx], { ids: true });
    assert.match(z.stdout, /^\/c\n\/c\/\.dockerignore\n\/c\/a\.txt\n\/c\/link\n\/c\/logs\n\/c\/logs\/keep\.log\nRemoving/m);
  });

  it('-q prints the image ID alone; --iidfile writes it', async () => {
    // The last stage fails by design (RUN exit 7): these build the one before it.
    await ok(['build', '--target', 'final', '-t', 'bcli-q', ctx]);
    const { ours: q } = await same(['build', '--target', 'final', '-q', ctx]);
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const iid = join(dir, 'iid');
    await ok(['build', '--target', 'final', '--iidfile', iid, ctx]);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'bcli-q'])).stdout.trim();
    assert.equal(await readFile(iid, 'utf8'), id); // no newline, as docker writes it
    assert.equal(q.stdout, `${id}\n`);
  });

  it('a context from stdin: a tar, or a bare Dockerfile', async () => {
    const tar = await tarOf([
      { name: 'Dockerfile', content: 'FROM busybox\nCOPY f /f\nRUN cat /f\n' },
      { name: 'f', content: 'from the tar\n' },
    ]);
    await ok(['build', '-', '-t', 'bcli-tar'], { input: tar });
    const { ours: r } = await same(['build', '-'], { input: tar });
    assert.match(r.stdout, /Step 3\/3 : RUN cat \/f\n ---> Using cache\n/);
    const df = 'FROM busybox\nRUN echo from stdin\n';
    await ok(['build', '-'], { input: df });
    await same(['build', '-'], { input: df });
    await same(['build', '-f', '-', '-'], { input: df }); // stdin cannot be both
  });

  it('a failing RUN: its output, the message on stderr, its exit code (and -q shows what it held back)', async () => {
    const args = ['build', '-f', join(dir, 'fail.Dockerfile'), ctx];
    const { ours: r } = await same(args, {});
    assert.equal(r.code, 3);
    assert.match(r.stdout, /\nbefore\n$/);
    assert.equal(r.stderr, "The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3\n");
    const { ours: q } = await same(['build', '-q', ...args.slice(1)], {});
    assert.equal(q.stdout, '');
    assert.match(q.stderr, /Step 2\/2 : RUN echo before && exit 3\n.*\nbefore\nThe command '.*' returned a non-zero code: 3\n$/);
    await same(['build', '-f', join(dir, 'missing.Dockerfile'), ctx]);
    await same(['build', join(dir, 'nope')]);
  });

  it('builder prune reports what it reclaimed', async () => {
    await same(['builder', 'prune'], { input: 'n\n' });
    const r = await ok(['builder', 'prune', '-a', '-f']);
    assert.match(r.stdout, /^(Deleted build cache objects:\n(\S+\n)+\n)?Total reclaimed space: \d+(\.\d+)?[kMG]?B\n$/);
    await same(['builder', 'prune', '-a', '-f']); // nothing left for either
  });
});
