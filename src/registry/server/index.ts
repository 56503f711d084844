import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openContentStore } from '../../content/index.js';
import { type Logger, createLogger } from '../../util/logger.js';
import { Authenticator } from './auth.js';
import { type AuthConfig, ConfigError } from './config.js';
import { type GcResult, GcGuard, collectGarbage } from './gc.js';
import { createHandler } from './handlers.js';
import { RegistryStorage } from './storage.js';
import { UploadStore } from './uploads.js';

export interface RegistryOptions {
  /** `host:port`, `:port` (every interface), `[v6]:port` or a bare port (loopback). Port 0 picks a free one. */
  addr: string;
  root: string;
  /** Upload sessions idle longer than this are removed (default 24 h). */
  uploadTtlMs?: number;
  log?: Logger;
  /** Absent: no authentication at all (the registry trusts its network). */
  auth?: AuthConfig;
  /** PEM files: serve HTTPS. */
  tls?: { certificate: string; key: string };
  /** Online garbage collection: every `intervalMs` when non-zero, and whenever `collectGarbage` is called. */
  gc?: { intervalMs: number; graceMs: number; deleteUntagged: boolean };
}

export interface RunningRegistry {
  host: string;
  port: number;
  /** Runs a garbage collection now, while serving (see gc.ts for why that is safe). */
  collectGarbage(opts?: { dryRun?: boolean; deleteUntagged?: boolean }): Promise<GcResult>;
  close(): Promise<void>;
}

const hour = 60 * 60 * 1000;

export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr) ?? /^()()(\d+)$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(addr)} (want HOST:PORT)`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? (addr.startsWith(':') ? '0.0.0.0' : '127.0.0.1') : host, port };
}

/**
 * berth-registry: an OCI distribution registry over a filesystem root.
 *
 *   <root>/content/        one content-addressed blob store for every repository (layers, configs, manifests)
 *   <root>/repositories/   per-repository links and tags (storage.ts)
 *   <root>/uploads/        blob upload sessions (uploads.ts)
 *
 * Start-up first removes what a crash left: content-store ingests (never visible blobs) and stale sessions.
 */
export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const log = opts.log ?? createLogger('info', { component: 'berth-registry' });
  const { host, port } = parseAddr(opts.addr);
  // Everything that can be wrong with the configuration is found before anything is written or bound.
  const auth = opts.auth ? await Authenticator.create(opts.auth, opts.root, opts.tls !== undefined, log) : undefined;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tls) {
    const read = (what: string, path: string) =>
      readFile(path).catch((e: unknown) => {
        throw new ConfigError(`cannot read TLS ${what} ${path}: ${(e as Error).message}`);
      });
    tls = { cert: await read('certificate', opts.tls.certificate), key: await read('key', opts.tls.key) };
  }
  const content = await openContentStore(join(opts.root, 'content'));
  const storage = new RegistryStorage(opts.root, content);
  const uploads = new UploadStore(opts.root, content);
  await storage.init();
  await uploads.init();
  const ttl = opts.uploadTtlMs ?? 24 * hour;
  const ingests = await content.reclaimIngests();
  const stale = await uploads.reclaim(ttl);
  if (ingests || stale) log.info('reclaimed leftovers', { ingests, uploads: stale });
  const sweep = setInterval(() => {
    uploads.reclaim(ttl).catch((e: unknown) => log.warn('reclaiming stale uploads failed', { error: e instanceof Error ? e : String(e) }));
  }, Math.min(ttl, hour));
  sweep.unref();

  const guard = new GcGuard();
  const gcOpts = opts.gc ?? { intervalMs: 0, graceMs: hour, deleteUntagged: false };
  const runGc = async (o: { dryRun?: boolean; deleteUntagged?: boolean } = {}) => {
    const started = Date.now();
    const r = await collectGarbage(storage, content, { graceMs: gcOpts.graceMs, deleteUntagged: o.deleteUntagged ?? gcOpts.deleteUntagged, dryRun: o.dryRun ?? false, log }, guard);
    log.info('garbage collection done', { blobs: r.blobsDeleted.length, bytes: r.bytesFreed, manifests: r.manifestsDeleted.length, links: r.linksDeleted.length, kept: r.kept, ms: Date.now() - started });
    return r;
  };
  const gcTimer = gcOpts.intervalMs > 0 ? setInterval(() => void runGc().catch((e: unknown) => log.error('garbage collection failed', { error: e instanceof Error ? e : String(e) })), gcOpts.intervalMs) : undefined;
  gcTimer?.unref();

  const serverOptions = {
    // A large layer over a slow link may take longer than Node's default 5-minute request timeout.
    requestTimeout: 0,
    headersTimeout: 60_000,
    keepAliveTimeout: 65_000,
  };
  const handler = createHandler({ content, storage, uploads, log, guard, ...(auth ? { auth } : {}) });
  let server: Server;
  try {
    server = tls ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, handler) : createServer(serverOptions, handler);
  } catch (e) {
    // A bad certificate or key (or a pair that does not match) shows when the TLS context is built: here.
    throw new ConfigError(`TLS certificate ${opts.tls?.certificate} and key ${opts.tls?.key}: ${(e as Error).message}`);
  }
  server.on('clientError', (_err, socket) => socket.destroy());
  // A TLS handshake that fails (a client not trusting the certificate) is the client's problem, not a crash.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error('server error', { error: e }));
  const bound = server.address() as AddressInfo;
  return {
    host: bound.address,
    port: bound.port,
    collectGarbage: runGc,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        if (gcTimer) clearInterval(gcTimer);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/**
 * `berth-registry garbage-collect`: a collection from another process. It cannot see the server's requests, so
 * only the grace period protects pushes in flight; on a live registry prefer the server's own run (SIGUSR1).
 * Nothing is reclaimed at start here: an ingest in progress belongs to the live server.
 */
export async function garbageCollect(root: string, opts: { dryRun?: boolean; deleteUntagged?: boolean; graceMs: number; log?: Logger }): Promise<GcResult> {
  const content = await openContentStore(join(root, 'content'));
  const storage = new RegistryStorage(root, content);
  return collectGarbage(storage, content, { ...opts, log: opts.log ?? createLogger('warn', { component: 'berth-registry' }) });
}

export { ConfigError, loadConfig, type RegistryConfig } from './config.js';
export type { GcResult } from './gc.js';
