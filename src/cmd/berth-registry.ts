// berth-registry: composition root of the OCI distribution registry server.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { ConfigError, type GcResult, type RegistryConfig, garbageCollect, loadConfig, startRegistry } from '../registry/server/index.js';
import { createLogger, isLogLevel } from '../util/logger.js';

interface ServeOptions {
  addr?: string;
  root?: string;
  logLevel?: string;
  config?: string;
}

const defaults = { addr: '127.0.0.1:5000', root: '/var/lib/berth-registry', logLevel: 'info' } as const;

async function serve(o: ServeOptions): Promise<void> {
  const cfg: RegistryConfig = o.config ? await loadConfig(o.config) : { gc: { intervalSec: 0, graceSec: 3600, deleteUntagged: false } };
  // Flags win over the file, the file over the defaults.
  const level = o.logLevel ?? cfg.logLevel ?? defaults.logLevel;
  if (!isLogLevel(level)) throw new ConfigError(`invalid log level ${JSON.stringify(level)}`);
  const log = createLogger(level, { component: 'berth-registry' });
  const reg = await startRegistry({
    addr: o.addr ?? cfg.addr ?? defaults.addr,
    root: o.root ?? cfg.root ?? defaults.root,
    log,
    ...(cfg.auth ? { auth: cfg.auth } : {}),
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    gc: { intervalMs: cfg.gc.intervalSec * 1000, graceMs: cfg.gc.graceSec * 1000, deleteUntagged: cfg.gc.deleteUntagged },
  });
  // Tests and scripts read the bound port from this line (useful with port 0).
  process.stderr.write(`berth-registry listening on ${reg.host.includes(':') ? `[${reg.host}]` : reg.host}:${reg.port}${cfg.tls ? ' (TLS)' : ''}\n`);
  // SIGUSR1: collect garbage now, while serving.
  process.on('SIGUSR1', () => {
    reg.collectGarbage().catch((e: unknown) => log.error('garbage collection failed', { error: e instanceof Error ? e : String(e) }));
  });
  const stop = (signal: string) => {
    log.info('shutting down', { signal });
    reg.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    // Open uploads do not hold the exit: their sessions stay on disk for the client to resume.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

interface GcOptions {
  root?: string;
  config?: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  grace: string;
}

async function gc(o: GcOptions): Promise<void> {
  const cfg = o.config ? await loadConfig(o.config) : undefined;
  const root = o.root ?? cfg?.root;
  if (!root) throw new ConfigError('garbage-collect needs --root (or a --config naming root)');
  // Refuse a typo'd root instead of "collecting" an empty directory it would create.
  if (!existsSync(join(root, 'content')) || !existsSync(join(root, 'repositories'))) throw new ConfigError(`${root} is not a berth-registry root (no content/ or repositories/)`);
  const grace = Number(o.grace);
  if (!Number.isFinite(grace) || grace < 0) throw new ConfigError(`--grace: ${JSON.stringify(o.grace)} is not a number of seconds`);
  const r: GcResult = await garbageCollect(root, { dryRun: o.dryRun ?? false, deleteUntagged: o.deleteUntagged ?? cfg?.gc.deleteUntagged ?? false, graceMs: grace * 1000 });
  const verb = o.dryRun ? 'eligible for deletion' : 'deleted';
  const out: string[] = [];
  for (const m of r.manifestsDeleted) out.push(`manifest ${verb}: ${m.repository}@${m.digest}`);
  for (const l of r.linksDeleted) out.push(`blob link ${verb}: ${l.repository}@${l.digest}`);
  for (const b of r.blobsDeleted) out.push(`blob ${verb}: ${b}`);
  out.push(`${r.blobsDeleted.length} blobs (${r.bytesFreed} bytes) and ${r.manifestsDeleted.length} manifests ${verb}; ${r.kept} unreferenced blobs kept (younger than the grace period)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

const withServeOptions = (c: Command) =>
  c
    .option('-a, --addr <host:port>', `address to listen on (default: the config's addr, else ${defaults.addr})`)
    .option('--root <dir>', `storage root (default: the config's root, else ${defaults.root})`)
    .option('--log-level <level>', 'debug, info, warn, error or fatal (default: info)')
    .option('-c, --config <file>', 'YAML configuration file (flags override it)');

const fail = (e: unknown) => {
  process.stderr.write(`berth-registry: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
};

const program = new Command('berth-registry').description('OCI distribution registry server');
// `serve` is also the default, so the flags-only form of the first releases (`berth-registry --addr … --root …`) works.
withServeOptions(program.command('serve', { isDefault: true }).description('serve the registry API'))
  .action((o: ServeOptions) => serve(o).catch(fail));
program
  .command('garbage-collect')
  .description('delete blobs no repository references (and, with --delete-untagged, manifests no tag reaches)')
  .option('--root <dir>', 'storage root')
  .option('-c, --config <file>', 'take root (and gc.delete_untagged) from this configuration file')
  .option('-d, --dry-run', 'only print what would be deleted')
  .option('-m, --delete-untagged', 'also delete manifests that no tag references')
  .option('--grace <seconds>', 'keep anything written less than this long ago (pushes in flight on a live registry)', '3600')
  .action((o: GcOptions) => gc(o).catch(fail));
program.parse(process.argv);
