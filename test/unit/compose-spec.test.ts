// Compose's mapping of a service onto the Engine API's ContainerCreate, and the config hash that decides recreation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceHash } from '../../src/compose/labels.js';
import { containerCreateBody, fileTarget } from '../../src/compose/spec.js';
import type { Project, ServiceConfig } from '../../src/compose/types.js';

const project = (services: Record<string, ServiceConfig>): Project => ({
  name: 'demo',
  workingDir: '/srv/demo',
  configFiles: ['/srv/demo/compose.yaml'],
  services,
  disabledServices: {},
  networks: { default: { name: 'demo_default' }, back: { name: 'demo_back' } },
  volumes: { data: { name: 'demo_data' } },
  secrets: { token: { name: 'demo_token', file: '/srv/demo/token' } },
  configs: {},
});

describe('compose container spec', () => {
  it('maps ports, volumes, networks, healthcheck, restart, resources and labels as Compose does', () => {
    const web: ServiceConfig = {
      name: 'web',
      image: 'busybox',
      command: ['httpd', '-f'],
      environment: { A: '1', UNSET: null },
      ports: [{ target: 80, published: '8080', protocol: 'tcp', mode: 'ingress', host_ip: '127.0.0.1' }],
      volumes: [
        { type: 'volume', source: 'data', target: '/data', read_only: true },
        { type: 'bind', source: '/srv/demo/conf', target: '/conf', bind: { create_host_path: true } },
        { type: 'volume', target: '/cache' },
      ],
      networks: { back: { aliases: ['api'], ipv4_address: '10.1.0.5', priority: 10 }, default: null },
      healthcheck: { test: ['CMD', 'true'], interval: '1m30s', retries: 3 },
      restart: 'on-failure:5',
      deploy: { resources: { limits: { memory: '64m', cpus: '0.5' } } },
      secrets: [{ source: 'token' }],
      stop_grace_period: '20s',
    };
    const body = containerCreateBody(project({ web }), web, { name: 'demo-web-1', number: 1, imageId: 'sha256:abc', containerOf: (s) => `demo-${s}-1` }, 'busybox') as Record<string, any>;
    assert.deepEqual(body['Env'], ['A=1']);
    assert.deepEqual(body['Cmd'], ['httpd', '-f']);
    assert.deepEqual(body['ExposedPorts'], { '80/tcp': {} });
    assert.equal(body['StopTimeout'], 20);
    assert.deepEqual(body['Healthcheck'], { Test: ['CMD', 'true'], Interval: 90e9, Retries: 3 });
    const host = body['HostConfig'];
    assert.deepEqual(host.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
    assert.deepEqual(host.Binds, ['/srv/demo/conf:/conf', '/srv/demo/token:/run/secrets/token:ro']);
    assert.deepEqual(host.Mounts, [
      { Type: 'volume', Source: 'demo_data', Target: '/data', ReadOnly: true },
      { Type: 'volume', Target: '/cache' },
    ]);
    assert.deepEqual(host.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 5 });
    assert.equal(host.Memory, 64 * 1024 * 1024);
    assert.equal(host.NanoCpus, 5e8);
    // the highest priority network is the primary one
    assert.equal(host.NetworkMode, 'demo_back');
    assert.deepEqual(body['NetworkingConfig'].EndpointsConfig, {
      demo_back: { Aliases: ['web', 'api'], IPAMConfig: { IPv4Address: '10.1.0.5' } },
      demo_default: { Aliases: ['web'] },
    });
    const labels = body['Labels'];
    assert.equal(labels['com.docker.compose.project'], 'demo');
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.equal(labels['com.docker.compose.oneoff'], 'False');
    assert.equal(labels['com.docker.compose.image'], 'sha256:abc');
    assert.equal(labels['com.docker.compose.project.config_files'], '/srv/demo/compose.yaml');
  });

  it('network_mode service:x joins that service container; volumes_from names its container', () => {
    const side: ServiceConfig = { name: 'side', image: 'busybox', network_mode: 'service:web', volumes_from: ['web:ro', 'container:other'] };
    const body = containerCreateBody(project({ side }), side, { name: 'demo-side-1', number: 1, containerOf: (s) => `demo-${s}-1` }, 'busybox') as Record<string, any>;
    assert.equal(body['HostConfig'].NetworkMode, 'container:demo-web-1');
    assert.deepEqual(body['HostConfig'].VolumesFrom, ['demo-web-1:ro', 'other']);
    assert.equal(body['NetworkingConfig'], undefined);
  });

  it('secrets land under /run/secrets, configs at /, absolute targets as given', () => {
    assert.equal(fileTarget({ source: 'a' }, 'secret'), '/run/secrets/a');
    assert.equal(fileTarget({ source: 'a', target: 'b.txt' }, 'secret'), '/run/secrets/b.txt');
    assert.equal(fileTarget({ source: 'a' }, 'config'), '/a');
    assert.equal(fileTarget({ source: 'a', target: '/etc/a.conf' }, 'config'), '/etc/a.conf');
  });

  it('the config hash ignores key order, scale, profiles, dependencies and build; a real change changes it', () => {
    const a: ServiceConfig = { name: 'web', image: 'busybox', environment: { A: '1', B: '2' }, scale: 1 };
    const b: ServiceConfig = { environment: { B: '2', A: '1' }, image: 'busybox', name: 'web', scale: 3, profiles: ['x'], depends_on: { db: { condition: 'service_started', required: true } }, build: { context: '/x' } };
    assert.equal(serviceHash(a), serviceHash(b));
    assert.match(serviceHash(a), /^[0-9a-f]{64}$/);
    assert.notEqual(serviceHash(a), serviceHash({ ...a, environment: { A: '1', B: '3' } }));
  });
});
