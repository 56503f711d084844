// berth-registry: composition root of the OCI distribution registry server.
import { Command } from 'commander';
import { startRegistry } from '../registry/server/index.js';
import { createLogger, isLogLevel } from '../util/logger.js';

interface ServeOptions {
  addr: string;
  root: string;
  logLevel: string;
}

async function serve(o: ServeOptions): Promise<void> {
  if (!isLogLevel(o.logLevel)) throw new Error(`invalid log level ${JSON.stringify(o.logLevel)}`);
  const log = createLogger(o.logLevel, { component: 'berth-registry' });
  const reg = await startRegistry({ addr: o.addr, root: o.root, log });
  // Tests and scripts read the bound port from this line (useful with port 0).
  process.stderr.write(`berth-registry listening on ${reg.host.includes(':') ? `[${reg.host}]` : reg.host}:${reg.port}\n`);
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

const withServeOptions = (c: Command) =>
  c
    .option('-a, --addr <host:port>', 'address to listen on', '127.0.0.1:5000')
    .option('--root <dir>', 'storage root', '/var/lib/berth-registry')
    .option('--log-level <level>', 'debug, info, warn, error or fatal', 'info');

const fail = (e: unknown) => {
  process.stderr.write(`berth-registry: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
};

const program = new Command('berth-registry').description('OCI distribution registry server');
// `serve` is also the default, so the flags-only form of the first releases (`berth-registry --addr … --root …`) works.
withServeOptions(program.command('serve', { isDefault: true }).description('serve the registry API'))
  .action((o: ServeOptions) => serve(o).catch(fail));
program.parse(process.argv);
