#!/usr/bin/env node
// Compose: `up -d` (from nothing to all 10 containers running) and `down -v` (to nothing left) of a 10-service
// stack on the busybox bench image, whole CLI process wall time, median of REPS rounds (after one untimed warm-up
// round). Both daemons are up for the whole benchmark and each round runs every client once, in turn:
//
//   Berth:  `berth compose`; `docker compose` (the docker 28 CLI running Berth's plugin, dist/docker-compose,
//           from a private DOCKER_CONFIG's cli-plugins/); Debian's docker-compose 1.29 — all against berthd.
//   Docker: Debian's docker-compose 1.29 against dockerd 20.10 (with its bridge, iptables and docker-proxy, as its
//           users run it: the stack publishes ports).
//
// So the rows compare berth compose, and the plugin (what the docker CLI's start-up and plugin hand-off add), with
// docker-compose 1.29 on dockerd; and docker-compose 1.29 on both engines (the same client: the engine's share).
//
// The stack: a default network and a second one (`backend`) that five services join too, a named volume shared by
// two services, two ports published on 127.0.0.1 (free ports the OS hands out), a depends_on chain five deep,
// environment and labels everywhere; long-running commands that stop at once on SIGTERM (tini via `init: true`,
// or a shell trap), no builds and no healthchecks (they would measure an interval, not the tool). After each `up`
// (untimed) all 10 containers must be running; before each `up` and after each `down` no container, custom
// network or volume may be left on the engine.
//
//   node bench/compose.mjs          BENCH_COMPOSE_REPS=5 BENCH_COMPOSE_V1=/usr/bin/docker-compose
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO, TMP_BASE, docker, dockerCli, isMain, log, main, stats, which } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_COMPOSE_REPS || 5);
const PROJECT = 'benchstack';
const SERVICES = 10;
const TIMEOUT_MS = 180_000;

const rows = {
  ownUp: { name: `compose up -d, ${SERVICES} services (median of ${REPS}): berth compose | docker-compose 1.29`, unit: 'ms' },
  ownDown: { name: '  down -v: berth compose | docker-compose 1.29', unit: 'ms' },
  plugUp: { name: 'compose up -d: docker compose (Berth plugin) | docker-compose 1.29', unit: 'ms' },
  plugDown: { name: '  down -v: docker compose (Berth plugin) | docker-compose 1.29', unit: 'ms' },
  v1Up: { name: 'compose up -d: docker-compose 1.29 on both', unit: 'ms' },
  v1Down: { name: '  down -v: docker-compose 1.29 on both', unit: 'ms' },
};

let archive;
let work; // { dir, project, dockerConfig }
let ports;

/** Two ports free on 127.0.0.1 now (the OS picks them); the stack publishes them on both engines. */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      await new Promise((res, rej) => s.once('error', rej).listen(0, '127.0.0.1', res));
      servers.push(s);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

function composeFile([webPort, apiPort]) {
  const sleeper = ['sleep', '3600'];
  // busybox sh as PID 1 ignores SIGTERM unless it traps it; with the trap, `wait` returns at once.
  const trapped = ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait"];
  const svc = (name, { cmd = sleeper, init = true, env = {}, deps, nets, vols, portsOf } = {}) => [
    `  ${name}:`,
    `    image: ${BUSYBOX_IMAGE}`,
    `    command: ${JSON.stringify(cmd)}`,
    ...(init ? ['    init: true'] : []),
    '    environment:',
    `      SERVICE_NAME: ${name}`,
    '      APP_ENV: bench',
    ...Object.entries(env).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
    '    labels:',
    '      org.example.stack: bench',
    `      org.example.role: ${name}`,
    ...(deps ? ['    depends_on:', ...deps.map((d) => `      - ${d}`)] : []),
    ...(nets ? ['    networks:', ...nets.map((n) => `      - ${n}`)] : []),
    ...(vols ? ['    volumes:', ...vols.map((v) => `      - ${v}`)] : []),
    ...(portsOf ? ['    ports:', ...portsOf.map((p) => `      - "${p}"`)] : []),
  ];
  const both = ['default', 'backend'];
  return [
    '# bench/compose.mjs: 10 services, two networks, one shared named volume, two published ports.',
    'services:',
    ...svc('db', { nets: both, vols: ['data:/var/lib/db'], env: { DB_NAME: 'app', DB_USER: 'app' } }),
    ...svc('cache', { nets: both, env: { CACHE_SIZE: '64m' } }),
    ...svc('queue', { nets: both, deps: ['db'], env: { QUEUE_URL: 'amqp://queue:5672' } }),
    ...svc('api', { nets: both, deps: ['queue', 'cache'], portsOf: [`127.0.0.1:${apiPort}:8080`], env: { DATABASE_URL: 'db://app@db/app', CACHE_URL: 'cache:6379' } }),
    ...svc('worker', { nets: both, deps: ['api'], env: { CONCURRENCY: '4' } }),
    ...svc('scheduler', { deps: ['worker'], cmd: trapped, init: false }),
    ...svc('web', { deps: ['api'], portsOf: [`127.0.0.1:${webPort}:80`], env: { API_URL: 'http://api:8080' } }),
    ...svc('backup', { deps: ['db'], vols: ['data:/backup/db:ro'], env: { SCHEDULE: '@daily' } }),
    ...svc('metrics', { cmd: trapped, init: false }),
    ...svc('logs', {}),
    'networks:',
    '  backend:',
    '    labels:',
    '      org.example.stack: bench',
    'volumes:',
    '  data:',
    '    labels:',
    '      org.example.stack: bench',
    '',
  ].join('\n');
}

/** The project dir (compose.yaml) and a docker CLI config whose only plugin is Berth's compose; removed on exit. */
function makeWork() {
  const dir = mkdtempSync(join(TMP_BASE, 'bbench-compose-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const project = join(dir, PROJECT);
  mkdirSync(project);
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(join(dockerConfig, 'cli-plugins'), { recursive: true });
  symlinkSync(join(REPO, 'dist', 'docker-compose'), join(dockerConfig, 'cli-plugins', 'docker-compose'));
  return { dir, project, dockerConfig };
}

/** The environment of every client: no host contexts, configs or compose settings; the engine's socket. */
function clientEnv(daemon, extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(DOCKER_|COMPOSE_|BERTH_)/.test(k)) delete env[k];
  return { ...env, DOCKER_HOST: daemon.host, BERTH_HOST: daemon.host, DOCKER_CONFIG: work.dockerConfig, DOCKER_CLI_HINTS: 'false', ...extra };
}

/** The compose clients measured: { key, what, daemon, argv (up to the subcommand), env }; docker-compose 1.29 on dockerd first. */
function clients(daemons) {
  const v1 = which(process.env.BENCH_COMPOSE_V1 || '/usr/bin/docker-compose');
  if (!v1) throw new Error('docker-compose 1.29 (the baseline) is not installed: apt-get install docker-compose');
  const { berth, docker: dockerd } = daemons;
  return [
    { key: 'base', what: 'docker-compose 1.29 on dockerd', daemon: dockerd, argv: [v1], env: clientEnv(dockerd) },
    { key: 'own', what: 'berth compose', daemon: berth, argv: [process.execPath, join(REPO, 'dist', 'berth.cjs'), 'compose'], env: clientEnv(berth) },
    { key: 'plug', what: 'docker compose (plugin)', daemon: berth, argv: [dockerCli(), 'compose'], env: clientEnv(berth) },
    { key: 'v1', what: 'docker-compose 1.29 on berthd', daemon: berth, argv: [v1], env: clientEnv(berth) },
  ];
}

/** Runs a client to its end in the project dir; resolves its wall time in ms (spawn to exit), rejects on failure. */
function timed(client, args) {
  return new Promise((res, rej) => {
    const [cmd, ...lead] = client.argv;
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, [...lead, '-p', PROJECT, ...args], { cwd: work.project, env: client.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const err = [];
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) res(ms);
      else rej(new Error(`${client.what} ${args.join(' ')} failed (${code ?? signal}): ${Buffer.concat(err).toString().trim().split('\n').slice(-4).join(' / ')}`));
    });
  });
}

/** After `up`: the project's 10 containers, all running (a broken run must not look fast). */
async function verifyUp(daemon, what) {
  const out = (await docker(daemon, ['ps', '-a', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--format', '{{.Names}} {{.State}}'])).stdout.trim();
  const lines = out ? out.split('\n') : [];
  const running = lines.filter((l) => l.endsWith(' running'));
  if (lines.length !== SERVICES || running.length !== SERVICES) throw new Error(`${what}: after up, expected ${SERVICES} running containers, found: ${out.replace(/\n/g, ', ') || 'none'}`);
}

/** Before `up` and after `down`: no container, user-defined network or volume left on the engine. */
async function verifyEmpty(daemon, what) {
  const left = [];
  const ps = (await docker(daemon, ['ps', '-aq'])).stdout.trim();
  if (ps) left.push(`containers ${ps.split('\n').join(' ')}`);
  const nets = (await docker(daemon, ['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])).stdout.trim();
  if (nets) left.push(`networks ${nets.split('\n').join(' ')}`);
  const vols = (await docker(daemon, ['volume', 'ls', '-q'])).stdout.trim();
  if (vols) left.push(`volumes ${vols.split('\n').join(' ')}`);
  if (left.length) throw new Error(`${what}: left on ${daemon.name}: ${left.join('; ')}`);
}

/** One round of a client: `up -d` then `down -v`, each timed and checked; resolves { up, down } in ms. */
async function round(client) {
  const { daemon, what } = client;
  try {
    await verifyEmpty(daemon, what);
    const up = await timed(client, ['up', '-d']);
    await verifyUp(daemon, what);
    const down = await timed(client, ['down', '-v']);
    await verifyEmpty(daemon, what);
    return { up, down };
  } catch (e) {
    // Leave the engine empty for the next client (the daemon's own teardown would remove the rest anyway).
    await timed(client, ['down', '-v', '--remove-orphans', '-t', '1']).catch(() => {});
    throw e;
  }
}

export const composeBenchmark = {
  name: 'compose',
  /** Docker with its bridge, NAT and docker-proxy: the stack publishes ports, as its users' stacks do. */
  dockerBridge: true,
  rowNames: Object.values(rows),
  async prepare() {
    archive = await busyboxArchive();
    work = makeWork();
    ports = await freePorts(2);
    writeFileSync(join(work.project, 'compose.yaml'), composeFile(ports));
  },
  /**
   * A warm-up round, then REPS rounds; each round runs every client once, in turn (both daemons are up), so a
   * spell of a slower VM falls on both sides of a ratio.
   */
  async runPaired(daemons) {
    const list = clients(daemons);
    const times = new Map(list.map((c) => [c.key, { up: [], down: [], error: undefined }]));
    for (const d of Object.values(daemons)) await docker(d, ['load', '-i', archive.path]);
    try {
      for (let i = -1; i < REPS; i++) {
        for (const c of list) {
          const t = times.get(c.key);
          if (t.error) continue;
          try {
            const m = await round(c);
            if (i < 0) continue;
            t.up.push(m.up);
            t.down.push(m.down);
          } catch (e) {
            if (c.key === 'base') throw e; // no baseline, no row
            log(`  ${c.what}: ${e.message}`);
            t.error = e;
          }
        }
      }
    } finally {
      for (const d of Object.values(daemons)) await docker(d, ['rmi', BUSYBOX_IMAGE], { allowFail: true });
    }
    const median = (key, what) => {
      const t = times.get(key);
      if (t.error) return 'error';
      const s = stats(t[what]);
      log(`  ${list.find((c) => c.key === key).what}: ${what} ${s.median.toFixed(0)} ms (${s.values.map((v) => v.toFixed(0)).join(', ')})`);
      return s.median;
    };
    const base = { up: median('base', 'up'), down: median('base', 'down') };
    return ['own', 'plug', 'v1'].flatMap((key) => [
      { ...rows[`${key}Up`], cells: { berth: median(key, 'up'), docker: base.up } },
      { ...rows[`${key}Down`], cells: { berth: median(key, 'down'), docker: base.down } },
    ]);
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: compose', [composeBenchmark]);
}
