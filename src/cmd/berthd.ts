// berthd: the composition root of the daemon. Reads flags and daemon.json, takes the data-root lock, builds the
// stores → services → API server, and handles signals. The only place that constructs implementations.
import { Command } from 'commander';
import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { createApiServer } from '../api/server.js';
import { openContentStore } from '../content/index.js';
import { isNotExist } from '../errors/index.js';
import { removeEmptyCgroup } from '../kernel/cgroups.js';
import { hostFacts, which } from '../kernel/host.js';
import { lockDataRoot } from '../kernel/lock.js';
import { useLauncher } from '../kernel/launcher.js';
import { ensureDir, removeAll } from '../kernel/fs.js';
import { openLayerStore } from '../layers/index.js';
import { openImageMetadata } from '../metadata/index.js';
import { openRecordStore } from '../metadata/records.js';
import { CliRuntime, ConmonMonitor, defaultSeccompProfilePath, loadSeccompProfile, probeRuntimes } from '../runtime/index.js';
import { ContainerService, type ContainerRecord, NetworkService, type NetworkRecord, VolumeService, type VolumeRecord, defaultScope, volumeReferences, EventBus, containerReferences, ExecService, HealthMonitor, BuildService, ImageService, DistributionMetadata, ImagePuller, ImagePusher, SystemService, berthVersion, ensureBusyboxImage } from '../services/index.js';
import { registryServiceConfig, validateMirror } from '../registry/client/index.js';
import { newId } from '../util/ids.js';
import { currentRequest } from '../util/request-context.js';
import { type LogLevel, type Logger, createLogger, isLogLevel } from '../util/logger.js';

interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: LogLevel;
  runtimes: Record<string, { path: string }>;
  defaultRuntime?: string;
  cgroupParent: string;
  /** The default bridge's device (`-b`; another daemon on the host takes another) and `--bip`. */
  bridge: string;
  bip?: string;
  /** daemon.json's `insecure-registries`: reached over plain HTTP (loopback registries always are). */
  insecureRegistries: string[];
  /** `--registry-mirror` or daemon.json's `registry-mirrors`: docker.io's mirrors, validated, each ending in `/`. */
  registryMirrors: string[];
  /** daemon.json's `max-concurrent-downloads` (dockerd's default 3). */
  maxConcurrentDownloads: number;
  /** daemon.json's `max-concurrent-uploads` (dockerd's default 5). */
  maxConcurrentUploads: number;
}

const defaults = { dataRoot: '/var/lib/berth', execRoot: '/run/berth', configFile: '/etc/berth/daemon.json' };

async function readConfigFile(path: string, explicit: boolean): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if (isNotExist(e) && !explicit) return {};
    throw new Error(`unable to configure the Berth daemon with file ${path}: ${(e as Error).message}`);
  }
}

async function parseConfig(argv: string[]): Promise<DaemonConfig> {
  const program = new Command('berthd')
    .description('Berth daemon: serves the Docker Engine API')
    .version(berthVersion, '-v, --version')
    .option('-H, --host <socket>', 'daemon socket(s) to listen on (unix:///path, tcp://127.0.0.1:PORT, or fd:// for sockets passed by systemd)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--data-root <dir>', `root of persistent state (default ${defaults.dataRoot})`)
    .option('--exec-root <dir>', `root of runtime state (default ${defaults.execRoot})`)
    .option('-p, --pidfile <file>', 'path to the daemon PID file (default <exec-root>/berthd.pid)')
    .option('--config-file <file>', 'daemon configuration file', defaults.configFile)
    .option('-l, --log-level <level>', 'debug, info, warn, error or fatal')
    .option('--cgroup-parent <name>', 'parent cgroup for all containers (default berth)')
    .option('-b, --bridge <name>', 'device of the default bridge network (default berth0)')
    .option('--bip <cidr>', "the default bridge's address and prefix, e.g. 172.20.0.1/16 (default: a free /16)")
    .option('--registry-mirror <url>', 'preferred registry mirror (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .parse(argv);
  const o = program.opts<{ host: string[]; dataRoot?: string; execRoot?: string; pidfile?: string; configFile: string; logLevel?: string; cgroupParent?: string; bridge?: string; bip?: string; registryMirror: string[] }>();
  const file = await readConfigFile(o.configFile, program.getOptionValueSource('configFile') === 'cli');
  const str = (k: string) => (typeof file[k] === 'string' ? (file[k] as string) : undefined);
  const execRoot = resolve(o.execRoot ?? str('exec-root') ?? defaults.execRoot);
  const logLevel = o.logLevel ?? str('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) throw new Error(`invalid log level: ${logLevel}`);
  const hosts = o.host.length ? o.host : Array.isArray(file['hosts']) ? (file['hosts'] as string[]) : [`unix://${join(execRoot, 'berth.sock')}`];
  const strings = (k: string) => (Array.isArray(file[k]) ? (file[k] as unknown[]).filter((r): r is string => typeof r === 'string') : []);
  if (o.registryMirror.length && file['registry-mirrors'] !== undefined) {
    throw new Error('the following directives are specified both as a flag and in the configuration file: registry-mirrors');
  }
  return {
    hosts,
    dataRoot: resolve(o.dataRoot ?? str('data-root') ?? defaults.dataRoot),
    execRoot,
    pidfile: resolve(o.pidfile ?? str('pidfile') ?? join(execRoot, 'berthd.pid')),
    logLevel,
    runtimes: (file['runtimes'] as DaemonConfig['runtimes'] | undefined) ?? {},
    ...(str('default-runtime') && { defaultRuntime: str('default-runtime') }),
    cgroupParent: (o.cgroupParent ?? str('cgroup-parent') ?? 'berth').replace(/^\/+|\/+$/g, ''),
    bridge: o.bridge ?? str('bridge') ?? defaultScope.bridge,
    ...((o.bip ?? str('bip')) && { bip: o.bip ?? str('bip') }),
    insecureRegistries: strings('insecure-registries'),
    registryMirrors: (o.registryMirror.length ? o.registryMirror : strings('registry-mirrors')).map(validateMirror),
    maxConcurrentDownloads: typeof file['max-concurrent-downloads'] === 'number' && file['max-concurrent-downloads'] > 0 ? file['max-concurrent-downloads'] : 3,
    maxConcurrentUploads: typeof file['max-concurrent-uploads'] === 'number' && file['max-concurrent-uploads'] > 0 ? file['max-concurrent-uploads'] : 5,
  };
}

/** The default daemon's names, or, for another bridge (another daemon on this host), names derived from it. */
function networkScope(bridge: string): typeof defaultScope {
  if (bridge === defaultScope.bridge) return defaultScope;
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`invalid bridge name: ${bridge}`);
  return { bridge, table: `berth-${bridge}`, netnsPrefix: `berth-${bridge}-` };
}

async function listen(server: Server, host: string): Promise<() => Promise<void>> {
  const url = new URL(host);
  if (url.protocol === 'unix:') {
    const path = url.pathname;
    await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
    await unlink(path).catch(() => {}); // a socket left by a killed daemon; the data-root lock proves it is dead
    await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
    await chmod(path, 0o660); // root (and root's group) only, like docker.sock without a docker group
    return async () => unlink(path).catch(() => {});
  }
  if (url.protocol === 'tcp:') {
    await new Promise<void>((res, rej) => server.once('error', rej).listen(Number(url.port), url.hostname, () => res()));
    return async () => {};
  }
  if (url.protocol === 'fd:') {
    // A socket systemd (or another supervisor) opened and passed: it stays theirs to remove.
    await new Promise<void>((res, rej) => server.once('error', rej).listen({ fd: Number(url.hostname) }, () => res()));
    return async () => {};
  }
  throw new Error(`unsupported host ${host}: use unix://, tcp:// or fd://`);
}

/**
 * `fd://` is every socket passed by socket activation (systemd's LISTEN_FDS, from fd 3 on), as dockerd reads it;
 * `fd://N` one of them. The variables are removed once read, so no child (conmon, a container) inherits them.
 */
function expandHosts(hosts: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const passed = Number(env['LISTEN_PID']) === process.pid ? Number(env['LISTEN_FDS'] ?? 0) : 0;
  for (const k of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete env[k];
  return hosts.flatMap((host) => {
    if (!host.startsWith('fd://')) return [host];
    const fds = Array.from({ length: passed }, (_, i) => 3 + i);
    const wanted = host === 'fd://' ? fds : [Number(host.slice('fd://'.length))];
    for (const fd of wanted) if (!fds.includes(fd)) throw new Error(`${host}: no such socket was passed (LISTEN_FDS=${passed}); -H fd:// needs socket activation, as systemd's berthd.socket gives`);
    if (wanted.length === 0) throw new Error(`${host}: no socket was passed; -H fd:// needs socket activation, as systemd's berthd.socket gives`);
    return wanted.map((fd) => `fd://${fd}`);
  });
}

/**
 * The runtimes berthd offers: runc and crun when installed, plus daemon.json's `runtimes`. Each is probed by
 * running a container; the default is daemon.json's `default-runtime`, else the fastest one that works.
 */
async function chooseRuntimes(cfg: DaemonConfig, cgroupVersion: '1' | '2', log: Logger) {
  const candidates: Array<{ name: string; path: string }> = [];
  for (const name of ['runc', 'crun']) {
    const path = await which(name);
    if (path) candidates.push({ name, path });
  }
  for (const [name, r] of Object.entries(cfg.runtimes)) candidates.push({ name, path: r.path });
  const busybox = (await which('busybox')) ?? '/bin/busybox';
  const probes = await probeRuntimes(candidates, { dir: join(cfg.execRoot, 'probe'), busybox, cgroupParent: cfg.cgroupParent, cgroupVersion });
  const warnings: string[] = [];
  const runtimes: Record<string, { path: string; status: Record<string, string> }> = {};
  for (const p of probes) {
    runtimes[p.name] = { path: p.path, status: { usable: String(p.ok), ...(p.ok ? { 'probe-ms': p.ms.toFixed(1) } : { error: p.error ?? '' }) } };
    if (!p.ok) warnings.push(`WARNING: runtime ${p.name} cannot run containers on this host: ${p.error}`);
  }
  const fastest = probes.filter((p) => p.ok).sort((a, b) => a.ms - b.ms)[0];
  const defaultRuntime = cfg.defaultRuntime ?? fastest?.name ?? 'runc';
  log.info('runtimes probed', { default: defaultRuntime, ...Object.fromEntries(probes.map((p) => [p.name, p.ok ? `${p.ms.toFixed(0)}ms` : 'unusable'])) });
  return { runtimes, defaultRuntime, warnings };
}

async function main(): Promise<void> {
  const cfg = await parseConfig(process.argv);
  const log = createLogger(cfg.logLevel, { component: 'berthd' });
  keepServing(log);
  const hosts = expandHosts(cfg.hosts); // first: no child process may inherit socket activation's variables
  await ensureDir(cfg.dataRoot, 0o711);
  await ensureDir(cfg.execRoot, 0o700);
  const lock = await lockDataRoot(cfg.dataRoot);
  const launcherDir = join(cfg.execRoot, 'launcher');
  await removeAll(launcherDir);
  await ensureDir(launcherDir, 0o700);
  useLauncher(launcherDir);

  const content = await openContentStore(join(cfg.dataRoot, 'content'));
  const layers = await openLayerStore(join(cfg.dataRoot, 'overlay2'));
  const meta = await openImageMetadata(join(cfg.dataRoot, 'metadata'));
  const containerRecords = await openRecordStore<ContainerRecord>(join(cfg.dataRoot, 'metadata', 'containers'));
  const events = new EventBus();
  const images = new ImageService({ content, layers, meta, events, log: log.child({ service: 'images' }), containers: containerReferences(containerRecords) });
  // Every store is open: the garbage collector sees every container's layers as roots.
  const recovered = await images.recover();
  if (Object.values(recovered).some((n) => n > 0)) log.info('recovered store after unclean stop', { ...recovered });

  const tmp = join(cfg.dataRoot, 'tmp');
  await ensureDir(tmp);
  const made = await ensureBusyboxImage(images, tmp).catch((e: unknown) => {
    log.warn('could not make the bundled busybox image', { error: e });
    return undefined;
  });
  if (made) log.info('made bundled base image busybox:latest', { id: made });

  const host = await hostFacts();
  const { runtimes, defaultRuntime, warnings } = await chooseRuntimes(cfg, host.cgroupVersion, log);
  const seccompProfile = await loadSeccompProfile(defaultSeccompProfilePath).catch((e: unknown) => {
    warnings.push(`WARNING: no default seccomp profile: ${(e as Error).message}`);
    return undefined;
  });
  const initPath = await which('tini-static');
  // conmon's scratch (console sockets of TTY containers): what a killed conmon left is swept here.
  const conmonTmp = join(cfg.execRoot, 'conmon');
  await removeAll(conmonTmp);
  await ensureDir(conmonTmp);
  const monitor = new ConmonMonitor((await which('conmon')) ?? 'conmon', conmonTmp);
  const networks = new NetworkService({
    records: await openRecordStore<NetworkRecord>(join(cfg.dataRoot, 'metadata', 'networks')),
    log: log.child({ service: 'networks' }),
    events,
    runRoot: join(cfg.execRoot, 'network'),
    aardvarkPath: (await which('aardvark-dns')) ?? '/usr/lib/podman/aardvark-dns',
    ...(cfg.bip && { bip: cfg.bip }),
    scope: networkScope(cfg.bridge),
  });
  await networks.init();
  const volumes = new VolumeService({
    records: await openRecordStore<VolumeRecord>(join(cfg.dataRoot, 'metadata', 'volumes')),
    root: join(cfg.dataRoot, 'volumes'),
    events,
    log: log.child({ service: 'volumes' }),
    references: volumeReferences(containerRecords),
  });
  await volumes.recover();
  const containers = new ContainerService({
    images,
    networks,
    volumes,
    layers,
    records: containerRecords,
    runtimes: new Map(Object.entries(runtimes).map(([name, r]) => [name, new CliRuntime(name, r.path, join(cfg.execRoot, 'runtime', name))])),
    defaultRuntime,
    monitor,
    host,
    defaultSeccomp: async () => seccompProfile,
    ...(initPath && { initPath }),
    events,
    log: log.child({ service: 'containers' }),
    paths: { dataRoot: join(cfg.dataRoot, 'containers'), execRoot: join(cfg.execRoot, 'containers'), initLayers: join(cfg.dataRoot, 'init') },
    cgroupVersion: host.cgroupVersion,
    cgroupParent: cfg.cgroupParent,
  });
  await containers.recover();
  await networks.recovered();
  const exec = new ExecService(containers, monitor);
  // Which registry blob each layer is, from pulls and pushes (dockerd's v2metadata).
  const known = await DistributionMetadata.open(join(cfg.dataRoot, 'metadata', 'distribution.json'));
  const pull = new ImagePuller(images, known, { insecureRegistries: cfg.insecureRegistries, mirrors: cfg.registryMirrors, concurrency: cfg.maxConcurrentDownloads, log: log.child({ service: 'pull' }) });
  const push = new ImagePusher(images, known, { insecureRegistries: cfg.insecureRegistries, concurrency: cfg.maxConcurrentUploads, log: log.child({ service: 'push' }) });
  const build = new BuildService({ containers, images, layers, pull, workDir: join(cfg.dataRoot, 'builder'), log: log.child({ service: 'build' }) });
  await build.recover();
  new HealthMonitor(containers, exec, events, log.child({ service: 'health' })).resume();
  const daemonIdFile = join(cfg.dataRoot, 'engine-id');
  const daemonId = (await readFile(daemonIdFile, 'utf8').catch(() => '')).trim() || newId();
  await writeFile(daemonIdFile, daemonId);
  const system = new SystemService(host, {
    dataRoot: cfg.dataRoot,
    execRoot: cfg.execRoot,
    daemonId,
    runtimes,
    defaultRuntime,
    ...(initPath && { initBinary: initPath }),
    securityOptions: seccompProfile ? ['name=seccomp,profile=builtin'] : [],
    warnings,
    logLevel: cfg.logLevel,
    startedAt: new Date(),
    registry: registryServiceConfig(cfg.insecureRegistries, cfg.registryMirrors),
  }, images, containers, volumes, build);

  const servers: Array<{ server: Server; cleanup: () => Promise<void> }> = [];
  for (const host of hosts) {
    const server = createApiServer({ images, pull, push, build, containers, networks, volumes, exec, system, events }, log.child({ component: 'api' }));
    servers.push({ server, cleanup: await listen(server, host) });
  }
  await writeFile(cfg.pidfile, `${process.pid}\n`);
  log.info('berthd started', { version: berthVersion, hosts: cfg.hosts, dataRoot: cfg.dataRoot, pid: process.pid });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    for (const { server, cleanup } of servers) {
      server.close();
      server.closeAllConnections();
      await cleanup();
    }
    // What berthd made in the kernel and no container uses goes with it (what running containers use stays).
    await networks.shutdown().catch((error: unknown) => log.warn('networks not taken down', { error }));
    await removeEmptyCgroup(cfg.cgroupParent);
    await unlink(cfg.pidfile).catch(() => {});
    await lock.release();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Errors of a peer that went away: one client's connection is lost, nothing else. */
const peerGone = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/**
 * The last resort, for an error that escaped every handler (each socket, stream, child and background task has
 * its own; see docs/architecture.md): it is logged with its stack and the request it came from. A rejected
 * promise or a peer's hang-up leaves the daemon's state as it was, so berthd keeps serving. Any other exception
 * may have left memory half-updated: berthd exits with 70 (EX_SOFTWARE) and its supervisor (systemd's
 * Restart=always, or the next `up.sh`) starts it again; everything on disk is crash-safe and running containers
 * are re-adopted, as after kill -9.
 */
function keepServing(log: Logger): void {
  process.on('unhandledRejection', (error) => log.error('unhandled rejection (a bug: kept serving)', { error, request: currentRequest() }));
  process.on('uncaughtException', (error) => {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (peerGone.has(code)) {
      log.error('unhandled connection error (a bug: kept serving)', { error, request: currentRequest() });
      return;
    }
    log.error('uncaught exception: exiting to restart clean', { error, request: currentRequest() });
    process.exit(70);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`berthd: ${(e as Error).message}\n`);
  process.exit(1);
});
