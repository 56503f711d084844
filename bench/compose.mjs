#!/usr/bin/env node
// Compose: `up -d` (from nothing to all 10 containers running) and `down -v` (to nothing left) of a 10-service
// stack on the busybox bench image, whole CLI process wall time, median of REPS (after one untimed warm-up pair):
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

/** The compose clients measured against a daemon: { what, argv (up to the subcommand), env }. */
function clients(daemon) {
  const v1 = which(process.env.BENCH_COMPOSE_V1 || '/usr/bin/docker-compose');
  const list = [];
  if (daemon.name === 'berth') {
    list.push({ key: 'own', what: 'berth compose', argv: [process.execPath, join(REPO, 'dist', 'berth.cjs'), 'compose'], env: clientEnv(daemon) });
    list.push({ key: 'plug', what: 'docker compose (plugin)', argv: [dockerCli(), 'compose'], env: clientEnv(daemon) });
  }
  if (v1) list.push({ key: 'v1', what: 'docker-compose 1.29', argv: [v1], env: clientEnv(daemon) });
  return list;
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

/** One client: a warm-up up/down (untimed), then REPS timed `up -d` + `down -v`, each checked. */
async function measure(daemon, client) {
  const up = [];
  const down = [];
  try {
    for (let i = -1; i < REPS; i++) {
      await verifyEmpty(daemon, client.what);
      const u = await timed(client, ['up', '-d']);
      await verifyUp(daemon, client.what);
      const d = await timed(client, ['down', '-v']);
      await verifyEmpty(daemon, client.what);
      if (i >= 0) {
        up.push(u);
        down.push(d);
      }
    }
  } catch (e) {
    // Leave the engine empty for the next client (the daemon's own teardown would remove the rest anyway).
    await timed(client, ['down', '-v', '--remove-orphans', '-t', '1']).catch(() => {});
    throw e;
  }
  const u = stats(up);
  const d = stats(down);
  const list = (s) => s.values.map((v) => v.toFixed(0)).join(', ');
  log(`  ${daemon.name}, ${client.what}: up -d ${u.median.toFixed(0)} ms (${list(u)}), down -v ${d.median.toFixed(0)} ms (${list(d)})`);
  return { up: u.median, down: d.median };
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
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    const out = [];
    try {
      for (const c of clients(daemon)) {
        const pair = { own: [rows.ownUp, rows.ownDown], plug: [rows.plugUp, rows.plugDown], v1: [rows.v1Up, rows.v1Down] }[c.key];
        try {
          const m = await measure(daemon, c);
          if (daemon.name === 'docker') {
            // docker-compose 1.29 on dockerd is the baseline of every row.
            for (const [u, d] of [[rows.ownUp, rows.ownDown], [rows.plugUp, rows.plugDown], [rows.v1Up, rows.v1Down]]) out.push({ ...u, value: m.up }, { ...d, value: m.down });
          } else out.push({ ...pair[0], value: m.up }, { ...pair[1], value: m.down });
        } catch (e) {
          log(`  ${daemon.name}, ${c.what}: ${e.message}`);
          if (daemon.name === 'docker') throw e;
          out.push({ ...pair[0], value: 'error' }, { ...pair[1], value: 'error' });
        }
      }
    } finally {
      await docker(daemon, ['rmi', BUSYBOX_IMAGE], { allowFail: true });
    }
    if (daemon.name === 'docker' && out.length === 0) for (const r of Object.values(rows)) out.push({ ...r, value: 'n/a' }); // no docker-compose 1.29
    return out;
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: compose', [composeBenchmark]);
}
