// berth compose (issue 15) against a real berthd: a multi-service project with a user-defined network and a fixed
// ipv4_address, names between services, a named volume shared by two services, a published port read from the
// host's loopback, depends_on conditions (healthy, completed), a build, scaling, an override file, profiles, the
// recreate-on-change rule, one-off runs; the same file through `docker compose` (Berth's plugin) and Debian's
// docker-compose 1.29; bad input refused before anything is made.
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Daemon, type RunResult, run, startDaemon } from '../harness/daemon.js';
import { httpGet, httpGetIn } from '../harness/net.js';
import { type BerthRegistry, startBerthRegistry } from '../harness/registries.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pluginPath = join(repo, 'dist', 'docker-compose');

/** The project every client runs: `seed` fills the shared volume and ends, `web` serves it once seed is done. */
const project = (port: number, subnet: string) => `services:
  seed:
    image: busybox
    command: sh -c 'echo hello-from-volume > /srv/index.html'
    volumes: [site:/srv]
    networks: [app]
  web:
    image: busybox
    command: httpd -f -p 80 -h /srv
    init: true
    ports: ["\${WEB_PORT:-${port}}:80"]
    volumes: [site:/srv:ro]
    networks:
      app:
        ipv4_address: ${subnet}.10
    healthcheck:
      test: ["CMD", "true"]
      interval: 200ms
    depends_on:
      seed:
        condition: service_completed_successfully
  client:
    build: ./client
    command: sleep 300
    init: true
    environment:
      ROLE: base
    networks: [app]
    depends_on:
      web:
        condition: service_healthy
  debug:
    image: busybox
    command: sleep 300
    init: true
    profiles: [debug]
networks:
  app:
    ipam:
      config:
        - subnet: ${subnet}.0/24
volumes:
  site:
`;

async function writeProject(dir: string, port: number, subnet: string): Promise<void> {
  await mkdir(join(dir, 'client'), { recursive: true });
  await writeFile(join(dir, 'compose.yaml'), project(port, subnet));
  await writeFile(join(dir, 'client', 'Dockerfile'), 'FROM busybox\nRUN echo built-by-compose > /built\n');
}

/** Waits until a published port answers (the server may still be starting). */
async function fetchPublished(port: number): Promise<string> {
  let body = '';
  for (let i = 0; i < 20 && !body; i++) body = await httpGet(`http://127.0.0.1:${port}/index.html`, { timeoutMs: 1000 });
  return body;
}

describe('berth compose', () => {
  let d: Daemon;
  let dir: string;
  const compose = (args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> =>
    run(process.execPath, [join(repo, 'dist', 'berth.cjs'), 'compose', ...args], { cwd: o.cwd ?? dir, env: { BERTH_HOST: d.host, ...o.env } });
  const empty = async () => {
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '');
    assert.equal((await d.docker(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout, '');
    assert.equal((await d.docker(['volume', 'ls', '-q'])).stdout, '');
  };

  before(async () => {
    d = await startDaemon();
    dir = join(d.dir, 'shop');
    await writeProject(dir, 18401, '10.217.0');
  });
  after(async () => {
    for (const p of ['shop', 'plug', 'legacy']) await compose(['-p', p, 'down', '-v', '--remove-orphans', '--rmi', 'local'], { cwd: d.dir }).catch(() => {});
    await d?.destroy();
  });

  it('up -d: network with a fixed address, shared volume, published port, names, conditions, build; ps, logs, exec, labels', async () => {
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    for (const line of ['Network shop_app  Created', 'Volume shop_site  Created', 'Container shop-seed-1  Exited', 'Container shop-web-1  Healthy', 'Container shop-client-1  Started']) {
      assert.ok(up.stderr.includes(line), `${line} in:\n${up.stderr}`);
    }
    assert.equal(await fetchPublished(18401), 'hello-from-volume');
    assert.equal((await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.shop_app.IPAddress}}', 'shop-web-1'])).stdout.trim(), '10.217.0.10');
    const byName = await compose(['exec', '-T', 'client', 'sh', '-c', `nslookup web | grep "Address: 10"; ${httpGetIn('web', '/index.html')}; cat /built; echo $ROLE`]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.match(byName.stdout, /Address: 10\.217\.0\.10/);
    assert.match(byName.stdout, /hello-from-volume\nbuilt-by-compose\nbase\n$/);

    const ps = await compose(['ps', '-a']);
    assert.match(ps.stdout, /^NAME +IMAGE +COMMAND +SERVICE +CREATED +STATUS +PORTS\n/);
    assert.match(ps.stdout, /shop-web-1 +busybox .* web .* Up .*\(healthy\) +0\.0\.0\.0:18401->80\/tcp/);
    assert.match(ps.stdout, /shop-seed-1 .* Exited \(0\)/);
    assert.doesNotMatch(ps.stdout, /debug/);
    assert.equal((await compose(['ps', '--services'])).stdout, 'client\nweb\n');
    const logs = await compose(['logs', '--no-color', 'seed', 'web']);
    assert.equal(logs.code, 0, logs.stderr);
    const labels = await d.docker([
      'inspect',
      '-f',
      '{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{index .Config.Labels "com.docker.compose.project.working_dir"}}',
      'shop-web-1',
    ]);
    assert.equal(labels.stdout.trim(), `shop web 1 False ${dir}`);
    assert.match((await d.docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.config-hash"}}', 'shop-web-1'])).stdout, /^[0-9a-f]{64}\n$/);
    const ls = await compose(['ls']);
    assert.match(ls.stdout, new RegExp(`shop +exited\\(1\\), running\\(2\\) +${join(dir, 'compose.yaml')}`));
  });

  it('up again changes nothing; a changed service is recreated, alone; --scale, profiles, an override file', async () => {
    const idOf = async (name: string) => (await d.docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const [web, client] = [await idOf('shop-web-1'), await idOf('shop-client-1')];
    const again = await compose(['up', '-d']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await idOf('shop-web-1'), web);
    assert.equal(await idOf('shop-client-1'), client);

    // an override file in the project directory is merged in (maps merged, the environment value replaced)
    await writeFile(join(dir, 'compose.override.yaml'), 'services:\n  client:\n    environment:\n      ROLE: override\n');
    const changed = await compose(['up', '-d']);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /Container shop-client-1 {2}Recreated/);
    assert.equal(await idOf('shop-web-1'), web);
    assert.notEqual(await idOf('shop-client-1'), client);
    assert.equal((await compose(['exec', '-T', 'client', 'sh', '-c', 'echo $ROLE'])).stdout, 'override\n');

    const scaled = await compose(['up', '-d', '--scale', 'client=3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal((await compose(['ps', '-q', 'client'])).stdout.trim().split('\n').length, 3);
    assert.match((await compose(['ps', 'client'])).stdout, /shop-client-3/);
    const down1 = await compose(['up', '-d', '--scale', 'client=1']);
    assert.equal(down1.code, 0, down1.stderr);
    assert.equal((await compose(['ps', '-q', 'client'])).stdout.trim().split('\n').length, 1);

    const profiled = await compose(['--profile', 'debug', 'up', '-d', 'debug']);
    assert.equal(profiled.code, 0, profiled.stderr);
    assert.match((await compose(['ps', '--services'])).stdout, /debug/);
  });

  it('run: a one-off container with its exit code, --rm leaves nothing; exec exit codes', async () => {
    const once = await compose(['run', '--rm', '-T', 'client', 'sh', '-c', 'cat /built; exit 7']);
    assert.equal(once.code, 7, once.stderr);
    assert.match(once.stdout, /built-by-compose/);
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'label=com.docker.compose.oneoff=True'])).stdout, '');
    assert.equal((await compose(['exec', '-T', 'web', 'sh', '-c', 'exit 3'])).code, 3);
    const stopped = await compose(['stop', 'client']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match((await compose(['ps', '-a', 'client'])).stdout, /Exited/);
    const noTarget = await compose(['exec', '-T', 'client', 'true']);
    assert.equal(noTarget.code, 1);
    assert.match(noTarget.stderr, /service "client" is not running/);
  });

  it('down -v leaves no container, network or volume (and --rmi local removes the built image only)', async () => {
    const down = await compose(['--profile', 'debug', 'down', '-v', '--rmi', 'local']);
    assert.equal(down.code, 0, down.stderr);
    await empty();
    assert.equal((await d.docker(['images', '-q', 'shop-client'])).stdout, '');
    assert.notEqual((await d.docker(['images', '-q', 'busybox'])).stdout, '');
  });

  it('the same file through `docker compose` (the plugin) and through docker-compose 1.29', async () => {
    const plugins = join(d.dir, 'docker-config', 'cli-plugins');
    await mkdir(plugins, { recursive: true });
    await symlink(pluginPath, join(plugins, 'docker-compose'));
    const plug = join(d.dir, 'plug');
    await writeProject(plug, 18402, '10.218.0');
    const docker = (args: string[]) => run('docker', ['compose', ...args], { cwd: plug, env: { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') } });
    const up = await docker(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await fetchPublished(18402), 'hello-from-volume');
    assert.match((await docker(['ps'])).stdout, /plug-web-1 .*\(healthy\)/);
    const down = await docker(['down', '-v', '--rmi', 'local']);
    assert.equal(down.code, 0, down.stderr);
    await empty();

    const legacyDir = join(d.dir, 'legacy');
    await writeProject(legacyDir, 18403, '10.219.0');
    const legacy = (args: string[]) => run('docker-compose', args, { cwd: legacyDir, env: { DOCKER_HOST: d.host } });
    const up1 = await legacy(['up', '-d']);
    assert.equal(up1.code, 0, up1.stderr);
    assert.equal(await fetchPublished(18403), 'hello-from-volume');
    const named = await legacy(['exec', '-T', 'client', 'sh', '-c', `${httpGetIn('web', '/index.html')}; cat /built`]);
    assert.equal(named.stdout, 'hello-from-volume\nbuilt-by-compose\n', named.stderr);
    const down1 = await legacy(['down', '-v', '--rmi', 'local']);
    assert.equal(down1.code, 0, down1.stderr);
    await empty();
  });

  it('bad input is refused before anything is made, naming what is wrong', async () => {
    const bad = join(d.dir, 'bad');
    await mkdir(bad, { recursive: true });
    const cases: Array<[string, string, RegExp]> = [
      ['schema', 'services:\n  web:\n    image: busybox\n    bogus: 1\n', /compose\.yaml.*line 4.*services\.web.*bogus/],
      ['variable', 'services:\n  web:\n    image: "busybox:${TAG:?set TAG first}"\n', /required variable TAG is missing a value: set TAG first/],
      ['cycle', 'services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n', /dependency cycle detected: (a -> b -> a|b -> a -> b)/],
      ['context', 'services:\n  a:\n    image: busybox\n    networks: [n]\n  b:\n    build: ./missing\n    networks: [n]\nnetworks:\n  n: {}\nvolumes:\n  v: {}\n', /unable to prepare context: path ".*missing" not found/],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(bad, 'compose.yaml'), text);
      const r = await compose(['up', '-d'], { cwd: bad });
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      await empty();
    }
  });
});

describe('berth compose: the other commands', () => {
  let d: Daemon;
  let dir: string;
  const compose = (args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> =>
    run(process.execPath, [join(repo, 'dist', 'berth.cjs'), 'compose', ...args], { cwd: dir, env: { BERTH_HOST: d.host, ...o.env }, ...(o.timeoutMs && { timeoutMs: o.timeoutMs }) });

  before(async () => {
    d = await startDaemon();
    dir = join(d.dir, 'ops');
    await mkdir(dir);
    await writeFile(join(dir, 'token.txt'), 's3cret-from-file\n');
    await writeFile(
      join(dir, 'compose.yaml'),
      `x-common: &common
  image: busybox
  init: true
services:
  app:
    <<: *common
    command: sh -c 'echo app started; while sleep 0.2; do :; done'
    ports: ["18404:80"]
    secrets: [token, { source: greeting, target: hello.txt }]
    configs: [{ source: settings, target: /etc/app.conf }]
    deploy:
      resources:
        limits: { memory: 64m, cpus: "0.5" }
    labels: [tier=front]
  once:
    <<: *common
    command: sh -c 'echo once ran; exit 0'
  sidecar:
    extends: app
    ports: !reset []
    command: sh -c 'echo sidecar up; while sleep 0.2; do :; done'
secrets:
  token: { file: ./token.txt }
  greeting: { environment: GREETING }
configs:
  settings: { content: "mode=fast" }
`,
    );
  });
  after(async () => {
    await compose(['down', '-v', '--remove-orphans']).catch(() => {});
    await d?.destroy();
  });

  it('up --wait; secrets and configs from a file, the environment and content; deploy limits; extends and fragments', async () => {
    const up = await compose(['up', '-d', '--wait', 'app', 'sidecar'], { env: { GREETING: 'hi there' } });
    assert.equal(up.code, 0, up.stderr);
    const files = await compose(['exec', '-T', 'app', 'sh', '-c', 'cat /run/secrets/token /run/secrets/hello.txt; echo; cat /etc/app.conf']);
    assert.equal(files.stdout, 's3cret-from-file\nhi there\nmode=fast', files.stderr);
    const limits = await d.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{index .Config.Labels "tier"}}', 'ops-app-1', 'ops-sidecar-1']);
    assert.equal(limits.stdout, '67108864 500000000 front\n67108864 500000000 front\n');
    assert.match((await compose(['logs', '--no-color', 'sidecar'])).stdout, /^sidecar-1 +\| sidecar up$/m);
  });

  it('port, top, images, cp, pause/unpause, kill, restart, start; ps --format json; config --services; version', async () => {
    assert.equal((await compose(['port', 'app', '80'])).stdout, '0.0.0.0:18404\n');
    assert.match((await compose(['top', 'app'])).stdout, /^ops-app-1\nUID +PID +PPID .*CMD\n/);
    assert.match((await compose(['images'])).stdout, /^CONTAINER +REPOSITORY +TAG +IMAGE ID +SIZE\nops-app-1 +busybox +latest +[0-9a-f]{12} /);
    await writeFile(join(dir, 'in.txt'), 'copied in\n');
    assert.equal((await compose(['cp', join(dir, 'in.txt'), 'app:/tmp/in.txt'])).code, 0);
    assert.equal((await compose(['exec', '-T', 'app', 'cat', '/tmp/in.txt'])).stdout, 'copied in\n');
    assert.equal((await compose(['cp', 'app:/tmp/in.txt', join(dir, 'out.txt')])).code, 0);

    assert.equal((await compose(['pause', 'app'])).code, 0);
    assert.match((await compose(['ps', 'app'])).stdout, /Paused/);
    assert.equal((await compose(['unpause', 'app'])).code, 0);
    const json = (await compose(['ps', '--format', 'json', 'app'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; Service: string; State: string; Publishers: Array<{ PublishedPort: number }> });
    assert.deepEqual(json.map((c) => [c.Name, c.Service, c.State, c.Publishers[0]?.PublishedPort]), [['ops-app-1', 'app', 'running', 18404]]);

    const killed = await compose(['kill', 'sidecar']);
    assert.equal(killed.code, 0, killed.stderr);
    assert.match((await compose(['ps', '-a', 'sidecar'])).stdout, /Exited \(137\)/);
    assert.equal((await compose(['start', 'sidecar'])).code, 0);
    const before = (await d.docker(['inspect', '-f', '{{.State.StartedAt}}', 'ops-app-1'])).stdout;
    assert.equal((await compose(['restart', 'app'])).code, 0);
    assert.notEqual((await d.docker(['inspect', '-f', '{{.State.StartedAt}}', 'ops-app-1'])).stdout, before);

    assert.equal((await compose(['config', '--services'])).stdout, 'app\nonce\nsidecar\n');
    assert.match((await compose(['config'])).stdout, /^name: ops\nservices:\n {2}app:\n/);
    assert.equal((await compose(['version', '--short'])).stdout, '2.29.0\n');
  });

  it('attached up: prefixed output, --exit-code-from ends with that service; --remove-orphans; rm', async () => {
    const attached = await compose(['up', '--exit-code-from', 'once', 'once'], { timeoutMs: 60_000 });
    assert.equal(attached.code, 0, attached.stderr);
    assert.match(attached.stdout, /^Attaching to once-1\n/);
    assert.match(attached.stdout, /^once-1 +\| once ran$/m);
    assert.match(attached.stdout, /once-1 exited with code 0/);

    // a service gone from the file is an orphan: warned about, then removed with --remove-orphans
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  app:\n    image: busybox\n    init: true\n    command: sleep 300\n');
    const warned = await compose(['up', '-d']);
    assert.match(warned.stderr, /Found orphan containers \(\[.*ops-sidecar-1.*\]\)/);
    const removed = await compose(['up', '-d', '--remove-orphans']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'name=ops-sidecar-1'])).stdout, '');
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'name=ops-once-1'])).stdout, '');
    assert.equal((await compose(['stop'])).code, 0);
    const rm = await compose(['rm', '-f']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '');
  });

  it('depends_on restart: a dependency recreated restarts its dependent (same container, started again)', async () => {
    const file = (greeting: string) =>
      `services:\n  a:\n    image: busybox\n    init: true\n    command: sleep 300\n    environment: { GREETING: ${greeting} }\n  b:\n    image: busybox\n    init: true\n    command: sleep 300\n    depends_on:\n      a: { condition: service_started, restart: true }\n`;
    await writeFile(join(dir, 'compose.yaml'), file('one'));
    assert.equal((await compose(['up', '-d'])).code, 0);
    const state = async () => (await d.docker(['inspect', '-f', '{{.Id}} {{.State.StartedAt}}', 'ops-b-1'])).stdout.trim().split(' ');
    const [id, started] = await state();
    await writeFile(join(dir, 'compose.yaml'), file('two'));
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Container ops-a-1 {2}Recreated/);
    assert.match(up.stderr, /Container ops-b-1 {2}Restarting/);
    const [id2, started2] = await state();
    assert.equal(id2, id);
    assert.notEqual(started2, started);
    assert.equal((await compose(['down'])).code, 0);
  });

  it('-f elsewhere with --project-directory and --env-file; config --volumes; external network and volume outlive down -v; aliases; deploy.replicas', async () => {
    const other = join(dir, '..', 'elsewhere');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'vars.env'), 'NET_NAME=ops-external-net\nREPLICAS=2\n');
    await writeFile(
      join(other, 'stack.yaml'),
      `services:
  api:
    image: busybox
    init: true
    command: sleep 300
    deploy:
      replicas: \${REPLICAS}
    networks:
      shared:
        aliases: [backend-api]
    volumes: [keep:/data, scratch:/scratch]
  probe:
    image: busybox
    init: true
    command: sleep 300
    networks: [shared]
networks:
  shared:
    external: true
    name: \${NET_NAME}
volumes:
  keep:
    external: true
  scratch: {}
`,
    );
    const at = (args: string[]) => compose(['-f', join(other, 'stack.yaml'), '--project-directory', other, '--env-file', join(other, 'vars.env'), '-p', 'away', ...args]);
    assert.equal((await at(['config', '--volumes'])).stdout, 'keep\nscratch\n');
    const missing = await at(['up', '-d']);
    assert.notEqual(missing.code, 0, 'an external network must exist');
    assert.match(missing.stderr, /network ops-external-net declared as external, but could not be found/);
    assert.equal((await d.docker(['network', 'create', 'ops-external-net'])).code, 0);
    assert.equal((await d.docker(['volume', 'create', 'keep'])).code, 0);
    try {
      const up = await at(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      assert.equal((await at(['ps', '-q', 'api'])).stdout.trim().split('\n').length, 2, 'deploy.replicas from the env file');
      const byAlias = await at(['exec', '-T', 'probe', 'sh', '-c', 'nslookup backend-api | grep -c "^Address: [0-9]"']);
      assert.equal(byAlias.stdout.trim(), '2', `the alias names both replicas: ${byAlias.stderr}`);
      assert.equal((await at(['down', '-v'])).code, 0);
      assert.equal((await d.docker(['ps', '-aq', '--filter', 'label=com.docker.compose.project=away'])).stdout, '');
      assert.equal((await d.docker(['volume', 'ls', '-q', '--filter', 'name=scratch'])).stdout, '', 'the project volume goes');
      assert.equal((await d.docker(['volume', 'inspect', '-f', '{{.Name}}', 'keep'])).stdout, 'keep\n', 'the external volume stays');
      assert.equal((await d.docker(['network', 'inspect', '-f', '{{.Name}}', 'ops-external-net'])).stdout, 'ops-external-net\n', 'the external network stays');
    } finally {
      await at(['down', '-v']).catch(() => {});
      await d.docker(['network', 'rm', 'ops-external-net']);
      await d.docker(['volume', 'rm', 'keep']);
    }
  });

  it('attached up follows a container its restart policy restarts; --no-attach and attach: false; dockerfile_inline; --progress json', async () => {
    await writeFile(
      join(dir, 'compose.yaml'),
      `services:
  flaky:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox
        RUN echo inline-built > /origin
    command: sh -c 'echo "run $$(cat /origin)"; exit 3'
    restart: on-failure:2
  hidden:
    image: busybox
    command: echo hidden-output
  muted:
    image: busybox
    attach: false
    command: echo muted-output
`,
    );
    const up = await compose(['--progress', 'json', 'up', '--no-attach', 'hidden'], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    // three runs (the first and two restarts), each followed and its exit told
    assert.deepEqual(up.stdout.match(/^flaky-1 +\| run inline-built$/gm)?.length, 3, up.stdout);
    assert.deepEqual(up.stdout.match(/^flaky-1 exited with code 3$/gm)?.length, 3, up.stdout);
    assert.match(up.stdout, /^Attaching to flaky-1$/m);
    assert.doesNotMatch(up.stdout, /hidden-output|muted-output/);
    const progress = up.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { id: string; status: string });
    assert.ok(progress.some((e) => e.id === 'Container ops-flaky-1' && e.status === 'Started'), up.stderr);
    assert.equal((await d.docker(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'ops-flaky-1'])).stdout, '2 exited\n');
    assert.match((await compose(['logs', '--no-color', 'hidden'])).stdout, /^hidden-1 +\| hidden-output\n$/);
    assert.equal((await compose(['down', '--rmi', 'local'])).code, 0);
    assert.equal((await d.docker(['images', '-q', 'ops-flaky'])).stdout, '');
  });
});

describe('berth compose: build, push and pull through a registry; create, start, events, force-recreate, logs -f', () => {
  let d: Daemon;
  let registry: BerthRegistry;
  let dir: string;
  let image: string;
  const compose = (args: string[], o: { timeoutMs?: number } = {}): Promise<RunResult> =>
    run(process.execPath, [join(repo, 'dist', 'berth.cjs'), 'compose', ...args], { cwd: dir, env: { BERTH_HOST: d.host }, ...(o.timeoutMs && { timeoutMs: o.timeoutMs }) });

  before(async () => {
    d = await startDaemon();
    registry = await startBerthRegistry(['serve', '--addr', '127.0.0.1:0', '--root', join(d.dir, 'registry')]);
    image = `${registry.host}/shop/api:1`;
    dir = join(d.dir, 'reg');
    await mkdir(join(dir, 'api'), { recursive: true });
    await writeFile(join(dir, 'api', 'Dockerfile'), 'FROM busybox\nARG GREETING\nRUN echo $GREETING > /greeting\n');
    await writeFile(
      join(dir, 'compose.yaml'),
      `services:\n  api:\n    build:\n      context: ./api\n      args: { GREETING: from-args }\n    image: ${image}\n    init: true\n    command: sh -c 'cat /greeting; sleep 300'\n`,
    );
  });
  after(async () => {
    await compose(['down', '-v', '--rmi', 'all']).catch(() => {});
    await registry?.stop();
    await d?.destroy();
  });

  it('build with args, push to the registry, pull back after rmi', async () => {
    const build = await compose(['build']);
    assert.equal(build.code, 0, build.stderr);
    assert.equal((await d.docker(['run', '--rm', image, 'cat', '/greeting'])).stdout, 'from-args\n');
    const push = await compose(['push']);
    assert.equal(push.code, 0, push.stderr);
    const tags = (await (await fetch(`${registry.url}/v2/shop/api/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['1']);
    assert.equal((await d.docker(['rmi', image])).code, 0);
    const pull = await compose(['pull']);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal((await d.docker(['run', '--rm', image, 'cat', '/greeting'])).stdout, 'from-args\n');
  });

  it('create, then start while events are followed; up --force-recreate; logs -f follows', async () => {
    const created = await compose(['create']);
    assert.equal(created.code, 0, created.stderr);
    assert.match((await compose(['ps', '-a'])).stdout, /reg-api-1 .* Created/);
    const events = compose(['events', '--json'], { timeoutMs: 4000 });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await compose(['start'])).code, 0);
    const seen = (await events).stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; service: string });
    assert.ok(seen.some((e) => e.action === 'start' && e.service === 'api'), JSON.stringify(seen));

    const id = (await d.docker(['inspect', '-f', '{{.Id}}', 'reg-api-1'])).stdout;
    const again = await compose(['up', '-d', '--force-recreate']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Container reg-api-1 {2}Recreated/);
    assert.notEqual((await d.docker(['inspect', '-f', '{{.Id}}', 'reg-api-1'])).stdout, id);

    const follow = await compose(['logs', '-f', '--no-color'], { timeoutMs: 3000 });
    assert.match(follow.stdout, /^api-1 +\| from-args$/m);
    assert.notEqual(follow.code, 0, 'logs -f ends only when killed');
  });
});
