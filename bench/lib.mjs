// Shared helpers of Berth's benchmarks: start/stop the daemons under test (berthd, and Debian's dockerd as the
// reference), run the docker CLI against them, time things, and print the comparison table.
//
// Everything a run makes lives under one private temp dir per daemon, and is removed on every way out: normal
// end, exception, SIGINT/SIGTERM (async, orderly), and process exit (sync, last resort). A run killed with SIGKILL
// cannot clean up; the next run reaps what it left (see reapStale).
//
// Environment:
//   BENCH_ONLY=docker|berth   measure one side only (BENCH_ONLY=docker while berthd is not ready)
//   BENCH_TMPDIR=<dir>        where the daemons' temp dirs go (default: the OS temp dir)
//   BENCH_CACHE=<dir>         where generated image tars are cached (default: <temp>/berth-bench-cache)
//   BENCH_DOCKER_CLI=<path>   the docker CLI used against BOTH daemons (default: `docker` on PATH)
//   BENCH_BERTHD=<path>       berthd entry point (default: <repo>/dist/berthd.js)
//   BENCH_DOCKERD=<path>, BENCH_CONTAINERD=<path>   reference engine binaries (default: found on PATH)
//   BENCH_KEEP_LOGS=1         copy each daemon's log to <temp>/berth-bench-logs/ before its dir is removed
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, copyFileSync, accessSync, constants as fsc, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TMP_BASE = resolve(process.env.BENCH_TMPDIR || tmpdir());
export const CACHE_DIR = resolve(process.env.BENCH_CACHE || join(TMP_BASE, 'berth-bench-cache'));
const DIR_PREFIX = 'bbench-';

// ---------------------------------------------------------------------------------------------------------------
// Small utilities

export function which(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd) ? resolve(cmd) : null;
  const dirs = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(extra)) dirs.push(extra);
  for (const d of dirs) {
    const p = join(d, cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p) {
  try {
    accessSync(p, fsc.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function cmdlineOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function log(...a) {
  process.stderr.write(`[bench] ${a.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: every live daemon handle is registered here until it has been stopped.

const live = new Set();
let exiting = false;

function emergencyCleanup() {
  for (const h of live) {
    try {
      h.cleanupSync();
    } catch {
      /* best effort on the way out */
    }
  }
  live.clear();
}

async function orderlyCleanup() {
  await Promise.allSettled([...live].map((h) => h.stop()));
}

function onSignal(sig) {
  if (exiting) {
    // Second signal: no more waiting.
    emergencyCleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  }
  exiting = true;
  log(`${sig}: stopping daemons and removing temp dirs…`);
  const hard = setTimeout(() => {
    emergencyCleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  }, 45_000);
  orderlyCleanup().finally(() => {
    clearTimeout(hard);
    emergencyCleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);
process.on('exit', emergencyCleanup);

// ---------------------------------------------------------------------------------------------------------------
// Mounts, processes and temp dirs

function decodeMountPath(s) {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or under `dir`, deepest (latest) first. */
export function mountsUnder(dir) {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = decodeMountPath(f[4]);
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out.reverse();
}

function unmountAllUnder(dir) {
  for (let round = 0; round < 8; round++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return true;
    for (const mp of mps) {
      const r = spawnSync('umount', [mp], { stdio: 'ignore' });
      if (r.status !== 0) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
    }
  }
  const left = mountsUnder(dir);
  if (left.length) log(`warning: could not unmount: ${left.join(', ')}`);
  return left.length === 0;
}

function removeDir(dir) {
  if (!unmountAllUnder(dir)) return; // never rm -rf through a live mount
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    log(`warning: could not remove ${dir}: ${e.message}`);
  }
}

/** All descendants of `pid` (from /proc/<pid>/task/<tid>/children, or a /proc scan). */
function descendants(pid) {
  const children = new Map();
  let all;
  try {
    all = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  for (const n of all) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(n));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const stack = [pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()) || []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Kill the processes whose command line names `dir` (shims and the like that outlived their parent). */
function killProcessesNaming(dir) {
  let all = [];
  try {
    all = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return;
  }
  for (const pid of all) {
    if (pid === process.pid) continue;
    const cl = cmdlineOf(pid);
    if (cl.includes(dir + '/') || cl.endsWith(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** rmdir each of `dirs` (deepest first) that exists, is empty and is no mount point. */
function removeEmptyHostDirs(dirs) {
  for (const p of dirs) {
    try {
      if (existsSync(p) && readdirSync(p).length === 0 && mountsUnder(p).length === 0) rmdirSync(p);
    } catch {
      /* not empty or already gone */
    }
  }
}

/** A private parent cgroup for one daemon's containers, and its removal (on every controller) after it stops. */
function privateCgroupParent(dir) {
  const name = `berth-bench-${dir.split('/').pop()}`;
  // Children first: dockerd's BuildKit makes a `buildkit` cgroup under the parent it is given.
  const removeTree = (path) => {
    let children = [];
    try {
      children = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory());
    } catch {
      return; // not on this controller, or already gone
    }
    for (const c of children) removeTree(join(path, c.name));
    try {
      rmdirSync(path);
    } catch {
      /* still in use */
    }
  };
  const remove = () => {
    for (const ctl of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) removeTree(join('/sys/fs/cgroup', ctl, name));
  };
  return { name, remove };
}

function makeTempDir(kind) {
  mkdirSync(TMP_BASE, { recursive: true });
  const dir = mkdtempSync(join(TMP_BASE, `${DIR_PREFIX}${kind}-`));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  return dir;
}

/** Remove what an earlier run that was SIGKILLed left behind: only our own dirs whose owner is gone. */
export function reapStale() {
  let names = [];
  try {
    names = readdirSync(TMP_BASE).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const dir = join(TMP_BASE, n);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue; // not ours, or not yet written
    }
    if (owner && isAlive(owner) && cmdlineOf(owner).includes('node')) continue;
    log(`reaping stale benchmark dir ${dir} (its run is gone)`);
    let hostDirs = [];
    try {
      hostDirs = JSON.parse(readFileSync(join(dir, 'host-dirs.json'), 'utf8'));
    } catch {
      /* none recorded */
    }
    killProcessesNaming(dir);
    spawnSync('sleep', ['0.5']);
    removeDir(dir);
    removeEmptyHostDirs(hostDirs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to a daemon socket

export function apiGet(socketPath, path, timeoutMs = 5000) {
  return new Promise((res, rej) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

async function waitForPing(socketPath, child, logFile, what, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering /_ping. Log tail:\n${tail(logFile)}`);
    }
    try {
      const r = await apiGet(socketPath, '/_ping', 2000);
      if (r.status === 200) return r;
      lastErr = `HTTP ${r.status}`;
    } catch (e) {
      lastErr = e.message;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer /_ping within ${timeoutMs / 1000}s (${lastErr}). Log tail:\n${tail(logFile)}`);
}

async function waitForSocket(path, child, logFile, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) during start-up. Log tail:\n${tail(logFile)}`);
    }
    if (existsSync(path)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not create ${path} within ${timeoutMs / 1000}s. Log tail:\n${tail(logFile)}`);
}

function spawnDaemon(cmd, args, logFile) {
  const fd = openSync(logFile, 'a');
  // detached: own process group, so a terminal ^C reaches only us and we stop the daemons in order.
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => {}); // reported through exitCode / waitFor*
  return child;
}

function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

async function terminate(child, what, graceMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGTERM');
  } catch {
    return;
  }
  if (await waitExit(child, graceMs)) return;
  log(`${what} did not stop within ${graceMs / 1000}s of SIGTERM: SIGKILL`);
  try {
    child.kill('SIGKILL');
  } catch {
    /* gone */
  }
  await waitExit(child, 5000);
}

function killSync(child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function keepLog(file, name) {
  if (!process.env.BENCH_KEEP_LOGS) return;
  try {
    const d = join(TMP_BASE, 'berth-bench-logs');
    mkdirSync(d, { recursive: true });
    copyFileSync(file, join(d, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`));
  } catch {
    /* no log */
  }
}

/**
 * Builds the handle common to both daemons. `procs` is the list of child processes in stop order (the daemon
 * first, then what it depends on).
 */
function makeHandle({ name, dir, socketPath, procs, logFiles, afterStop = () => {} }) {
  let stopping = null;
  const handle = {
    name,
    dir,
    socketPath,
    host: `unix://${socketPath}`,
    /** The daemon process itself (dockerd, berthd). */
    get pid() {
      return procs[0]?.child.pid;
    },
    /** The engine's processes now: its own processes and all their descendants. */
    enginePids() {
      const roots = procs.map((p) => p.child.pid).filter((p) => p && isAlive(p));
      return [...new Set(roots.flatMap((p) => [p, ...descendants(p)]))];
    },
    stop() {
      if (!stopping) {
        stopping = (async () => {
          for (const p of procs) await terminate(p.child, p.what);
          killProcessesNaming(dir); // anything that outlived its parent (shims)
          for (const [n, f] of Object.entries(logFiles)) keepLog(f, n);
          removeDir(dir);
          afterStop();
          live.delete(handle);
        })();
      }
      return stopping;
    },
    cleanupSync() {
      for (const p of procs) killSync(p.child);
      killProcessesNaming(dir);
      spawnSync('sleep', ['0.2']);
      removeDir(dir);
      afterStop();
    },
  };
  live.add(handle);
  return handle;
}

// ---------------------------------------------------------------------------------------------------------------
// The daemons

export function berthdPath() {
  return resolve(process.env.BENCH_BERTHD || join(REPO, 'dist', 'berthd.js'));
}

export function assertBerthdBuilt() {
  const p = berthdPath();
  if (!existsSync(p)) {
    throw new Error(
      `berthd is not built: ${p} does not exist.\n` +
        `  Run \`npm run build\` in ${REPO} first, or set BENCH_ONLY=docker to measure the reference engine alone.`,
    );
  }
  return p;
}

/** Starts berthd on a private data root, exec root and socket. Throws if dist/berthd.js is missing. */
export async function startBerthd() {
  const entry = assertBerthdBuilt();
  reapStale();
  const dir = makeTempDir('berth');
  const socketPath = join(dir, 'berth.sock');
  const logFile = join(dir, 'berthd.log');
  const configFile = join(dir, 'daemon.json');
  writeFileSync(configFile, '{}\n'); // never pick up the host's /etc/berth/daemon.json
  const cgroup = privateCgroupParent(dir);
  // Its own default bridge (never a berth0 the host may use), removed afterwards with its nftables table.
  const bridge = `bb${dir.split('/').pop().slice(-6)}`;
  const network = networkRestorer({ bridges: [bridge], nftTables: [`ip berth-${bridge}`], netnsPrefix: `berth-${bridge}-` });
  const args = [
    entry,
    '--bridge', bridge,
    '--cgroup-parent', cgroup.name,
    '--data-root', join(dir, 'root'),
    '--exec-root', join(dir, 'run'),
    '-H', `unix://${socketPath}`,
    '--pidfile', join(dir, 'berthd.pid'),
    '--config-file', configFile,
  ];
  const child = spawnDaemon(process.execPath, args, logFile);
  const afterStop = () => {
    cgroup.remove();
    network.restore();
  };
  const handle = makeHandle({ name: 'berth', dir, socketPath, procs: [{ child, what: 'berthd' }], logFiles: { berthd: logFile }, afterStop });
  try {
    await waitForPing(socketPath, child, logFile, 'berthd');
    handle.version = await daemonVersion(socketPath);
    return handle;
  } catch (e) {
    await handle.stop();
    throw e;
  }
}

/**
 * Starts Debian's containerd + dockerd (the reference engine) on private roots and sockets, with every host-wide
 * network side effect turned off, unless `bridge` (networking benchmarks): then with docker0, its iptables rules and
 * docker-proxy, all put back as they were (iptables-save/restore) once it stops. Returns null if dockerd is not
 * installed.
 */
export async function startDockerd({ bridge = false } = {}) {
  const dockerd = which(process.env.BENCH_DOCKERD || 'dockerd');
  const containerd = which(process.env.BENCH_CONTAINERD || 'containerd');
  if (!dockerd || !containerd) return null;
  reapStale();
  const dir = makeTempDir('docker');
  const cdir = join(dir, 'containerd');
  mkdirSync(cdir);
  const ctrSock = join(cdir, 'containerd.sock');
  const ctrConfig = join(cdir, 'config.toml');
  // containerd 1.6, config version 2. Everything under our dir; no CRI plugin (it would set up CNI, stream server).
  writeFileSync(
    ctrConfig,
    [
      'version = 2',
      `root = "${join(cdir, 'root')}"`,
      `state = "${join(cdir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${ctrSock}"`,
      '[ttrpc]',
      `  address = "${ctrSock}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins]',
      '  [plugins."io.containerd.internal.v1.opt"]',
      `    path = "${join(cdir, 'opt')}"`,
      '',
    ].join('\n'),
  );
  const socketPath = join(dir, 'docker.sock');
  const dockerConfig = join(dir, 'daemon.json');
  // Never pick up the host's /etc/docker/daemon.json, and keep dockerd 20.10's trust key out of /etc/docker.
  writeFileSync(dockerConfig, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }) + '\n');
  const ctrLog = join(dir, 'containerd.log');
  const dLog = join(dir, 'dockerd.log');

  // dockerd 20.10 hard-codes its plugins' exec root to /run/docker/plugins (no flag moves it): remove those dirs
  // afterwards if this run created them and they are empty.
  const hostDirs = ['/run/docker/plugins', '/run/docker'].filter((p) => !existsSync(p));
  writeFileSync(join(dir, 'host-dirs.json'), JSON.stringify(hostDirs)); // for reapStale, should this run be killed
  const cgroup = privateCgroupParent(dir);
  const network = bridge ? networkRestorer({ bridges: ['docker0'], iptables: true }) : undefined;
  const afterStop = () => {
    removeEmptyHostDirs(hostDirs);
    cgroup.remove();
    network?.restore();
  };
  const procs = [];
  const handle = makeHandle({ name: 'docker', dir, socketPath, procs, logFiles: { containerd: ctrLog, dockerd: dLog }, afterStop });
  try {
    const ctr = spawnDaemon(containerd, ['--config', ctrConfig], ctrLog);
    procs.push({ child: ctr, what: 'containerd' });
    await waitForSocket(ctrSock, ctr, ctrLog, 'containerd');
    const dArgs = [
      `--containerd=${ctrSock}`,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '-H', `unix://${socketPath}`,
      '--pidfile', join(dir, 'dockerd.pid'),
      '--config-file', dockerConfig,
      '--cgroup-parent', cgroup.name,
      // Leave the host's network alone: no docker0 bridge, no iptables/ip6tables rules, no NAT, and no
      // net.ipv4.ip_forward=1 (dockerd 20.10's bridge driver sets that sysctl at start-up unless told not to).
      ...(bridge ? [] : ['--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false']),
    ];
    const d = spawnDaemon(dockerd, dArgs, dLog);
    procs.unshift({ child: d, what: 'dockerd' }); // stop dockerd before containerd; handle.pid is now dockerd's
    await waitForPing(socketPath, d, dLog, 'dockerd');
    handle.version = await daemonVersion(socketPath);
    return handle;
  } catch (e) {
    await handle.stop();
    throw e;
  }
}

async function daemonVersion(socketPath) {
  try {
    const v = JSON.parse((await apiGet(socketPath, '/version')).body);
    const info = JSON.parse((await apiGet(socketPath, '/info')).body);
    return `${v.Version ?? '?'} (API ${v.ApiVersion ?? '?'}, storage ${info.Driver ?? '?'})`;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Host state guard: the reference engine must not leave bridges, rules or sysctls behind.

/**
 * Records the host's network state a daemon is about to change (ip_forward, and the iptables rules when asked) and
 * gives `restore()`, which also deletes the bridges and nftables tables the daemon makes and keeps after a stop.
 */
function networkRestorer({ bridges = [], nftTables = [], iptables = false, netnsPrefix }) {
  const ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const saved = iptables ? ['iptables', 'ip6tables'].map((t) => [t, spawnSync(`${t}-save`, { encoding: 'utf8' }).stdout]) : [];
  // With iptables-nft, a host with no rules has no tables at all (an empty save, nothing to restore): the tables
  // dockerd's rules created are deleted instead.
  const nftTablesNow = () => spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout?.split('\n').map((l) => l.replace(/^table /, '').trim()).filter(Boolean) ?? [];
  const iptTables = /^ip6? (filter|nat|mangle|raw|security)$/;
  const nftBefore = iptables ? new Set(nftTablesNow()) : new Set();
  return {
    restore() {
      // Namespaces of containers that outlived a daemon stopped mid-run.
      if (netnsPrefix) for (const n of existsSync('/run/netns') ? readdirSync('/run/netns') : []) if (n.startsWith(netnsPrefix)) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      for (const b of bridges) spawnSync('ip', ['link', 'del', b], { stdio: 'ignore' });
      for (const t of nftTables) spawnSync('nft', ['delete', 'table', ...t.split(' ')], { stdio: 'ignore' });
      for (const [t, rules] of saved) if (rules) spawnSync(`${t}-restore`, { input: rules, stdio: ['pipe', 'ignore', 'ignore'] });
      if (iptables) for (const t of nftTablesNow()) if (iptTables.test(t) && !nftBefore.has(t)) spawnSync('nft', ['delete', 'table', ...t.split(' ')], { stdio: 'ignore' });
      writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForward);
    },
  };
}

export function hostNetState() {
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : `(${cmd} unavailable)`;
  };
  const links = run('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => l.split(':')[1]?.trim())
    .filter(Boolean)
    .sort()
    .join(' ');
  let ipForward = '?';
  try {
    ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  } catch {
    /* no procfs */
  }
  return {
    links,
    ipForward,
    iptables: ['filter', 'nat', 'mangle', 'raw'].map((t) => run('iptables', ['-t', t, '-S'])).join(''),
    nftTables: run('nft', ['list', 'tables']).split('\n').sort().join('\n'),
    ip6tables: ['filter', 'nat'].map((t) => run('ip6tables', ['-t', t, '-S'])).join(''),
  };
}

export function diffHostNetState(before, after) {
  const out = [];
  for (const k of Object.keys(before)) if (before[k] !== after[k]) out.push(`${k} changed:\n  before: ${before[k].trim()}\n  after:  ${after[k].trim()}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The docker CLI, used unchanged against both daemons

export function dockerCli() {
  const p = which(process.env.BENCH_DOCKER_CLI || 'docker');
  if (!p) throw new Error('no docker CLI found (set BENCH_DOCKER_CLI)');
  return p;
}

let cliEnvCache = null;
function cliEnv() {
  if (cliEnvCache) return cliEnvCache;
  const env = { ...process.env };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION', 'DOCKER_CLI_HINTS']) delete env[k];
  // An empty private CLI config: no contexts, credential helpers or plugins of the host's user get in the way.
  const cfg = join(CACHE_DIR, 'cli-config');
  mkdirSync(cfg, { recursive: true });
  env.DOCKER_CONFIG = cfg;
  env.DOCKER_CLI_HINTS = 'false';
  cliEnvCache = env;
  return env;
}

/**
 * Runs `docker -H <host> ...args`; resolves { ms, stdout, stderr }; rejects on a non-zero exit. The time is wall
 * time of the whole CLI process, measured from spawn to exit.
 */
export function docker(daemon, args, { allowFail = false, timeoutMs = 600_000 } = {}) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(dockerCli(), ['-H', daemon.host, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0 && !allowFail) {
        rej(new Error(`docker ${args.join(' ')} against ${daemon.name} failed (${code ?? signal}): ${stderr.trim() || stdout.trim()}`));
      } else res({ ms, stdout, stderr, code });
    });
  });
}

export function syncDisks() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------------------------
// Timing and memory

export function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { n, median, min: s[0], max: s[n - 1], values };
}

/** Calls `fn(i)` n times (after `warmup` untimed calls); fn resolves to a duration in ms, or is timed here. */
export async function repeat(n, fn, { warmup = 0, before } = {}) {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const times = [];
  for (let i = 0; i < n; i++) {
    if (before) await before(i);
    const t0 = process.hrtime.bigint();
    const r = await fn(i);
    times.push(typeof r === 'number' ? r : typeof r?.ms === 'number' ? r.ms : Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return stats(times);
}

/** Times `docker -H <host> ...args` n times; median/min/max in ms. */
export function timeDocker(daemon, args, n, opts = {}) {
  return repeat(n, () => docker(daemon, args), opts);
}

function statusKiB(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `fn` while watching the daemon's memory. Returns { result, hwmMiB, treePeakMiB }:
 *  - hwmMiB: the daemon process's VmHWM (peak RSS) over the run, exact: the high-water mark is reset first
 *    through /proc/<pid>/clear_refs ("5"); null if that reset is not possible (the mark would be since start).
 *  - treePeakMiB: the peak of the summed RSS of all the engine's processes (for Docker: dockerd + containerd +
 *    their children), sampled every 20 ms, so an approximation from below.
 */
export async function withPeakRss(daemon, fn) {
  let resetOk = false;
  try {
    writeFileSync(`/proc/${daemon.pid}/clear_refs`, '5');
    resetOk = true;
  } catch {
    /* old kernel or not permitted */
  }
  let treePeak = 0;
  let pids = daemon.enginePids();
  let tick = 0;
  const sample = () => {
    if (tick++ % 25 === 0) pids = daemon.enginePids(); // a /proc scan twice a second, cheap reads in between
    let sum = 0;
    for (const p of pids) sum += statusKiB(p, 'VmRSS');
    if (sum > treePeak) treePeak = sum;
  };
  sample();
  const timer = setInterval(sample, 20);
  try {
    const result = await fn();
    sample();
    return { result, hwmMiB: resetOk ? statusKiB(daemon.pid, 'VmHWM') / 1024 : null, treePeakMiB: treePeak / 1024 };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The table

function fmtValue(v, unit) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (typeof v === 'string') return v;
  if (unit === 'ms') {
    if (v >= 10_000) return `${(v / 1000).toFixed(2)} s`;
    if (v >= 100) return `${v.toFixed(0)} ms`;
    return `${v.toFixed(1)} ms`;
  }
  if (unit === 'MiB') return `${v.toFixed(v >= 100 ? 0 : 1)} MiB`;
  return `${v} ${unit ?? ''}`.trim();
}

/**
 * rows: [{ name, unit, berth, docker }] where berth/docker are numbers (smaller is better: times, memory) or a
 * string such as 'skipped' / 'error'. ratio = docker / berth: > 1 means Berth is faster (or smaller).
 */
export function formatTable(rows) {
  const header = ['benchmark', 'berth', 'docker', 'ratio (docker/berth, >1 = Berth faster)'];
  const body = rows.map((r) => {
    const ok = typeof r.berth === 'number' && typeof r.docker === 'number' && r.berth > 0;
    return [r.name, fmtValue(r.berth, r.unit), fmtValue(r.docker, r.unit), ok ? `${(r.docker / r.berth).toFixed(2)}x` : '—'];
  });
  const w = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((n, i) => (i === 0 ? ':' + '-'.repeat(n + 1) : '-'.repeat(n + 1) + ':')).join('|')}|`;
  return [line(header), sep, ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// A suite: each benchmark runs against one daemon at a time (never both at once, so they do not compete for the
// 2 cores), Berth first, then Docker; each daemon is started fresh for the suite and stopped after it.
//
// A benchmark is { name, prepare?(): Promise<void>, run(daemon): Promise<row[]> } where a row is
// { name, unit, value }. prepare() (e.g. generating a tar) runs once, before any daemon starts.

export function sideSelection() {
  const only = (process.env.BENCH_ONLY || '').trim().toLowerCase();
  if (only && only !== 'docker' && only !== 'berth') throw new Error(`BENCH_ONLY must be "docker" or "berth", not "${only}"`);
  return { berth: only !== 'docker', docker: only !== 'berth' };
}

export async function runSuite(title, benchmarks) {
  const sides = sideSelection();
  if (sides.berth) assertBerthdBuilt(); // fail before spending minutes on Docker
  const notes = [];
  const rows = [];
  const rowByName = new Map();
  const cell = (name, unit) => {
    if (!rowByName.has(name)) {
      const r = { name, unit };
      rowByName.set(name, r);
      rows.push(r);
    }
    return rowByName.get(name);
  };
  let failed = false;
  const missing = { berth: '—', docker: '—' }; // what an empty cell of a side says

  for (const b of benchmarks) if (b.prepare) await b.prepare();

  // Paired benchmarks run with both daemons up and alternate between them round by round: this VM's speed drifts
  // by half within minutes, and a ratio near its goal must not depend on which side ran in the faster spell.
  // A benchmark that can also run one side at a time (`run`) does so when only one side is asked for.
  const isPaired = (b) => b.runPaired && (!b.run || (sides.berth && sides.docker));
  const paired = benchmarks.filter(isPaired);
  if (paired.length) {
    const result = await runPaired(paired, sides);
    failed ||= result.failed;
    notes.push(...result.notes);
    for (const r of result.rows) Object.assign(cell(r.name, r.unit), r.cells);
  }

  for (const side of ['berth', 'docker']) {
    if (benchmarks.every(isPaired)) break;
    if (!sides[side]) {
      notes.push(`${side}: skipped (BENCH_ONLY=${process.env.BENCH_ONLY})`);
      missing[side] = 'skipped';
      continue;
    }
    const netBefore = hostNetState(); // neither engine may leave bridges, rules or sysctls behind
    let daemon;
    try {
      log(`starting ${side === 'berth' ? 'berthd' : 'containerd + dockerd'}…`);
      daemon = side === 'berth' ? await startBerthd() : await startDockerd({ bridge: benchmarks.some((b) => b.dockerBridge) });
    } catch (e) {
      failed = true;
      notes.push(`${side}: could not start the daemon: ${e.message}`);
      missing[side] = 'error';
      continue;
    }
    if (!daemon) {
      notes.push('docker: not available (dockerd/containerd not installed): run `bash scripts/install-docker-reference.sh` for the baseline');
      missing[side] = 'n/a';
      continue;
    }
    notes.push(`${side}: ${side === 'berth' ? 'berthd' : 'dockerd'} ${daemon.version}`);
    try {
      for (const b of benchmarks) {
        if (isPaired(b)) continue;
        if (exiting) break;
        log(`${side}: ${b.name}…`);
        try {
          for (const r of await b.run(daemon)) cell(r.name, r.unit)[side] = r.value;
        } catch (e) {
          failed = true;
          notes.push(exiting ? `${side}: ${b.name} interrupted` : `${side}: ${b.name} failed: ${e.message}`);
          for (const n of b.rowNames ?? []) cell(n.name, n.unit)[side] = 'error';
        }
      }
    } finally {
      await daemon.stop();
    }
    if (netBefore) {
      const diff = diffHostNetState(netBefore, hostNetState());
      if (diff.length) {
        failed = true;
        notes.push(`${side}: WARNING: the host's network state changed during the run:\n${diff.join('\n')}`);
      }
    }
  }

  for (const r of rows) for (const side of ['berth', 'docker']) if (r[side] === undefined) r[side] = missing[side];
  const cli = spawnSync(dockerCli(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const out = [`\n${title}`, `client: ${cli} (the same CLI against both daemons)`, '', formatTable(rows), '', ...notes.map((n) => `- ${n}`), ''];
  process.stdout.write(out.join('\n') + '\n');
  return { rows, notes, failed };
}

/**
 * Runs benchmarks that need both daemons at once (`runPaired({ berth, docker })` returning rows with both cells),
 * the host's network state checked around the pair.
 */
async function runPaired(benchmarks, sides) {
  const notes = [];
  const rows = [];
  const fill = (value) => {
    for (const b of benchmarks) for (const n of b.rowNames ?? []) rows.push({ ...n, cells: { berth: value, docker: value } });
  };
  if (!sides.berth || !sides.docker) {
    notes.push(`${benchmarks.map((b) => b.name).join(', ')}: skipped (needs both daemons; BENCH_ONLY=${process.env.BENCH_ONLY})`);
    fill('skipped');
    return { rows, notes, failed: false };
  }
  const netBefore = hostNetState();
  const daemons = {};
  let failed = false;
  try {
    log('starting berthd, containerd + dockerd (paired)…');
    daemons.berth = await startBerthd();
    daemons.docker = await startDockerd({ bridge: benchmarks.some((b) => b.dockerBridge) });
    if (!daemons.docker) {
      notes.push(`${benchmarks.map((b) => b.name).join(', ')}: docker not available`);
      fill('n/a');
      return { rows, notes, failed: false };
    }
    notes.push(`paired: berthd ${daemons.berth.version} and dockerd ${daemons.docker.version}, up together, alternating round by round`);
    for (const b of benchmarks) {
      if (exiting) break;
      log(`paired: ${b.name}…`);
      try {
        rows.push(...(await b.runPaired(daemons)));
      } catch (e) {
        failed = true;
        notes.push(`${b.name} failed: ${e.message}`);
        for (const n of b.rowNames ?? []) rows.push({ ...n, cells: { berth: 'error', docker: 'error' } });
      }
    }
  } catch (e) {
    failed = true;
    notes.push(`paired: could not start the daemons: ${e.message}`);
    fill('error');
  } finally {
    await daemons.docker?.stop();
    await daemons.berth?.stop();
  }
  if (netBefore) {
    const diff = diffHostNetState(netBefore, hostNetState());
    if (diff.length) {
      failed = true;
      notes.push(`paired: WARNING: the host's network state changed during the run:\n${diff.join('\n')}`);
    }
  }
  return { rows, notes, failed };
}

/** Entry point of a benchmark script: runs the suite, turns a setup error into a message (no stack), sets exit code. */
export async function main(title, benchmarks) {
  try {
    const { failed } = await runSuite(title, benchmarks);
    process.exitCode = failed ? 1 : 0;
  } catch (e) {
    process.stderr.write(`\nbench: ${e.message}\n`);
    process.exitCode = 2;
  }
}

/** True when the calling module is the script node was started with. */
export function isMain(importMetaUrl) {
  return process.argv[1] && resolve(process.argv[1]) === fileURLToPath(importMetaUrl);
}
