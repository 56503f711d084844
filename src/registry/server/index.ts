import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openContentStore } from '../../content/index.js';
import { type Logger, createLogger } from '../../util/logger.js';
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
}

export interface RunningRegistry {
  host: string;
  port: number;
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

  const server = createServer(
    {
      // A large layer over a slow link may take longer than Node's default 5-minute request timeout.
      requestTimeout: 0,
      headersTimeout: 60_000,
      keepAliveTimeout: 65_000,
    },
    createHandler({ content, storage, uploads, log }),
  );
  server.on('clientError', (_err, socket) => socket.destroy());
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
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
