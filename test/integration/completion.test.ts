// `berth completion bash` driven as bash drives it: the script is sourced, COMP_WORDS/COMP_CWORD set, the
// completion function called, COMPREPLY read. Commands, flags and live names from the daemon.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, dist, run, startDaemon } from '../harness/daemon.js';

describe('completion', () => {
  let d: Daemon;
  let bin: string;
  /** What bash completes for `words` (the last one being completed). */
  const completeBash = async (...words: string[]) => {
    const script = [
      'source <(berth completion bash)',
      `COMP_WORDS=(berth ${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length}`,
      '_berth',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = await run('bash', ['-c', script], { env: { PATH: `${bin}:${process.env.PATH}`, BERTH_HOST: d.host } });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };

  before(async () => {
    d = await startDaemon();
    bin = await mkdtemp(join(tmpdir(), 'berth-completion-'));
    // The berth under test, whatever the PATH holds.
    await writeFile(join(bin, 'berth'), `#!/bin/sh\nexec ${process.execPath} ${dist('berth')} "$@"\n`);
    await chmod(join(bin, 'berth'), 0o755);
    for (const args of [['create', '--name', 'compl-web', 'busybox', 'true'], ['create', '--name', 'compl-db', 'busybox', 'true'], ['volume', 'create', 'compl-vol'], ['network', 'create', 'compl-net']]) {
      assert.equal((await d.docker(args)).code, 0);
    }
  });
  after(async () => {
    await d.docker(['rm', '-f', 'compl-web', 'compl-db']);
    await d.docker(['volume', 'rm', 'compl-vol']);
    await d.docker(['network', 'rm', 'compl-net']);
    await d.destroy();
    await rm(bin, { recursive: true, force: true });
  });

  it('commands, subcommands and flags', async () => {
    assert.deepEqual(await completeBash('st'), ['start', 'stats', 'stop']);
    assert.deepEqual(await completeBash('volume', ''), ['create', 'inspect', 'ls', 'prune', 'rm']);
    assert.deepEqual(await completeBash('run', '--netw'), ['--network', '--network-alias']);
    assert.ok((await completeBash('')).includes('completion'));
    assert.ok(!(await completeBash('')).includes('__complete'), 'the protocol command is hidden');
  });

  it('live names: containers, images, volumes and networks, and a flag value skipped', async () => {
    assert.deepEqual(await completeBash('start', 'compl-'), ['compl-db', 'compl-web']);
    assert.deepEqual(await completeBash('logs', '--tail', '5', 'compl-w'), ['compl-web']);
    assert.deepEqual(await completeBash('rmi', 'busy'), ['busybox:latest']);
    assert.deepEqual(await completeBash('volume', 'rm', 'compl'), ['compl-vol']);
    assert.deepEqual(await completeBash('network', 'inspect', 'compl'), ['compl-net']);
    // The command after the image of a run is the container's, not ours to complete.
    assert.deepEqual(await completeBash('run', 'busybox', 'compl'), []);
  });

  it('zsh and fish scripts use the same protocol; an unknown shell is an error', async () => {
    for (const shell of ['zsh', 'fish']) {
      const r = await d.berth(['completion', shell]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /__complete/);
    }
    const bad = await d.berth(['completion', 'tcsh']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /unsupported shell: tcsh/);
  });
});
