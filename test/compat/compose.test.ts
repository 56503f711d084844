// docker-compose (Debian's 1.29, installed by scripts/test.sh) against berthd: up with a healthcheck gating a
// dependent service, ps, logs, exec, run --rm, restart, stop and down; and the seed's networked project: a
// user-defined network with ipam config, a fixed ipv4_address, a published port, names between services.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';
import { httpGet, httpGetIn } from '../harness/net.js';

const project = `version: "3.8"
services:
  web:
    image: busybox
    command: sh -c 'echo web up; trap "exit 0" TERM; sleep 300 & wait'
    network_mode: none
    environment:
      - GREETING=hello
    labels:
      team: blue
    healthcheck:
      test: ["CMD", "true"]
      interval: 200ms
  worker:
    image: busybox
    command: sh -c 'echo worker up; trap "exit 0" TERM; sleep 300 & wait'
    network_mode: none
    depends_on:
      web:
        condition: service_healthy
`;

describe('docker-compose', () => {
  let d: Daemon;
  let dir: string;
  const compose = (args: string[], cwd = dir) => run('docker-compose', ['--project-directory', cwd, '-f', join(cwd, 'docker-compose.yml'), ...args], { env: { DOCKER_HOST: d.host } });

  before(async () => {
    d = await startDaemon();
    dir = join(d.dir, 'demo');
    await mkdir(dir);
    await writeFile(join(dir, 'docker-compose.yml'), project);
  });
  after(async () => {
    await compose(['down']).catch(() => {});
    await d?.destroy();
  });

  it('up waits for the healthy dependency; ps, logs, exec and run --rm work', async () => {
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    const ps = await compose(['ps']);
    assert.match(ps.stdout, /demo_web_1 .* Up \(healthy\)/);
    assert.match(ps.stdout, /demo_worker_1 .* Up/);
    const logs = await compose(['logs', '--no-color']);
    assert.match(logs.stdout, /web_1 +\| web up/);
    assert.match(logs.stdout, /worker_1 +\| worker up/);
    const exec = await compose(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING']);
    assert.equal(exec.stdout, 'hello\n', exec.stderr);
    const once = await compose(['run', '--rm', 'web', 'echo', 'one-off']);
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /one-off/);
    const labels = await d.docker(['inspect', '--format', '{{index .Config.Labels "team"}} {{index .Config.Labels "com.docker.compose.service"}}', 'demo_web_1']);
    assert.equal(labels.stdout.trim(), 'blue web');
  });

  it('restart, stop and down', async () => {
    assert.equal((await compose(['restart', 'web'])).code, 0);
    const stop = await compose(['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match((await compose(['ps'])).stdout, /demo_web_1 .* Exit 0/);
    const down = await compose(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '');
  });

  it("a networked project: the seed's ipam config and ipv4_address, names between services, a published port; down removes the network", async () => {
    const other = join(d.dir, 'networked');
    await mkdir(other);
    await writeFile(
      join(other, 'docker-compose.yml'),
      [
        'version: "3.8"',
        'services:',
        '  web:',
        '    image: busybox',
        '    command: httpd -f -p 80 -h /etc',
        '    init: true',
        '    ports: ["18390:80"]',
        '    networks:',
        '      app:',
        '        ipv4_address: 10.215.0.10',
        '  client:',
        '    image: busybox',
        '    command: sleep 300',
        '    init: true',
        '    networks: [app]',
        'networks:',
        '  app:',
        '    ipam:',
        '      config:',
        '        - subnet: 10.215.0.0/24',
        '',
      ].join('\n'),
    );
    try {
      const up = await compose(['up', '-d'], other);
      assert.equal(up.code, 0, up.stderr);
      assert.equal((await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.networked_app.IPAddress}}', 'networked_web_1'])).stdout.trim(), '10.215.0.10');
      const byName = await compose(['exec', '-T', 'client', 'sh', '-c', `nslookup web | grep "Address: 10"; ${httpGetIn('web', '/hostname')}`], other);
      assert.match(byName.stdout, /Address: 10\.215\.0\.10/, byName.stderr);
      const webId = (await d.docker(['inspect', '-f', '{{.Id}}', 'networked_web_1'])).stdout.trim();
      assert.match(byName.stdout, new RegExp(webId.slice(0, 12)));
      let published = '';
      for (let i = 0; i < 20 && !published; i++) published = await httpGet('http://127.0.0.1:18390/hostname', { timeoutMs: 1000 });
      assert.equal(published, webId.slice(0, 12));
    } finally {
      const down = await compose(['down'], other);
      assert.equal(down.code, 0, down.stderr);
    }
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '');
    assert.equal((await d.docker(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout, '');
  });
});
