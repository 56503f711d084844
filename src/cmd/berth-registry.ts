// berth-registry: composition root of the OCI distribution registry server.
import { Command } from 'commander';
import { startRegistry } from '../registry/server/index.js';

const program = new Command('berth-registry')
  .description('OCI distribution registry server')
  .option('-a, --addr <host:port>', 'address to listen on', '127.0.0.1:5000')
  .option('--root <dir>', 'storage root', '/var/lib/berth-registry')
  .parse(process.argv);
const o = program.opts<{ addr: string; root: string }>();
startRegistry({ addr: o.addr, root: o.root }).catch((e: unknown) => {
  process.stderr.write(`berth-registry: ${(e as Error).message}\n`);
  process.exit(1);
});
