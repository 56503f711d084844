// `berth volume …` against a real berthd, side by side with the docker 28 CLI on the same daemon: what each prints,
// and its exit code. Needs the daemon's /volumes endpoints and volume mounts in run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareClis } from '../harness/compare.js';
import { type Daemon, startDaemon } from '../harness/daemon.js';

describe('berth volume matches the docker CLI', () => {
  let d: Daemon;
  const { same, ok } = compareClis(() => d);

  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    // what the tests made goes first, so a failure to destroy is the daemon's, not leftovers of a failed test
    await d.berth(['rm', '-f', 'bvol-user']);
    await d.berth(['volume', 'rm', '-f', 'bvol-a', 'bvol-b', 'bvol-used']);
    await d.destroy();
  });

  it('create prints the name; ls and inspect print what docker prints', async () => {
    assert.equal((await ok(['volume', 'create', 'bvol-a'])).stdout, 'bvol-a\n');
    // one label: docker prints several in Go's random map order
    await ok(['volume', 'create', '--name', 'bvol-b', '--label', 'com.example.x=y', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m']);
    await same(['volume', 'ls', '-f', 'name=bvol-']);
    await same(['volume', 'ls', '-q', '-f', 'name=bvol-']);
    await same(['volume', 'ls', '-f', 'name=bvol-', '--format', 'json']);
    await same(['volume', 'ls', '-f', 'name=bvol-', '--format', 'table {{.Name}}\\t{{.Driver}}\\t{{.Scope}}\\t{{.Labels}}\\t{{.Label "com.example.x"}}\\t{{.Mountpoint}}\\t{{.Size}}\\t{{.Links}}']);
    await same(['volume', 'ls', '-f', 'label=com.example.x', '--format', '{{.Name}}']);
    await same(['volume', 'ls', '-f', 'driver=local', '-f', 'name=bvol-', '--format', '{{.Name}}']);
    await same(['volume', 'inspect', 'bvol-a', 'bvol-b']);
    await same(['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{.Scope}} {{.Labels.nope}}', 'bvol-b']);
    await same(['volume', 'inspect', '--format', 'json', 'bvol-a']);
  });

  it("docker's errors: a missing volume to inspect or remove, a volume in use, a bad name", async () => {
    const missing = await same(['volume', 'inspect', 'bvol-a', 'bvol-nope']);
    assert.equal(missing.code, 1);
    await same(['volume', 'rm', 'bvol-nope']);
    await same(['volume', 'rm', '-f', 'bvol-nope']);
    await same(['volume', 'create', 'bvol/bad']);
    await ok(['volume', 'create', 'bvol-used']);
    await ok(['create', '--name', 'bvol-user', '-v', 'bvol-used:/data', 'busybox']);
    const inUse = await d.berth(['volume', 'rm', 'bvol-used']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /^Error response from daemon: remove bvol-used: volume is in use - \[[0-9a-f]{64}\]\n$/);
    await same(['volume', 'ls', '-f', 'dangling=false', '-f', 'name=bvol-', '--format', '{{.Name}}']);
    await ok(['rm', 'bvol-user']);
  });

  it('prune: anonymous volumes only unless -a, with the report docker prints', async () => {
    await same(['volume', 'prune'], 'n\n');
    // an anonymous volume from -v /path, left behind by a container removed without -v
    await ok(['create', '--name', 'bvol-user', '-v', '/anon', 'busybox']);
    await ok(['rm', 'bvol-user']);
    const pruned = await ok(['volume', 'prune', '-f']);
    assert.match(pruned.stdout, /^Deleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$/);
    // named volumes survive a plain prune and go with -a
    assert.match((await ok(['volume', 'ls', '-q'])).stdout, /bvol-a/);
    const all = await ok(['volume', 'prune', '-a', '-f', '--filter', 'label=com.example.x']);
    assert.match(all.stdout, /^Deleted Volumes:\nbvol-b\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$/);
  });
});
