// Registries and a reference engine for the registry tests, all on loopback and private directories:
// berth-registry (dist/), distribution 2.8 (Debian's docker-registry, never its packaged service) and a private
// dockerd 20.10 (its own containerd, vfs storage, no bridge, no iptables rules).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { dist, repoRoot, run, type RunResult } from './daemon.js';
import { type FileSpec, tarOf } from './images.js';

export const sha = (b: string | Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** The busybox image archive the benchmarks build offline (bench/savetar.mjs, untyped JavaScript). */
export async function busyboxArchive(): Promise<string> {
  const mod = (await import(join(repoRoot, 'bench', 'savetar.mjs'))) as { busyboxArchive: () => Promise<{ path: string }> };
  return (await mod.busyboxArchive()).path;
}

/** A layer with the host's static busybox and a few applets. */
export async function busyboxLayer(applets = ['sh', 'cat', 'echo', 'true']): Promise<Buffer> {
  const files: FileSpec[] = [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755 },
    ...applets.map((a): FileSpec => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 })),
  ];
  return tarOf(files);
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Stops a child: `signal`, then SIGKILL after `graceMs`; nothing if it already ended. */
export async function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface BerthRegistry {
  port: number;
  host: string;
  url: string;
  proc: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts `berth-registry <args>` (listening on port 0 or a given one); resolves once it printed the port it bound. */
export async function startBerthRegistry(args: string[]): Promise<BerthRegistry> {
  const proc = spawn(process.execPath, [dist('berth-registry'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth-registry did not start: ${log}`)), 15_000);
    proc.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /listening on .*:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth-registry exited (${code}): ${log}`));
    });
  }).catch(async (e: unknown) => {
    await stopProcess(proc);
    throw e;
  });
  return { port, host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, proc, logs: () => log, stop: () => stopProcess(proc) };
}

export interface Distribution {
  host: string;
  storage: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** distribution 2.8 on a free loopback port, its storage in `dir`, with htpasswd basic auth if given. */
export async function startDistribution(dir: string, o: { htpasswd?: string } = {}): Promise<Distribution> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const storage = join(dir, 'storage');
  const config = join(dir, 'config.yml');
  const auth = o.htpasswd ? ['auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${o.htpasswd}`] : [];
  await writeFile(config, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${storage}`, 'http:', `  addr: 127.0.0.1:${port}`, ...auth, ''].join('\n'));
  let child: ChildProcess | undefined;
  let output = '';
  const host = `127.0.0.1:${port}`;
  const reg: Distribution = {
    host,
    storage,
    async start() {
      const c = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      child = c;
      for (let i = 0; i < 200; i++) {
        if (c.exitCode !== null) throw new Error(`docker-registry exited: ${output}`);
        if (await fetch(`http://${host}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      await stopProcess(c);
      throw new Error(`docker-registry did not answer: ${output}`);
    },
    async stop() {
      const c = child;
      child = undefined;
      await stopProcess(c);
    },
  };
  await reg.start();
  return reg;
}

export interface ReferenceDockerd {
  /** The docker CLI against it, with a private client config (`docker login` writes there). */
  docker(args: string[], input?: string): Promise<RunResult>;
  log(): string;
  stop(): Promise<void>;
}

/** Debian's dockerd 20.10 in `dir`, trusting the given registries over plain HTTP. */
export async function startReferenceDockerd(dir: string, o: { insecureRegistries: string[] }): Promise<ReferenceDockerd> {
  await mkdir(join(dir, 'client'), { recursive: true });
  await writeFile(join(dir, 'containerd.toml'), 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
  await writeFile(join(dir, 'daemon.json'), '{}');
  const ctdSock = join(dir, 'containerd.sock');
  const containerd = spawn('containerd', ['--config', join(dir, 'containerd.toml'), '--address', ctdSock, '--root', join(dir, 'ctd-root'), '--state', join(dir, 'ctd-state')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(ctdSock); i++) await new Promise((r) => setTimeout(r, 100));
  const args = [`--containerd=${ctdSock}`, '-H', `unix://${join(dir, 'docker.sock')}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec')];
  args.push('--pidfile', join(dir, 'docker.pid'), '--config-file', join(dir, 'daemon.json'), '--storage-driver', 'vfs', '--bridge=none', '--iptables=false', '--ip-masq=false');
  for (const r of o.insecureRegistries) args.push('--insecure-registry', r);
  const dockerd = spawn('dockerd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  dockerd.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const ref: ReferenceDockerd = {
    docker: (a, input) =>
      run('/usr/local/bin/docker', ['-H', `unix://${join(dir, 'docker.sock')}`, ...a], { timeoutMs: 120_000, env: { DOCKER_CONFIG: join(dir, 'client') }, ...(input !== undefined ? { input } : {}) }),
    log: () => log,
    async stop() {
      await stopProcess(dockerd, 'SIGTERM');
      await stopProcess(containerd, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 150; i++) {
    if ((await ref.docker(['version', '--format', '{{.Server.Version}}'])).code === 0) return ref;
    await new Promise((r) => setTimeout(r, 200));
  }
  await ref.stop();
  assert.fail(`dockerd did not start: ${log.slice(-2000)}`);
}
