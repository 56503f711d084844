// berthd as systemd runs it: `-H fd://` on a socket passed by socket activation (systemd-socket-activate plays
// systemd's part), and the units the set-up installs where systemd runs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type Daemon, repoRoot, run, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';

describe('socket activation', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon({}, { socketActivated: true });
  });
  after(() => d?.destroy());

  it('serves the API on the passed socket, to our client and the docker CLI', async () => {
    // systemd-socket-activate became berthd in place: the process holding the socket is berthd -H fd://.
    assert.match(await readFile(`/proc/${d.pid()}/cmdline`, 'utf8'), /berthd\.js\0-H\0fd:\/\/\0/);
    const v = await d.docker(['version', '--format', '{{.Server.Version}}']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal((await d.berth(['ps', '-aq'])).code, 0);
  });

  it("socket activation's variables reach neither conmon nor a container", async () => {
    const r = await d.docker(['run', '--rm', '--pull', 'never', 'busybox', 'env']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /LISTEN_/);
    const started = await d.docker(['run', '-d', '--pull', 'never', 'busybox', 'sleep', '60']);
    assert.equal(started.code, 0, started.stderr);
    const conmon = await run('pgrep', ['-f', `conmon.*${started.stdout.trim()}`]);
    const pid = conmon.stdout.trim().split('\n')[0];
    assert.ok(pid, 'the container has a monitor');
    assert.doesNotMatch(await readFile(`/proc/${pid}/environ`, 'utf8'), /LISTEN_/);
    assert.equal((await d.docker(['rm', '-f', started.stdout.trim()])).code, 0);
    await waitForNoLeftovers(d);
  });

  it('berthd -H fd:// without a passed socket refuses to start, saying why', async () => {
    const r = await run(process.execPath, [`${repoRoot}/dist/berthd.js`, '-H', 'fd://', '--data-root', `${d.dir}/other-root`, '--exec-root', `${d.dir}/other-run`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /fd:\/\/: no socket was passed; -H fd:\/\/ needs socket activation/);
  });

  it('the systemd units are valid (systemd-analyze verify)', async () => {
    const r = await run('systemd-analyze', ['verify', `${repoRoot}/scripts/systemd/berthd.service`, `${repoRoot}/scripts/systemd/berthd.socket`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});
