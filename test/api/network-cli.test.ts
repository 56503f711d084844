// `berth network …` and `berth port` against a real berthd, side by side with the docker 28 CLI on the same
// daemon: what each prints, and its exit code. Needs the daemon's /networks endpoints and bridge networking.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareClis } from '../harness/compare.js';
import { type Daemon, startDaemon } from '../harness/daemon.js';

describe('berth network and port match the docker CLI', () => {
  let d: Daemon;
  const { same, ok } = compareClis(() => d);

  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    // what the tests made goes first, so a failure to destroy is the daemon's, not leftovers of a failed test
    await d.berth(['rm', '-f', 'web', 'plain']);
    await d.berth(['network', 'rm', '-f', 'bnet-a', 'bnet-b', 'bnet-c', 'bnet-unused']);
    await d.destroy();
  });

  it('create prints the new ID; ls, inspect and its templates print what docker prints', async () => {
    // One label: docker prints several in Go's random map order.
    const id = (await ok(['network', 'create', '--label', 'com.example.x=y', 'bnet-a'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await ok(['network', 'create', '-d', 'bridge', '--subnet', '10.213.7.0/24', '--gateway', '10.213.7.254', '--ip-range', '10.213.7.128/25', '--internal', '-o', 'com.docker.network.bridge.name=bnetb0', 'bnet-b']);
    await same(['network', 'ls']);
    await same(['network', 'ls', '--no-trunc']);
    await same(['network', 'ls', '-q']);
    await same(['network', 'list', '--format', 'json']);
    await same(['network', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}\\t{{.Scope}}\\t{{.Internal}}\\t{{.IPv6}}\\t{{.Labels}}\\t{{.Label "com.example.x"}}']);
    await same(['network', 'ls', '-f', 'name=bnet-', '-f', 'driver=bridge']);
    await same(['network', 'ls', '-f', 'type=custom', '--format', '{{.Name}}']);
    await same(['network', 'ls', '-f', 'label=com.example.x=y', '--format', '{{.Name}}']);
    await same(['network', 'ls', '-f', `id=${id.slice(0, 6)}`, '--format', '{{.Name}}']);
    await same(['network', 'inspect', 'bnet-a', 'bnet-b']);
    await same(['network', 'inspect', '--format', '{{.Name}} {{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{.Labels.nope}}', 'bnet-b']);
    await same(['network', 'inspect', '--format', 'json', 'bnet-a']);
    const inspected = JSON.parse((await ok(['network', 'inspect', 'bnet-b'])).stdout) as Array<{ IPAM: { Config: unknown[] }; Internal: boolean }>;
    assert.deepEqual(inspected[0]!.IPAM.Config, [{ Subnet: '10.213.7.0/24', IPRange: '10.213.7.128/25', Gateway: '10.213.7.254' }]);
    assert.equal(inspected[0]!.Internal, true);
  });

  it("docker's errors: a missing network to inspect or remove, a bad label, an unmatched gateway", async () => {
    const missing = await same(['network', 'inspect', 'bnet-a', 'no-such-net']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: network no-such-net not found\n');
    await same(['network', 'rm', 'no-such-net']);
    await same(['network', 'rm', '-f', 'no-such-net']);
    await same(['network', 'create', '--label', '=x', 'bnet-bad']);
    await same(['network', 'create', '--subnet', '10.213.8.0/24', '--gateway', '10.213.9.1', 'bnet-bad']);
    await same(['network', 'create', 'bnet-a']);
  });

  it('connect and disconnect a container, with an alias and an address', async () => {
    await ok(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--alias', 'pa', '--ip', '10.213.7.200', 'bnet-b', 'plain']);
    const nets = JSON.parse((await ok(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'plain'])).stdout) as Record<string, { Aliases: string[] | null; IPAddress: string }>;
    assert.ok(nets['bnet-b']?.Aliases?.includes('pa'), JSON.stringify(nets));
    assert.equal(nets['bnet-b']?.IPAddress, '10.213.7.200');
    await same(['network', 'connect', 'bnet-b', 'no-such-container']);
    await ok(['network', 'disconnect', 'bnet-b', 'plain']);
    const after = JSON.parse((await ok(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'plain'])).stdout) as Record<string, unknown>;
    assert.equal(after['bnet-b'], undefined);
  });

  it('port lists published ports as docker does, one private port, and its error for one not published', async () => {
    await ok(['run', '-d', '--name', 'web', '-p', '127.0.0.1::80', '-p', '127.0.0.1::53/udp', '--network', 'bnet-a', '--network-alias', 'www', 'busybox', 'sleep', '300']);
    const all = await same(['port', 'web']);
    assert.match(all.stdout, /^53\/udp -> 127\.0\.0\.1:\d+\n80\/tcp -> 127\.0\.0\.1:\d+\n$/);
    await same(['port', 'web', '80']);
    await same(['container', 'port', 'web', '53/udp']);
    const none = await same(['port', 'web', '81']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, "Error: No public port '81' published for web\n");
  });

  it('rm removes networks, printing each name; prune removes the unused ones', async () => {
    await ok(['network', 'create', 'bnet-unused']);
    const pruned = await ok(['network', 'prune', '-f', '--filter', 'label!=keep']);
    assert.match(pruned.stdout, /^Deleted Networks:\n(.+\n)*\n$/);
    assert.ok(pruned.stdout.split('\n').includes('bnet-unused'), pruned.stdout);
    assert.ok(!pruned.stdout.split('\n').includes('bnet-a'), 'bnet-a has a container');
    // No container has an endpoint on bnet-b any more (plain was disconnected): unused, as dockerd counts it.
    assert.ok(pruned.stdout.split('\n').includes('bnet-b'), pruned.stdout);
    await ok(['network', 'create', 'bnet-c']);
    await ok(['rm', '-f', 'web', 'plain']);
    const removed = await d.berth(['network', 'rm', 'bnet-a', 'no-such-net', 'bnet-c']);
    assert.equal(removed.stdout, 'bnet-a\nbnet-c\n');
    assert.equal(removed.stderr, 'Error response from daemon: network no-such-net not found\nexit status 1\n');
    assert.equal(removed.code, 1);
  });
});
