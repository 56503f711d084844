// Cross-engine compatibility with the reference engine (Debian's dockerd 20.10, installed by scripts/test.sh via
// scripts/install-docker-reference.sh): images move between dockerd and berthd through `docker save`/`load` and
// keep their IDs, and the same docker CLI commands print the same things against both.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EngineHandle, startDockerd } from '../../bench/lib.mjs';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';
import { saveTar, tarOf } from '../harness/images.js';

describe('compatibility with dockerd', () => {
  let berth: Daemon;
  let docker: EngineHandle;
  const dockerCli = (args: string[]) => run('docker', args, { env: { DOCKER_HOST: docker.host, DOCKER_CONFIG: join(berth.dir, 'docker-config') } });

  before(async () => {
    berth = await startDaemon();
    const d = await startDockerd();
    assert.ok(d, 'dockerd is not installed: run scripts/install-docker-reference.sh (scripts/test.sh does)');
    docker = d;
  });
  after(async () => {
    await docker?.stop();
    await berth?.destroy();
  });

  it('an image saved by dockerd loads into berthd with the same ID and layers', async () => {
    const layers = [
      await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/a', content: 'a' }, { name: 'etc/b', content: 'b' }]),
      await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/.wh.a' }, { name: 'bin/', type: 'directory' }, { name: 'bin/tool', content: '#!/bin/sh\n', mode: 0o755 }]),
    ];
    const input = join(berth.dir, 'in.tar');
    await writeFile(input, await saveTar([{ tags: ['compat/from-docker:1'], layers, config: { Labels: { origin: 'dockerd' } } }]));
    assert.equal((await dockerCli(['load', '-i', input])).code, 0);
    const out = join(berth.dir, 'from-docker.tar');
    const saved = await dockerCli(['save', '-o', out, 'compat/from-docker:1']);
    assert.equal(saved.code, 0, saved.stderr);
    const loaded = await berth.docker(['load', '-i', out]);
    assert.equal(loaded.code, 0, loaded.stderr);
    const fmt = ['image', 'inspect', '--format', '{{.Id}} {{.RootFS.Layers}} {{.RepoTags}} {{.Config.Labels}}', 'compat/from-docker:1'];
    const theirs = await dockerCli(fmt);
    const ours = await berth.docker(fmt);
    assert.equal(ours.stdout, theirs.stdout);
  });

  it('an image saved by berthd loads into dockerd with the same ID and layers', async () => {
    const out = join(berth.dir, 'from-berth.tar');
    const saved = await berth.berth(['save', '-o', out, 'busybox']);
    assert.equal(saved.code, 0, saved.stderr);
    const loaded = await dockerCli(['load', '-i', out]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /Loaded image: busybox:latest/);
    const fmt = ['image', 'inspect', '--format', '{{.Id}} {{.RootFS.Layers}} {{.Config.Cmd}} {{.Os}}/{{.Architecture}}', 'busybox'];
    assert.equal((await berth.docker(fmt)).stdout, (await dockerCli(fmt)).stdout);
  });

  it('the docker CLI prints the same listings and history for the same images', async () => {
    for (const args of [
      ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}', 'busybox'],
      ['images', '-q', 'compat/*'],
      ['history', '--format', '{{.ID}} {{.CreatedBy}} {{.Size}} {{.Comment}}', 'busybox'],
      ['history', '--no-trunc', '-q', 'compat/from-docker:1'],
      ['images', '--filter', 'label=origin=dockerd', '--format', '{{.Repository}}:{{.Tag}}'],
    ]) {
      const theirs = await dockerCli(args);
      const ours = await berth.docker(args);
      assert.equal(ours.code, theirs.code, args.join(' '));
      assert.equal(ours.stdout, theirs.stdout, args.join(' '));
    }
  });

  it('errors come back in the same shape', async () => {
    for (const args of [['rmi', 'no-such-image'], ['tag', 'no-such-image', 'x:1'], ['history', 'no-such-image:2']]) {
      const theirs = await dockerCli(args);
      const ours = await berth.docker(args);
      assert.equal(ours.code, theirs.code, args.join(' '));
      assert.equal(ours.stderr, theirs.stderr, args.join(' '));
    }
  });
});
