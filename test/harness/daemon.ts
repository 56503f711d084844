// Test harness: a real berthd on a private data root and socket, plus helpers to drive it with our CLI and with
// the real docker CLI. Everything lives under one temp dir that `stop()` removes.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { EngineClient } from '../../src/client/index.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
/** A program the build makes: the CLI's entry is CommonJS (dist/berth.cjs), the others ES modules. */
export const dist = (p: string) => join(repoRoot, 'dist', p === 'berth' ? 'berth.cjs' : `${p}.js`);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, feeding `input` to stdin; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd && { cwd: opts.cwd }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 + 9 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    child.stdin.end(opts.input);
  });
}

export interface Daemon {
  dir: string;
  dataRoot: string;
  host: string;
  client: EngineClient;
  /** Runs `berth …` against this daemon. */
  berth(args: string[], opts?: { input?: Buffer | string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], opts?: { input?: Buffer | string }): Promise<RunResult>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill9(): Promise<void>;
  /** Starts the daemon again on the same data root. */
  start(env?: NodeJS.ProcessEnv): Promise<void>;
  /** Stops it and removes everything it made. */
  destroy(): Promise<void>;
  logs(): string;
  pid(): number | undefined;
}

async function waitForPing(client: EngineClient, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`berthd exited with ${child.exitCode}:\n${logs()}`);
    try {
      const res = await client.raw('GET', '/_ping');
      res.resume();
      if (res.statusCode === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`berthd did not answer /_ping within 30s:\n${logs()}`);
}

/** The private parent cgroup of the test daemon living in `dir`. */
export function cgroupParentOf(dir: string): string {
  return `berth-test-${basename(dir)}`;
}

/** Removes a (by then empty) parent cgroup a test daemon was given, from every hierarchy. */
export async function removeCgroupParent(name: string): Promise<void> {
  for (const controller of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    await rmdir(join('/sys/fs/cgroup', controller, name)).catch(() => {});
  }
}

/**
 * `socketActivated`: berthd is started as systemd starts it (`-H fd://`), by `systemd-socket-activate` holding the
 * socket and launching berthd, in place, at the first connection.
 */
export async function startDaemon(env: NodeJS.ProcessEnv = {}, o: { socketActivated?: boolean } = {}): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-'));
  const dataRoot = join(dir, 'root');
  const sock = join(dir, 'berth.sock');
  const host = `unix://${sock}`;
  const client = new EngineClient(host);
  // A private parent cgroup per test daemon, removed with it.
  const cgroupParent = cgroupParentOf(dir);
  await writeFile(join(dir, 'daemon.json'), '{}');
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (extraEnv: NodeJS.ProcessEnv = {}) => {
    output = '';
    const args = ['--data-root', dataRoot, '--exec-root', join(dir, 'run'), '--config-file', join(dir, 'daemon.json'), '--log-level', 'debug', '--cgroup-parent', cgroupParent, '--bridge', bridgeOf(dir)];
    const [cmd, argv] = o.socketActivated
      ? ['systemd-socket-activate', ['-l', sock, process.execPath, dist('berthd'), '-H', 'fd://', ...args]]
      : [process.execPath, [dist('berthd'), '-H', host, ...args]];
    const c = spawn(cmd, argv, {
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child = c;
    await waitForPing(client, c, () => output);
  };
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const stop = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill('SIGTERM');
    await exited(c);
  };
  const kill9 = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
  };
  const runBerth = (args: string[]) => run(process.execPath, [dist('berth'), ...args], { env: { BERTH_HOST: host } });
  await start();
  return {
    dir,
    dataRoot,
    host,
    client,
    berth: (args, opts = {}) => run(process.execPath, [dist('berth'), ...args], { env: { BERTH_HOST: host, ...opts.env }, ...(opts.input !== undefined && { input: opts.input }) }),
    docker: (args, opts = {}) => run('docker', args, { env: { DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'docker-config') }, ...(opts.input !== undefined && { input: opts.input }) }),
    stop,
    kill9,
    start,
    async destroy() {
      // Containers first, while the daemon can still remove them (their monitors, mounts and cgroups go too).
      if (child) {
        const ids = (await runBerth(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
        if (ids.length) await runBerth(['rm', '-f', ...ids]);
      }
      await stop();
      await forceCleanup(dir);
      await rm(dir, { recursive: true, force: true });
    },
    logs: () => output,
    pid: () => child?.pid,
  };
}

/**
 * The default bridge of the test daemon living in `dir` (its own, so that test daemons and a daemon serving this
 * host never share a bridge, an nftables table or namespace names).
 */
export function bridgeOf(dir: string): string {
  return `bt${basename(dir).slice(-6)}`;
}

/** What a daemon made for containers under its directory: mounts, monitors, runtime states, cgroups, namespaces. */
interface Held {
  netns: string[];
  mounts: string[];
  conmonPids: number[];
  /** Runtime state roots and the container IDs in each. */
  states: Array<{ runtime: string; root: string; id: string }>;
  cgroups: string[];
}

async function held(dir: string): Promise<Held> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((t): t is string => !!t && t.startsWith(dir + '/'));
  const conmonPids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if ((cmd.startsWith('conmon') || cmd.includes('/conmon\0')) && cmd.includes(dir)) conmonPids.push(Number(p));
  }
  const states: Held['states'] = [];
  // A daemon's runtime roots, and the one the runtime test uses.
  const roots = [...['runc', 'crun'].map((r) => join(dir, 'run', 'runtime', r)), join(dir, 'runc')];
  for (const root of roots) {
    for (const id of await readdir(root).catch(() => [] as string[])) states.push({ runtime: basename(root), root, id });
  }
  const cgroups: string[] = [];
  for (const controller of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const parent = join('/sys/fs/cgroup', controller, cgroupParentOf(dir));
    for (const e of await readdir(parent, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) cgroups.push(join(parent, e.name));
  }
  const netns = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(`berth-${bridgeOf(dir)}-`));
  return { netns, mounts, conmonPids, states, cgroups };
}

/** The bridges of a stopped test daemon's networks (from its records), its nftables table and its name server. */
async function networkLeftovers(dir: string): Promise<{ bridges: string[]; table: string; aardvarkPid?: number }> {
  const recordsDir = join(dir, 'root', 'metadata', 'networks');
  const bridges = [bridgeOf(dir)];
  for (const f of await readdir(recordsDir).catch(() => [] as string[])) {
    const rec = JSON.parse(await readFile(join(recordsDir, f), 'utf8').catch(() => '{}')) as { bridge?: string };
    if (rec.bridge && !bridges.includes(rec.bridge)) bridges.push(rec.bridge);
  }
  const pid = Number((await readFile(join(dir, 'run', 'network', 'aardvark-dns', 'aardvark.pid'), 'utf8').catch(() => '')).trim());
  return { bridges, table: `berth-${bridgeOf(dir)}`, ...(pid > 0 && { aardvarkPid: pid }) };
}

/** Removes, with the daemon stopped, whatever a failed test left: containers' processes, states, mounts, cgroups. */
export async function forceCleanup(dir: string): Promise<void> {
  const h = await held(dir);
  for (const s of h.states) await run(s.runtime, [`--root=${s.root}`, 'delete', '--force', s.id]);
  for (const pid of h.conmonPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const t of h.mounts.reverse()) await run('umount', ['-l', t]);
  for (const c of h.cgroups) await rmdir(c).catch(() => {});
  await removeCgroupParent(cgroupParentOf(dir));
  for (const ns of h.netns) await run('ip', ['netns', 'del', ns]);
  const net = await networkLeftovers(dir);
  for (const b of net.bridges) await run('ip', ['link', 'del', b]);
  await run('nft', ['delete', 'table', 'ip', net.table]);
  if (net.aardvarkPid) {
    try {
      process.kill(net.aardvarkPid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Mounts, conmon processes, runtime states and cgroups a daemon holds for containers under its directory. */
export async function leftovers(d: Daemon): Promise<string[]> {
  const h = await held(d.dir);
  return [...h.netns.map((n) => `netns ${n}`), ...h.mounts.map((m) => `mount ${m}`), ...h.conmonPids.map((p) => `conmon pid ${p}`), ...h.states.map((s) => `${s.runtime} state ${s.id}`), ...h.cgroups.map((c) => `cgroup ${c}`)];
}

/** Container directories under the data root and the exec root. */
export async function containerDirs(d: Daemon): Promise<string[]> {
  const dirs: string[] = [];
  for (const root of [join(d.dataRoot, 'containers'), join(d.dir, 'run', 'containers')]) {
    dirs.push(...(await readdir(root).catch(() => [] as string[])).map((id) => join(root, id)));
  }
  return dirs;
}

export async function waitForNoLeftovers(d: Daemon): Promise<void> {
  // conmon lingers a moment after its container exits.
  for (let i = 0; i < 100 && (await leftovers(d)).length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await leftovers(d), []);
}
