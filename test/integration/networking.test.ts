// Networking on the real kernel, through the real docker CLI: the default bridge, user-defined networks with DNS
// by name, alias and short ID, isolation, --internal, published TCP and UDP ports (from the host's loopback and
// from another namespace), egress through NAT to a stand-in "outside" namespace this test makes, container:
// sharing, live connect/disconnect, persistence across a daemon restart and a kill -9, and leak checks.
// Only the test daemon's own networks and the namespace made here are used, besides loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Daemon, bridgeOf, run, startDaemon } from '../harness/daemon.js';
import { httpGet, httpGetIn } from '../harness/net.js';

/** A namespace standing for the world outside the host: 10.254.<n>.2, reached through the host's 10.254.<n>.1. */
class Outside {
  readonly ns: string;
  readonly hostIp: string;
  readonly ip: string;
  private readonly veth: string;
  constructor(tag: string) {
    const n = 100 + Math.floor(Math.random() * 100);
    this.ns = `bt-out-${tag}`;
    this.veth = `bto${tag}`;
    this.hostIp = `10.254.${n}.1`;
    this.ip = `10.254.${n}.2`;
  }
  async create(): Promise<void> {
    const steps = [
      ['netns', 'add', this.ns],
      ['link', 'add', this.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns],
      ['addr', 'add', `${this.hostIp}/24`, 'dev', this.veth],
      ['link', 'set', this.veth, 'up'],
      ['-n', this.ns, 'addr', 'add', `${this.ip}/24`, 'dev', 'eth0'],
      ['-n', this.ns, 'link', 'set', 'eth0', 'up'],
      ['-n', this.ns, 'link', 'set', 'lo', 'up'],
    ];
    for (const s of steps) {
      const r = await run('ip', s);
      assert.equal(r.code, 0, `ip ${s.join(' ')}: ${r.stderr}`);
    }
  }
  /** A TCP server in the namespace that answers each connection with the peer's address, then closes. */
  serveRemoteAddress(port: number): () => void {
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '-e', `require('net').createServer((s) => s.end(s.remoteAddress)).listen(${port})`], { stdio: 'ignore' });
    return () => child.kill('SIGKILL');
  }
  /** Counts the bytes of the first connection to `port` in the namespace; resolves with the count once it ends. */
  countBytes(port: number) {
    return run('ip', ['netns', 'exec', this.ns, process.execPath, '-e', `const srv=require('net').createServer((s)=>{let n=0;s.on('data',(d)=>n+=d.length);s.on('end',()=>{process.stdout.write(String(n));process.exit(0)})}).listen(${port})`], { timeoutMs: 20_000 });
  }
  async destroy(): Promise<void> {
    await run('ip', ['netns', 'del', this.ns]);
    await run('ip', ['link', 'del', this.veth]);
  }
}

describe('networking', () => {
  let d: Daemon;
  const outside = new Outside(Math.random().toString(16).slice(2, 8));
  const docker = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const inspect = async (name: string, format: string) => docker(['inspect', '-f', format, name]);
  const netns = async () => (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(`berth-${bridgeOf(d.dir)}-`));
  const runIn = (args: string[]) => d.docker(['run', '--rm', '--pull', 'never', ...args]);

  before(async () => {
    d = await startDaemon();
    await outside.create();
  });
  after(async () => {
    await outside.destroy();
    await d.destroy();
  });

  it('the default bridge: an address from its subnet, /etc/hosts, inspect, and egress through NAT', async () => {
    const bridge = JSON.parse(await docker(['network', 'inspect', 'bridge']))[0];
    assert.equal(bridge.Driver, 'bridge');
    assert.equal(bridge.Options['com.docker.network.bridge.name'], bridgeOf(d.dir));
    const subnet: string = bridge.IPAM.Config[0].Subnet;
    assert.notEqual(subnet, '172.17.0.0/16', "docker0's subnet is never taken");
    const id = await docker(['run', '-d', '--pull', 'never', '--name', 'plain', 'busybox', 'sleep', '300']);
    const ip = await inspect('plain', '{{.NetworkSettings.IPAddress}}');
    assert.equal(await inspect('plain', '{{.NetworkSettings.Networks.bridge.IPAddress}}'), ip);
    assert.equal(await inspect('plain', '{{.NetworkSettings.Gateway}}'), bridge.IPAM.Config[0].Gateway);
    assert.match(await inspect('plain', '{{.NetworkSettings.MacAddress}}'), /^02:42(:[0-9a-f]{2}){4}$/);
    assert.equal((await docker(['exec', 'plain', 'tail', '-1', '/etc/hosts'])), `${ip}\t${id.slice(0, 12)}`);
    const listed = JSON.parse(await docker(['network', 'inspect', 'bridge']))[0].Containers[id];
    assert.equal(listed.Name, 'plain');
    assert.equal(listed.IPv4Address, `${ip}/${subnet.split('/')[1]}`);
    // Egress: the outside sees the host's address, not the container's.
    const stop = outside.serveRemoteAddress(9100);
    try {
      let seen = '';
      for (let i = 0; i < 50 && !seen; i++) {
        seen = (await d.docker(['exec', 'plain', 'nc', '-w', '2', outside.ip, '9100'])).stdout.trim();
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(seen.replace(/^::ffff:/, ''), outside.hostIp);
    } finally {
      stop();
    }
    // Bulk data leaves at the uplink's MTU, whatever the bridge's own (a jumbo MTU inside the network).
    const counted = outside.countBytes(9103);
    await new Promise((r) => setTimeout(r, 300));
    const sent = await d.docker(['exec', 'plain', 'sh', '-c', `dd if=/dev/urandom bs=1k count=3000 2>/dev/null | nc ${outside.ip} 9103`]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal((await counted).stdout, String(3000 * 1024));
    // Restarts right after each stop: the veths of the namespace just deleted (the kernel removes them in the
    // background) never stand in the way of making them again.
    const hostEnd = `/sys/class/net/bv${id.slice(0, 10)}00`;
    for (let i = 0; i < 3; i++) await docker(['restart', '-t', '0', 'plain']);
    assert.match(await inspect('plain', '{{.State.Running}} {{.NetworkSettings.IPAddress}}'), /^true \d+\.\d+\.\d+\.\d+$/);
    assert.ok(await access(hostEnd).then(() => true, () => false), 'the host end of the restarted container');
    await docker(['rm', '-f', 'plain']);
    assert.deepEqual(await netns(), []);
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      gone = await access(hostEnd).then(() => false, () => true);
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(gone, `${hostEnd} still there 2 s after rm`);
  });

  it('user-defined networks: static addresses, names by container name, alias and short ID, isolation and --internal', async () => {
    await docker(['network', 'create', '--subnet', '10.213.0.0/24', '--gateway', '10.213.0.1', '--label', 'team=net', 'front']);
    await docker(['network', 'create', 'back']);
    await docker(['network', 'create', '--internal', 'sealed']);
    try {
      const id = await docker(['run', '-d', '--pull', 'never', '--name', 'web', '--network', 'front', '--ip', '10.213.0.50', '--network-alias', 'www', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
      assert.equal(await inspect('web', '{{.NetworkSettings.Networks.front.IPAddress}}'), '10.213.0.50');
      assert.equal(await inspect('web', '{{json .NetworkSettings.Networks.front.Aliases}}'), '["www"]');
      const resolve = await runIn(['--network', 'front', 'busybox', 'sh', '-c', `cat /etc/resolv.conf; for n in web www ${id.slice(0, 12)}; do nslookup $n | grep -A1 "Name:" | tail -1; done; ${httpGetIn('web', '/hostname')}`]);
      assert.equal(resolve.code, 0, resolve.stderr);
      assert.match(resolve.stdout, /^nameserver 127\.0\.0\.11$/m);
      assert.deepEqual(resolve.stdout.match(/Address: (\S+)/g), ['Address: 10.213.0.50', 'Address: 10.213.0.50', 'Address: 10.213.0.50']);
      assert.match(resolve.stdout, new RegExp(`^${id.slice(0, 12)}$`, 'm'));
      // Another network: neither the address nor the name is reachable.
      const isolated = await runIn(['--network', 'back', 'busybox', 'sh', '-c', 'nslookup web >/dev/null 2>&1 && echo resolved; wget -T 2 -qO- http://10.213.0.50/hostname || echo unreachable']);
      assert.equal(isolated.stdout.trim(), 'unreachable');
      // The default bridge has no name resolution.
      assert.notEqual((await runIn(['busybox', 'nslookup', 'web'])).code, 0);
      // --internal: containers on it see each other, never the outside.
      const stop = outside.serveRemoteAddress(9101);
      try {
        const sealed = await runIn(['--network', 'sealed', 'busybox', 'sh', '-c', `nc -w 2 ${outside.ip} 9101 || echo no-egress`]);
        assert.equal(sealed.stdout.trim(), 'no-egress');
      } finally {
        stop();
      }
      // Connect live: web joins `back` and is found there; disconnect takes it away again.
      await docker(['network', 'connect', '--alias', 'api', 'back', 'web']);
      const joined = await runIn(['--network', 'back', 'busybox', 'sh', '-c', httpGetIn('api', '/hostname')]);
      assert.equal(joined.stdout.trim(), id.slice(0, 12), joined.stderr);
      assert.equal(await inspect('web', '{{len .NetworkSettings.Networks}}'), '2');
      const busy = await d.docker(['network', 'rm', 'back']);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, /has active endpoints/);
      await docker(['network', 'disconnect', 'back', 'web']);
      assert.equal((await docker(['exec', 'web', 'ls', '/sys/class/net'])).split('\n').sort().join(' '), 'eth0 lo');
      // --ip-range: addresses come from the range, the first one first.
      await docker(['network', 'create', '--subnet', '10.218.0.0/24', '--ip-range', '10.218.0.128/25', 'ranged']);
      const ranged = await runIn(['--network', 'ranged', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0']);
      await docker(['network', 'rm', 'ranged']);
      assert.match(ranged.stdout, / 10\.218\.0\.128\/24 /);
      const ls = await docker(['network', 'ls', '--filter', 'label=team=net', '--format', '{{.Name}} {{.Driver}}']);
      assert.equal(ls, 'front bridge');
      // Rules of the bad kind, with Docker's statuses.
      const dup = await d.docker(['network', 'create', 'front']);
      assert.match(dup.stderr, /network with name front already exists/);
      const overlap = await d.docker(['network', 'create', '--subnet', '10.213.0.0/16', 'overlapping']);
      assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
      const taken = await d.docker(['run', '--rm', '--pull', 'never', '--network', 'front', '--ip', '10.213.0.50', 'busybox', 'true']);
      assert.match(taken.stderr, /Address already in use/);
      const outsideSubnet = await d.docker(['create', '--network', 'front', '--ip', '10.9.9.9', 'busybox']);
      assert.match(outsideSubnet.stderr, /does not belong to any of this network's subnets/);
      const predefined = await d.docker(['network', 'rm', 'bridge']);
      assert.match(predefined.stderr, /bridge is a pre-defined network and cannot be removed/);
    } finally {
      await d.docker(['rm', '-f', 'web']);
      await d.docker(['network', 'rm', 'front', 'back', 'sealed']);
    }
    assert.equal(await docker(['network', 'ls', '-q', '--filter', 'type=custom']), '');
    assert.deepEqual(await netns(), []);
    // the removed networks' rules went with them (applied while their bridges were deleted)
    const rules = await run('nft', ['list', 'table', 'ip', `berth-${bridgeOf(d.dir)}`]);
    assert.equal(rules.code, 0, rules.stderr);
    assert.doesNotMatch(rules.stdout, /berth-[0-9a-f]{9}\b|10\.213\./);
    assert.match(rules.stdout, new RegExp(bridgeOf(d.dir)), 'the default bridge keeps its rules');
  });

  it('published ports: TCP and UDP, from the host loopback and another namespace, random and -P ports, conflicts', async () => {
    await docker(['run', '-d', '--pull', 'never', '--name', 'pub', '-p', '127.0.0.1:18281:80', '-p', '18282:80', '-p', '81', '--expose', '82', '-P', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    try {
      const id = await inspect('pub', '{{.Id}}');
      const viaHttp = async (host: string, port: number, ns?: string) => {
        // httpd may not listen yet right after the start: a few tries.
        let body = '';
        for (let i = 0; i < 20 && !body; i++) body = await httpGet(`http://${host}:${port}/hostname`, { timeoutMs: 1000, ...(ns && { ns }) });
        return body;
      };
      assert.equal(await viaHttp('127.0.0.1', 18281), id.slice(0, 12));
      assert.equal(await viaHttp('127.0.0.1', 18282), id.slice(0, 12));
      // From another namespace, to the host's address on its side.
      assert.equal(await viaHttp(outside.hostIp, 18282, outside.ns), id.slice(0, 12));
      // Bound to 127.0.0.1 only: not reachable from elsewhere.
      assert.equal(await httpGet(`http://${outside.hostIp}:18281/hostname`, { ns: outside.ns, timeoutMs: 1500 }), '');
      const ports = (await docker(['port', 'pub'])).split('\n');
      assert.ok(ports.includes('80/tcp -> 127.0.0.1:18281'), ports.join('\n'));
      assert.ok(ports.includes('80/tcp -> 0.0.0.0:18282'), ports.join('\n'));
      const random = ports.find((p) => p.startsWith('81/tcp -> 0.0.0.0:'));
      assert.ok(random && Number(random.split(':')[1]) > 1024, ports.join('\n'));
      assert.ok(ports.some((p) => p.startsWith('82/tcp -> 0.0.0.0:')), ports.join('\n'));
      assert.match(await docker(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}']), /127\.0\.0\.1:18281->80\/tcp/);
      // The same host port again: refused before the container starts, and nothing is left of the attempt.
      const conflict = await d.docker(['run', '-d', '--pull', 'never', '--name', 'pub2', '-p', '18282:80', 'busybox', 'sleep', '60']);
      assert.notEqual(conflict.code, 0);
      assert.match(conflict.stderr, /Bind for 0\.0\.0\.0:18282 failed: port is already allocated/);
      assert.equal(await inspect('pub2', '{{.State.Status}}'), 'created');
      await docker(['rm', 'pub2']);
      // A port a host program holds.
      const holder: Server = createServer();
      await new Promise<void>((r) => holder.listen(18283, '0.0.0.0', () => r()));
      try {
        const held = await d.docker(['run', '--rm', '--pull', 'never', '-p', '18283:80', 'busybox', 'true']);
        assert.match(held.stderr, /Bind for 0\.0\.0\.0:18283 failed: port is already allocated/);
      } finally {
        holder.close();
      }
      // UDP: a datagram to the published port reaches the container's namespace. The image's busybox has no UDP
      // server, so the receiver is node, run in the container's network namespace (the same kernel path).
      await docker(['run', '-d', '--pull', 'never', '--name', 'udp', '-p', '18284:5000/udp', 'busybox', 'sleep', '300']);
      const sandbox = await inspect('udp', '{{.NetworkSettings.SandboxKey}}');
      const receiver = run('nsenter', [`--net=${sandbox}`, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{process.stdout.write(m);process.exit(0)});s.bind(5000)"], { timeoutMs: 10_000 });
      const sender = setInterval(() => void run(process.execPath, ['-e', "const s=require('dgram').createSocket('udp4');s.send('ping',18284,'127.0.0.1',()=>s.close())"]), 200);
      try {
        assert.equal((await receiver).stdout, 'ping');
      } finally {
        clearInterval(sender);
      }
    } finally {
      await d.docker(['rm', '-f', 'pub', 'pub2', 'udp']);
    }
    // The ports are free again.
    const again = await docker(['run', '-d', '--pull', 'never', '--name', 'pub3', '-p', '18282:80', 'busybox', 'sleep', '60']);
    assert.ok(again);
    await docker(['rm', '-f', 'pub3']);
    assert.deepEqual(await netns(), []);
  });

  it('container: shares a namespace; links on the default bridge; --add-host host-gateway', async () => {
    await docker(['run', '-d', '--pull', 'never', '--name', 'owner', '--expose', '5432', '-e', 'LEVEL=high', 'busybox', 'sleep', '300']);
    try {
      const ip = await inspect('owner', '{{.NetworkSettings.IPAddress}}');
      const shared = await runIn(['--network', 'container:owner', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
      assert.match(shared.stdout, new RegExp(` ${ip.replace(/\./g, '\\.')}/`));
      const linked = await runIn(['--link', 'owner:db', 'busybox', 'sh', '-c', 'grep -w db /etc/hosts; ping -c1 -W2 db >/dev/null && echo reached']);
      assert.match(linked.stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\tdb `, 'm'));
      assert.match(linked.stdout, /reached/);
      // Docker's link variables: the name, each exposed port, the linked container's environment.
      const env = (await runIn(['--name', 'linker', '--link', 'owner:db', 'busybox', 'env'])).stdout;
      for (const line of ['DB_NAME=/linker/db', `DB_PORT=tcp://${ip}:5432`, `DB_PORT_5432_TCP=tcp://${ip}:5432`, `DB_PORT_5432_TCP_ADDR=${ip}`, 'DB_PORT_5432_TCP_PORT=5432', 'DB_PORT_5432_TCP_PROTO=tcp', 'DB_ENV_LEVEL=high']) {
        assert.ok(env.split('\n').includes(line), `${line} in:\n${env}`);
      }
      assert.doesNotMatch(env, /^DB_ENV_PATH=/m);
      await docker(['create', '--name', 'stopped', 'busybox']);
      const toStopped = await d.docker(['run', '--rm', '--pull', 'never', '--link', 'stopped:s', 'busybox', 'true']);
      assert.match(toStopped.stderr, /Cannot link to a non running container: \/stopped AS/);
      await docker(['rm', 'stopped']);
      const gateway = JSON.parse(await docker(['network', 'inspect', 'bridge']))[0].IPAM.Config[0].Gateway;
      const gw = await runIn(['--add-host', 'host.docker.internal:host-gateway', 'busybox', 'grep', 'host.docker.internal', '/etc/hosts']);
      assert.equal(gw.stdout.trim(), `${gateway}\thost.docker.internal`);
    } finally {
      await d.docker(['rm', '-f', 'owner']);
    }
  });

  it('a restart and a kill -9 of the daemon: running containers keep their address and ports; exits are cleaned up', async () => {
    await docker(['network', 'create', '--subnet', '10.214.0.0/24', 'keep']);
    try {
      await docker(['run', '-d', '--pull', 'never', '--name', 'kept', '--network', 'keep', '-p', '18285:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
      await docker(['run', '-d', '--pull', 'never', '--name', 'peer', '--network', 'keep', 'busybox', 'sleep', '300']);
      const ip = await inspect('kept', '{{.NetworkSettings.Networks.keep.IPAddress}}');
      const id = await inspect('kept', '{{.Id}}');
      await d.stop();
      await d.start();
      assert.equal(await inspect('kept', '{{.NetworkSettings.Networks.keep.IPAddress}}'), ip);
      assert.equal(await httpGet('http://127.0.0.1:18285/hostname'), id.slice(0, 12));
      // The address is still held: a new container gets another one; names still resolve.
      const other = await runIn(['--network', 'keep', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; nslookup kept | grep Address: | tail -1']);
      assert.ok(!other.stdout.includes(` ${ip}/`), other.stdout);
      assert.match(other.stdout, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
      // The port is still held too.
      assert.match((await d.docker(['run', '--rm', '--pull', 'never', '-p', '18285:80', 'busybox', 'true'])).stderr, /port is already allocated/);
      // While berthd is down (killed), `peer` dies: at start-up its exit is found and its namespace goes.
      const peerId = await inspect('peer', '{{.Id}}');
      const peerPid = Number(await inspect('peer', '{{.State.Pid}}'));
      await d.kill9();
      process.kill(peerPid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await d.start();
      assert.equal(await inspect('peer', '{{.State.Status}}'), 'exited');
      assert.ok(!(await netns()).some((n) => n.endsWith(peerId)), 'the dead container keeps no namespace');
      assert.equal(await httpGet('http://127.0.0.1:18285/hostname'), id.slice(0, 12));
    } finally {
      await d.docker(['rm', '-f', 'kept', 'peer']);
      await d.docker(['network', 'rm', 'keep']);
    }
    assert.deepEqual(await netns(), []);
    const table = await run('nft', ['list', 'chain', 'ip', `berth-${bridgeOf(d.dir)}`, 'publish']);
    assert.doesNotMatch(table.stdout, /dnat/);
  });
});
